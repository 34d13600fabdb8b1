//! `consul services register|deregister`, as Consul 1.10's `command/services/*`: services
//! come from flags or from JSON or HCL service-definition files (`{"service": {...}}` and/or
//! `{"services": [...]}`), and go to `PUT /v1/agent/service/register` or
//! `PUT /v1/agent/service/deregister/<id>` on the local agent.
//!
//! File definitions are sent as written: the agent accepts snake_case as well as
//! PascalCase keys, so no translation is needed. HCL files go through the agent's own HCL
//! reader (`config::hcl`) first.

use std::path::Path;

use serde_json::{Map, Value};

use super::args::{Flag, Kind, Parsed};
use super::command::{self, flag, go_quote, HttpFlags, Subcommand};
use super::http::go_io_error;
use super::Ui;

const SERVICES_HELP: &str = r#"
Usage: consul services <subcommand> [options] [args]

  This command has subcommands for interacting with services. The subcommands
  default to working with services registered with the local agent. Please see
  the "consul catalog" command for interacting with the entire catalog.

  For more examples, ask for subcommand help or view the documentation.
"#;

const REGISTER_HELP: &str = r#"
Usage: consul services register [options] [FILE...]

  Register one or more services using the local agent API. Services can
  be registered from standard Consul configuration files (HCL or JSON) or
  using flags. The service is registered and the command returns. The caller
  must remember to call "consul services deregister" or a similar API to
  deregister the service when complete.

      $ consul services register web.json

  Additional flags and more advanced use cases are detailed below.
"#;

const DEREGISTER_HELP: &str = r#"
Usage: consul services deregister [options] [FILE...]

  Deregister one or more services that were previously registered with
  the local agent.

      $ consul services deregister web.json db.json

  The -id flag may be used to deregister a single service by ID:

      $ consul services deregister -id=web

  Services are deregistered from the local agent catalog. This command must
  be run against the same agent where the service was registered.
"#;

const REGISTER_FLAGS: &[Flag] = &[
    flag(
        "id",
        Kind::Str,
        "",
        "ID of the service to register for arg-based registration. If this \
         isn't set, it will default to the -name value.",
    ),
    flag(
        "name",
        Kind::Str,
        "",
        "Name of the service to register for arg-based registration.",
    ),
    flag(
        "address",
        Kind::Str,
        "",
        "Address of the service to register for arg-based registration.",
    ),
    flag(
        "port",
        Kind::Int,
        "0",
        "Port of the service to register for arg-based registration.",
    ),
    flag(
        "meta",
        Kind::Map,
        "",
        "Metadata to set on the service, formatted as key=value. This flag \
         may be specified multiple times to set multiple meta fields.",
    ),
    flag(
        "tag",
        Kind::List,
        "",
        "Tag to add to the service. This flag can be specified multiple \
         times to set multiple tags.",
    ),
    flag(
        "tagged-address",
        Kind::Map,
        "",
        "Tagged address to set on the service, formatted as key=value. This flag \
         may be specified multiple times to set multiple addresses.",
    ),
    flag("kind", Kind::Str, "", "The services 'kind'"),
];

const DEREGISTER_FLAGS: &[Flag] = &[flag(
    "id",
    Kind::Str,
    "",
    "ID to delete. This must not be set if arguments are given.",
)];

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "deregister",
        synopsis: "Deregister services with the local agent",
        run: run_deregister,
    },
    Subcommand {
        name: "register",
        synopsis: "Register services with the local agent",
        run: run_register,
    },
];

/// `consul services <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, SERVICES_HELP, SUBCOMMANDS, args)
}

fn run_register(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(REGISTER_FLAGS, HttpFlags::ClientAndServer);
    command::run_command(ui, REGISTER_HELP, &set, args, register)
}

fn run_deregister(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(DEREGISTER_FLAGS, HttpFlags::ClientAndServer);
    command::run_command(ui, DEREGISTER_HELP, &set, args, deregister)
}

/// A string field of a definition, whatever the case of its key (`name`, `Name`, `ID`).
fn field<'a>(service: &'a Map<String, Value>, key: &str) -> &'a str {
    service
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Go's `net.SplitHostPort` plus `strconv.Atoi`, as the API's `ParseServiceAddr`; the
/// error is Go's.
fn parse_service_addr(addr: &str) -> Result<(String, i64), String> {
    let fail = |why: &str| format!("address {addr}: {why}");
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(fail("missing ']' in address"));
        };
        match rest[end + 1..].strip_prefix(':') {
            Some(port) => (&rest[..end], port),
            None => return Err(fail("missing port in address")),
        }
    } else {
        let Some(i) = addr.rfind(':') else {
            return Err(fail("missing port in address"));
        };
        if addr[..i].contains(':') {
            return Err(fail("too many colons in address"));
        }
        (&addr[..i], &addr[i + 1..])
    };
    let port_num = port
        .parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(port)))?;
    Ok((host.to_string(), port_num))
}

/// The registration built from flags (the API's `AgentServiceRegistration`, empty
/// fields omitted).
fn service_from_flags(flags: &Parsed) -> Result<Map<String, Value>, String> {
    let mut svc = Map::new();
    let put_str = |svc: &mut Map<String, Value>, key: &str, flag: &str| {
        if let Some(v) = flags.string(flag).filter(|v| !v.is_empty()) {
            svc.insert(key.to_string(), Value::String(v.to_string()));
        }
    };
    put_str(&mut svc, "Kind", "kind");
    put_str(&mut svc, "ID", "id");
    put_str(&mut svc, "Name", "name");
    let tags = flags.list("tag");
    if !tags.is_empty() {
        svc.insert("Tags".into(), tags.iter().cloned().map(Value::String).collect());
    }
    let port = flags.int("port");
    if port != 0 {
        svc.insert("Port".into(), Value::from(port));
    }
    put_str(&mut svc, "Address", "address");
    let tagged = flags.map("tagged-address");
    if !tagged.is_empty() {
        let mut addrs = Map::new();
        for (k, v) in &tagged {
            let (address, port) =
                parse_service_addr(v).map_err(|e| format!("Invalid Tagged Address: {e}"))?;
            let mut entry = Map::new();
            entry.insert("Address".into(), Value::String(address));
            entry.insert("Port".into(), Value::from(port));
            addrs.insert(k.clone(), Value::Object(entry));
        }
        svc.insert("TaggedAddresses".into(), Value::Object(addrs));
    }
    let meta = flags.map("meta");
    if !meta.is_empty() {
        let meta = meta.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        svc.insert("Meta".into(), Value::Object(meta));
    }
    Ok(svc)
}

/// The service definitions in the given files (or directories of `.json`/`.hcl` files), in
/// order; within a file `services` entries come before `service`, as Consul's config
/// builder orders them. Skipped files produce Consul's warning on stderr.
fn services_from_files(ui: &mut Ui<'_>, paths: &[String]) -> Result<Vec<Map<String, Value>>, String> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("config: Open failed on {path}. open {path}: {}", go_io_error(&e)))?;
        if meta.is_dir() {
            let mut entries: Vec<String> = std::fs::read_dir(path)
                .map_err(|e| format!("config: Open failed on {path}. open {path}: {}", go_io_error(&e)))?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                .map(|e| e.path().to_string_lossy().into_owned())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.clone());
        }
    }

    let mut services = Vec::new();
    for file in files {
        let hcl = match Path::new(&file).extension().and_then(|e| e.to_str()) {
            Some("json") => false,
            Some("hcl") => true,
            _ => {
                ui.error(format!(
                    "skipping file {file}, extension must be .hcl or .json, or config format must be set"
                ));
                continue;
            }
        };
        let data = std::fs::read(&file)
            .map_err(|e| format!("config: Open failed on {file}. open {file}: {}", go_io_error(&e)))?;
        let parsed: Value = if hcl {
            // The agent's own HCL reader: the same file shapes as in -config-file.
            let text = String::from_utf8_lossy(&data);
            rconsul_compat::hcl::to_json(&text).map_err(|e| format!("failed to parse {file}: {e}"))?
        } else {
            serde_json::from_slice(&data).map_err(|e| format!("failed to parse {file}: {e}"))?
        };
        let Value::Object(top) = parsed else {
            return Err(format!("failed to parse {file}: the top level must be an object"));
        };
        for key in ["services", "service"] {
            let Some((_, value)) = top.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
                continue;
            };
            let list = match value {
                Value::Array(list) => list.clone(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            };
            for entry in list {
                match entry {
                    Value::Object(svc) => services.push(svc),
                    _ => return Err(format!("failed to parse {file}: '{key}' must hold objects")),
                }
            }
        }
    }
    Ok(services)
}

/// `consul services register`.
fn register(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let from_flags = match service_from_flags(flags) {
        Ok(svc) => svc,
        Err(e) => {
            ui.error(e);
            return 1;
        }
    };
    let name_flag = flags.string("name").unwrap_or_default();
    if flags.args.is_empty() && name_flag.is_empty() {
        ui.error("Service registration requires at least one argument or flags.");
        return 1;
    }
    if !flags.args.is_empty() && !name_flag.is_empty() {
        ui.error("Service registration requires arguments or -id, not both.");
        return 1;
    }
    let services = if flags.args.is_empty() {
        vec![from_flags]
    } else {
        match services_from_files(ui, &flags.args) {
            Ok(s) => s,
            Err(e) => {
                ui.error(format!("Error: {e}"));
                return 1;
            }
        }
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    for svc in services {
        let name = field(&svc, "name").to_string();
        let body = Value::Object(svc).to_string();
        if let Err(e) =
            command::require_ok(client.put("/v1/agent/service/register", Vec::new(), body.as_bytes()))
        {
            ui.error(format!("Error registering service {}: {e}", go_quote(&name)));
            return 1;
        }
        ui.info(format!("Registered service: {name}"));
    }
    0
}

/// `consul services deregister`.
fn deregister(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let id_flag = flags.string("id").unwrap_or_default();
    if flags.args.is_empty() && id_flag.is_empty() {
        ui.error("Service deregistration requires at least one argument or -id.");
        return 1;
    }
    if !flags.args.is_empty() && !id_flag.is_empty() {
        ui.error("Service deregistration requires arguments or -id, not both.");
        return 1;
    }
    let services = if flags.args.is_empty() {
        let mut svc = Map::new();
        svc.insert("ID".into(), Value::String(id_flag.to_string()));
        vec![svc]
    } else {
        match services_from_files(ui, &flags.args) {
            Ok(s) => s,
            Err(e) => {
                ui.error(format!("Error: {e}"));
                return 1;
            }
        }
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    for svc in services {
        let name = field(&svc, "name");
        let id = match field(&svc, "id") {
            "" => name,
            id => id,
        };
        if id.is_empty() {
            continue;
        }
        let path = format!("/v1/agent/service/deregister/{id}");
        if let Err(e) = command::require_ok(client.put(&path, Vec::new(), b"")) {
            ui.error(format!("Error deregistering service {}: {e}", go_quote(name)));
            return 1;
        }
        ui.info(format!("Deregistered service: {id}"));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    fn json(body: &[u8]) -> Value {
        serde_json::from_slice(body).expect("the request body is JSON")
    }

    #[test]
    fn register_from_flags() {
        let (o, seen) = against(
            &[(200, "")],
            &[
                "register",
                "-name=web",
                "-id",
                "web-1",
                "-address=10.0.0.1",
                "-port=8080",
                "-tag=v1",
                "-tag",
                "primary",
                "-meta",
                "version=1.0",
                "-tagged-address",
                "lan=10.0.0.1:80",
            ],
            run,
        );
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, "Registered service: web\n", "")
        );
        assert_eq!(seen[0].request_line, "PUT /v1/agent/service/register HTTP/1.1");
        assert_eq!(
            json(&seen[0].body),
            serde_json::json!({
                "ID": "web-1", "Name": "web", "Address": "10.0.0.1", "Port": 8080,
                "Tags": ["v1", "primary"], "Meta": {"version": "1.0"},
                "TaggedAddresses": {"lan": {"Address": "10.0.0.1", "Port": 80}}
            })
        );

        let (_, seen) = against(&[(200, "")], &["register", "-name=db"], run);
        assert_eq!(json(&seen[0].body), serde_json::json!({"Name": "db"}));
    }

    #[test]
    fn register_from_an_hcl_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("web.hcl");
        std::fs::write(
            &file,
            "service {\n  name = \"web\"\n  port = 80\n  tags = [\"v1\"]\n  check {\n    ttl = \"10s\"\n  }\n}\n",
        )
        .expect("write");
        let file = file.to_string_lossy().into_owned();
        let (o, seen) = against(&[(200, "")], &["register", &file], run);
        assert_eq!((o.code, o.stdout.as_str()), (0, "Registered service: web\n"));
        assert_eq!(
            json(&seen[0].body),
            serde_json::json!({"name": "web", "port": 80, "tags": ["v1"], "check": {"ttl": "10s"}})
        );
        std::fs::write(dir.path().join("bad.hcl"), "service {").expect("write");
        let bad = dir.path().join("bad.hcl").to_string_lossy().into_owned();
        let o = offline(&["register", &bad], run);
        assert_eq!(o.code, 1);
        assert!(o.stderr.contains("failed to parse"), "{}", o.stderr);
    }

    #[test]
    fn register_from_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = dir.path().join("web.json");
        std::fs::write(
            &one,
            r#"{"service": {"name": "web", "port": 80, "check": {"ttl": "10s"}},
                "services": [{"Name": "a", "Port": 1}, {"name": "b", "enable_tag_override": true}]}"#,
        )
        .expect("write");
        let one = one.to_string_lossy().into_owned();
        let (o, seen) = against(&[(200, ""), (200, ""), (200, "")], &["register", &one], run);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (
                0,
                "Registered service: a\nRegistered service: b\nRegistered service: web\n"
            )
        );
        assert_eq!(json(&seen[0].body), serde_json::json!({"Name": "a", "Port": 1}));
        assert_eq!(
            json(&seen[1].body),
            serde_json::json!({"name": "b", "enable_tag_override": true})
        );
        assert_eq!(
            json(&seen[2].body),
            serde_json::json!({"name": "web", "port": 80, "check": {"ttl": "10s"}})
        );

        // A directory: its .json files in name order; other files are skipped with a warning.
        std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
        let dir_arg = dir.path().to_string_lossy().into_owned();
        let (o, seen) = against(&[(200, ""), (200, ""), (200, "")], &["register", &dir_arg], run);
        assert_eq!(o.code, 0);
        assert_eq!(seen.len(), 3);
        assert!(
            o.stderr.contains("notes.txt, extension must be .hcl or .json"),
            "{}",
            o.stderr
        );
    }

    #[test]
    fn register_errors() {
        let o = offline(&["register"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Service registration requires at least one argument or flags.\n"
            )
        );
        let o = offline(&["register", "-name=x", "f.json"], run);
        assert_eq!(
            o.stderr,
            "Service registration requires arguments or -id, not both.\n"
        );
        let o = offline(&["register", "/nonexistent/web.json"], run);
        assert_eq!(
            o.stderr,
            "Error: config: Open failed on /nonexistent/web.json. open /nonexistent/web.json: \
             no such file or directory\n"
        );
        let o = offline(&["register", "-name=x", "-tagged-address", "lan=10.0.0.1"], run);
        assert_eq!(
            o.stderr,
            "Invalid Tagged Address: address 10.0.0.1: missing port in address\n"
        );
        let o = offline(&["register", "-name=x", "-port=http"], run);
        assert!(o
            .stderr
            .starts_with("invalid value \"http\" for flag -port: parse error\nUsage:\n"));
        assert!(o.stderr.contains("\n  -port int\n"), "{}", o.stderr);
        assert!(o.stderr.contains("\n  -tag value\n"), "{}", o.stderr);

        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").expect("write");
        let bad = bad.to_string_lossy().into_owned();
        let o = offline(&["register", &bad], run);
        assert!(
            o.stderr.starts_with(&format!("Error: failed to parse {bad}: ")),
            "{}",
            o.stderr
        );

        let (o, _) = against(
            &[(400, "Invalid service address")],
            &["register", "-name=web", "-address=0.0.0.0"],
            run,
        );
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (
                1,
                "",
                "Error registering service \"web\": Unexpected response code: 400 (Invalid service address)\n"
            )
        );
    }

    #[test]
    fn deregister_by_id_and_files() {
        let (o, seen) = against(&[(200, "")], &["deregister", "-id=web-1"], run);
        assert_eq!(
            seen[0].request_line,
            "PUT /v1/agent/service/deregister/web-1 HTTP/1.1"
        );
        assert_eq!((o.code, o.stdout.as_str()), (0, "Deregistered service: web-1\n"));

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("s.json");
        std::fs::write(
            &file,
            r#"{"services": [{"id": "web-1", "name": "web"}, {"name": "db"}, {"port": 1}]}"#,
        )
        .expect("write");
        let file = file.to_string_lossy().into_owned();
        let (o, seen) = against(&[(200, ""), (200, "")], &["deregister", &file], run);
        assert_eq!(
            seen[0].request_line,
            "PUT /v1/agent/service/deregister/web-1 HTTP/1.1"
        );
        assert_eq!(
            seen[1].request_line,
            "PUT /v1/agent/service/deregister/db HTTP/1.1"
        );
        assert_eq!(
            o.stdout,
            "Deregistered service: web-1\nDeregistered service: db\n"
        );

        let (o, _) = against(
            &[(403, "Permission denied")],
            &["deregister", "-id", "web-1"],
            run,
        );
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error deregistering service \"\": Unexpected response code: 403 (Permission denied)\n"
            )
        );
        let o = offline(&["deregister"], run);
        assert_eq!(
            o.stderr,
            "Service deregistration requires at least one argument or -id.\n"
        );
        let o = offline(&["deregister", "-id=x", "f.json"], run);
        assert_eq!(
            o.stderr,
            "Service deregistration requires arguments or -id, not both.\n"
        );
    }

    #[test]
    fn help() {
        let o = offline(&[], run);
        assert_eq!(o.code, 1);
        assert!(o.stderr.ends_with(
            "\n\nSubcommands:\n    deregister    Deregister services with the local agent\n    \
             register      Register services with the local agent\n"
        ));
        let o = offline(&["register", "--help"], run);
        assert_eq!(o.code, 0);
        assert!(o
            .stderr
            .starts_with("Usage: consul services register [options] [FILE...]\n"));
        assert!(o.stderr.contains("\n  -meta=<value>\n"), "{}", o.stderr);
    }

    #[test]
    fn service_addresses_parse_like_go() {
        assert_eq!(parse_service_addr("10.0.0.1:80"), Ok(("10.0.0.1".into(), 80)));
        assert_eq!(parse_service_addr("[::1]:80"), Ok(("::1".into(), 80)));
        assert_eq!(
            parse_service_addr("::1:80"),
            Err("address ::1:80: too many colons in address".into())
        );
        assert_eq!(
            parse_service_addr("h:x"),
            Err("strconv.Atoi: parsing \"x\": invalid syntax".into())
        );
    }
}
