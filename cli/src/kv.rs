//! `consul kv get|put|delete`, following Consul 1.10's `command/kv/{get,put,del}` and the
//! Go `api` package's KV calls (`/v1/kv/<key>` with `recurse`, `keys`, `separator`, `flags`,
//! `cas`, `acquire`, `release`).
//!
//! Deliberate differences from Consul 1.10.3: `kv get -base64 KEY` encodes the plain value
//! too (newer Consul does; 1.10 ignored the flag there), and `kv put -base64` stops on
//! undecodable data instead of writing whatever part decoded. `kv export`/`kv import`
//! are not implemented.

use std::fmt::Write as _;

use base64::Engine as _;
use serde::Deserialize;

use super::args::{Flag, FlagSet, Kind, ParseError, Parsed};
use super::http::{go_io_error, Client, Config, HttpError, Response, HTTP_FLAGS};
use super::{tabwriter, Ui};

/// `consul kv` help (Consul's `command/kv/kv.go`).
const KV_HELP: &str = r#"
Usage: consul kv <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's key-value
  store. Here are some simple examples, and more detailed examples are
  available in the subcommands or the documentation.

  Create or update the key named "redis/config/connections" with the value "5":

      $ consul kv put redis/config/connections 5

  Read this value back:

      $ consul kv get redis/config/connections

  Or get detailed key information:

      $ consul kv get -detailed redis/config/connections

  Finally, delete the key:

      $ consul kv delete redis/config/connections

  For more examples, ask for subcommand help or view the documentation.
"#;

const GET_HELP: &str = r#"
Usage: consul kv get [options] [KEY_OR_PREFIX]

  Retrieves the value from Consul's key-value store at the given key name. If no
  key exists with that name, an error is returned. If a key exists with that
  name but has no data, nothing is returned. If the name or prefix is omitted,
  it defaults to "" which is the root of the key-value store.

  To retrieve the value for the key named "foo" in the key-value store:

      $ consul kv get foo

  This will return the original, raw value stored in Consul. To view detailed
  information about the key, specify the "-detailed" flag. This will output all
  known metadata about the key including ModifyIndex and any user-supplied
  flags:

      $ consul kv get -detailed foo

  To treat the path as a prefix and list all keys which start with the given
  prefix, specify the "-recurse" flag:

      $ consul kv get -recurse foo

  This will return all key-value pairs. To just list the keys which start with
  the specified prefix, use the "-keys" option instead:

      $ consul kv get -keys foo

  For a full list of options and examples, please see the Consul documentation.
"#;

const PUT_HELP: &str = r#"
Usage: consul kv put [options] KEY [DATA]

  Writes the data to the given path in the key-value store. The data can be of
  any type.

      $ consul kv put config/redis/maxconns 5

  The data can also be consumed from a file on disk by prefixing with the "@"
  symbol. For example:

      $ consul kv put config/program/license @license.lic

  Or it can be read from stdin using the "-" symbol:

      $ echo "abcd1234" | consul kv put config/program/license -

  The DATA argument itself is optional. If omitted, this will create an empty
  key-value pair at the specified path:

      $ consul kv put webapp/beta/active

  If the -base64 flag is specified, the data will be treated as base 64
  encoded.

  To perform a Check-And-Set operation, specify the -cas flag with the
  appropriate -modify-index flag corresponding to the key you want to perform
  the CAS operation on:

      $ consul kv put -cas -modify-index=844 config/redis/maxconns 5

  Additional flags and more advanced use cases are detailed below.
"#;

const DELETE_HELP: &str = r#"
Usage: consul kv delete [options] KEY_OR_PREFIX

  Removes the value from Consul's key-value store at the given path. If no
  key exists at the path, no action is taken.

  To delete the value for the key named "foo" in the key-value store:

      $ consul kv delete foo

  To delete all keys which start with "foo", specify the -recurse option:

      $ consul kv delete -recurse foo

  This will delete the keys named "foo", "food", and "foo/bar/zip" if they
  existed.
"#;

const CAS_USAGE: &str = "Perform a Check-And-Set operation. Specifying this value also \
                         requires the -modify-index flag to be set. The default value is false.";
const MODIFY_INDEX_USAGE: &str = "Unsigned integer representing the ModifyIndex of the key. \
                                  This is used in combination with the -cas flag.";

/// A `kv` subcommand.
struct Subcommand {
    name: &'static str,
    synopsis: &'static str,
    help: &'static str,
    /// The command's own flags (the HTTP flags are added to these).
    flags: &'static [Flag],
    run: fn(&mut Ui<'_>, &Parsed) -> i32,
}

impl Subcommand {
    fn flag_set(&self) -> FlagSet {
        let mut flags = self.flags.to_vec();
        flags.extend_from_slice(&HTTP_FLAGS);
        FlagSet::new(flags)
    }
}

const fn flag(name: &'static str, kind: Kind, default: &'static str, usage: &'static str) -> Flag {
    Flag {
        name,
        kind,
        default,
        usage,
        http: false,
    }
}

const GET_FLAGS: &[Flag] = &[
    flag(
        "base64",
        Kind::Bool,
        "false",
        "Base64 encode the value. The default value is false.",
    ),
    flag(
        "detailed",
        Kind::Bool,
        "false",
        "Provide additional metadata about the key in addition to the value such \
         as the ModifyIndex and any flags that may have been set on the key. \
         The default value is false.",
    ),
    flag(
        "keys",
        Kind::Bool,
        "false",
        "List keys which start with the given prefix, but not their values. \
         This is especially useful if you only need the key names themselves. \
         This option is commonly combined with the -separator option. The default \
         value is false.",
    ),
    flag(
        "recurse",
        Kind::Bool,
        "false",
        "Recursively look at all keys prefixed with the given path. The default \
         value is false.",
    ),
    flag(
        "separator",
        Kind::Str,
        "/",
        "String to use as a separator between keys. The default value is \"/\", \
         but this option is only taken into account when paired with the -keys flag.",
    ),
];

const PUT_FLAGS: &[Flag] = &[
    flag("cas", Kind::Bool, "false", CAS_USAGE),
    flag(
        "flags",
        Kind::Uint,
        "0",
        "Unsigned integer value to assign to this key-value pair. This \
         value is not read by Consul, so clients can use this value however \
         makes sense for their use case. The default value is 0 (no flags).",
    ),
    flag(
        "base64",
        Kind::Bool,
        "false",
        "Treat the data as base 64 encoded. The default value is false.",
    ),
    flag("modify-index", Kind::Uint, "0", MODIFY_INDEX_USAGE),
    flag(
        "session",
        Kind::Str,
        "",
        "User-defined identifer for this session as a string. This is commonly \
         used with the -acquire and -release operations to build robust locking, \
         but it can be set on any key. The default value is empty (no session).",
    ),
    flag(
        "acquire",
        Kind::Bool,
        "false",
        "Obtain a lock on the key. If the key does not exist, this operation \
         will create the key and obtain the lock. The session must already \
         exist and be specified via the -session flag. The default value is false.",
    ),
    flag(
        "release",
        Kind::Bool,
        "false",
        "Forfeit the lock on the key at the given path. This requires the \
         -session flag to be set. The key must be held by the session in order to \
         be unlocked. The default value is false.",
    ),
];

const DELETE_FLAGS: &[Flag] = &[
    flag("cas", Kind::Bool, "false", CAS_USAGE),
    flag("modify-index", Kind::Uint, "0", MODIFY_INDEX_USAGE),
    flag(
        "recurse",
        Kind::Bool,
        "false",
        "Recursively delete all keys with the path. The default value is false.",
    ),
];

/// The subcommands, sorted by name as Consul lists them.
const SUBCOMMANDS: [Subcommand; 3] = [
    Subcommand {
        name: "delete",
        synopsis: "Removes data from the KV store",
        help: DELETE_HELP,
        flags: DELETE_FLAGS,
        run: delete,
    },
    Subcommand {
        name: "get",
        synopsis: "Retrieves or lists data from the KV store",
        help: GET_HELP,
        flags: GET_FLAGS,
        run: get,
    },
    Subcommand {
        name: "put",
        synopsis: "Sets or updates data in the KV store",
        help: PUT_HELP,
        flags: PUT_FLAGS,
        run: put,
    },
];

/// `consul kv <args>`: dispatches to a subcommand, or prints help.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let sub = args
        .first()
        .and_then(|name| SUBCOMMANDS.iter().find(|s| s.name == name.as_str()));
    // mitchellh/cli treats -h/-help/--help anywhere before "--" as a help request.
    let wants_help = args
        .iter()
        .take_while(|a| a.as_str() != "--")
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"));
    let Some(sub) = sub else {
        ui.error_raw(&kv_help());
        return if wants_help { 0 } else { 1 };
    };
    let set = sub.flag_set();
    if wants_help {
        ui.error_raw(&format!("{}\n", set.usage(sub.help)));
        return 0;
    }
    match set.parse(&args[1..]) {
        Ok(parsed) => (sub.run)(ui, &parsed),
        Err(e) => {
            // Go's flag package: the error, then the default usage.
            if let ParseError::Invalid(msg) = e {
                ui.error(msg);
            }
            ui.error_raw(&format!("Usage:\n{}", set.defaults()));
            1
        }
    }
}

/// The `kv` help with its subcommand list (mitchellh/cli's help template).
fn kv_help() -> String {
    let mut text = KV_HELP.trim().to_string();
    text.push_str("\n\nSubcommands:");
    let width = SUBCOMMANDS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &SUBCOMMANDS {
        let _ = write!(text, "\n    {:<width$}    {}", s.name, s.synopsis);
    }
    text.push('\n');
    text
}

/// One entry of a `/v1/kv` read (Consul's `api.KVPair`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KvPair {
    key: String,
    create_index: u64,
    modify_index: u64,
    lock_index: u64,
    flags: u64,
    session: Option<String>,
    /// Base64, or null for an empty value.
    value: Option<String>,
}

impl KvPair {
    /// The decoded value.
    fn value(&self) -> Result<Vec<u8>, String> {
        match &self.value {
            Some(v) => decode_base64(v),
            None => Ok(Vec::new()),
        }
    }
}

/// Decodes standard base64 like Go's `base64.StdEncoding` (which skips `\r` and `\n`),
/// with Go's error text.
fn decode_base64(data: &str) -> Result<Vec<u8>, String> {
    use base64::DecodeError;
    let cleaned: String = data.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| {
            let at = match e {
                DecodeError::InvalidByte(at, _) | DecodeError::InvalidLastSymbol(at, _) => at,
                DecodeError::InvalidLength(len) => len,
                DecodeError::InvalidPadding => cleaned.len(),
            };
            format!("illegal base64 data at input byte {at}")
        })
}

fn encode_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Consul's `prettyKVPair`: the `-detailed` table, without a final newline.
fn pretty_pair(pair: &KvPair, value: &[u8], base64: bool) -> Vec<u8> {
    let session = match pair.session.as_deref() {
        None | Some("") => "-",
        Some(s) => s,
    };
    let mut text = format!(
        "CreateIndex\t{}\nFlags\t{}\nKey\t{}\nLockIndex\t{}\nModifyIndex\t{}\nSession\t{}\nValue\t",
        pair.create_index, pair.flags, pair.key, pair.lock_index, pair.modify_index, session
    )
    .into_bytes();
    if base64 {
        text.extend_from_slice(encode_base64(value).as_bytes());
    } else {
        text.extend_from_slice(value);
    }
    tabwriter::format(&text, 0, 6)
}

/// Makes the HTTP client, or prints Consul's error.
fn client(ui: &mut Ui<'_>, flags: &Parsed) -> Option<Client> {
    match Config::resolve(flags, &|name| ui.env(name)) {
        Ok(config) => Some(Client::new(config)),
        Err(e) => {
            ui.error(format!("Error connecting to Consul agent: {e}"));
            None
        }
    }
}

/// The single KEY argument of `get` and `delete`, with one leading `/` removed.
fn single_key<'a>(ui: &mut Ui<'_>, args: &'a [String]) -> Option<&'a str> {
    match args {
        [] => Some(""),
        [key] => Some(key.strip_prefix('/').unwrap_or(key)),
        _ => {
            ui.error(format!("Too many arguments (expected 1, got {})", args.len()));
            None
        }
    }
}

/// `/v1/kv/<key>`; like the Go `api` package, one leading `/` is dropped.
fn kv_path(key: &str) -> String {
    format!("/v1/kv/{}", key.strip_prefix('/').unwrap_or(key))
}

/// The outcome of a KV read: `None` for 404, the body for 200, else Go's error text
/// (the `api` package reports KV read failures without the body).
fn read(result: Result<Response, HttpError>) -> Result<Option<Vec<u8>>, String> {
    let resp = result.map_err(|e| e.to_string())?;
    match resp.status {
        200 => Ok(Some(resp.body)),
        404 => Ok(None),
        status => Err(format!("Unexpected response code: {status}")),
    }
}

/// The outcome of a KV write: whether the body says `true`, or Go's error text.
fn write(result: Result<Response, HttpError>) -> Result<bool, String> {
    let resp = result.map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(resp.unexpected());
    }
    Ok(resp.is_true())
}

fn decode_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| e.to_string())
}

/// `consul kv get`.
fn get(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(key) = single_key(ui, &flags.args) else {
        return 1;
    };
    let (recurse, keys) = (flags.bool("recurse"), flags.bool("keys"));
    let (detailed, base64) = (flags.bool("detailed"), flags.bool("base64"));
    if key.is_empty() && !(recurse || keys) {
        ui.error("Error! Missing KEY argument");
        return 1;
    }
    let Some(client) = client(ui, flags) else {
        return 1;
    };
    let path = kv_path(key);

    if keys {
        let separator = flags.string("separator").unwrap_or("/");
        let mut params = vec![("keys", String::new())];
        if !separator.is_empty() {
            params.push(("separator", separator.to_string()));
        }
        let listed = read(client.get(&path, params))
            .and_then(|body| body.map_or(Ok(Vec::new()), |b| decode_json::<Vec<String>>(&b)));
        return match listed {
            Ok(listed) => {
                for k in listed {
                    ui.info(k);
                }
                0
            }
            Err(e) => {
                ui.error(format!("Error querying Consul agent: {e}"));
                1
            }
        };
    }

    let params = if recurse {
        vec![("recurse", String::new())]
    } else {
        Vec::new()
    };
    let pairs = read(client.get(&path, params))
        .and_then(|body| body.map_or(Ok(Vec::new()), |b| decode_json::<Vec<KvPair>>(&b)))
        .and_then(|pairs| {
            pairs
                .into_iter()
                .map(|p| p.value().map(|v| (p, v)))
                .collect::<Result<Vec<_>, _>>()
        });
    let pairs = match pairs {
        Ok(pairs) => pairs,
        Err(e) => {
            ui.error(format!("Error querying Consul agent: {e}"));
            return 1;
        }
    };

    if recurse {
        for (i, (pair, value)) in pairs.iter().enumerate() {
            if detailed {
                ui.info(pretty_pair(pair, value, base64));
                if i + 1 < pairs.len() {
                    ui.info("");
                }
            } else {
                let mut line = format!("{}:", pair.key).into_bytes();
                if base64 {
                    line.extend_from_slice(encode_base64(value).as_bytes());
                } else {
                    line.extend_from_slice(value);
                }
                ui.info(line);
            }
        }
        return 0;
    }

    let Some((pair, value)) = pairs.first() else {
        ui.error(format!("Error! No key exists at: {key}"));
        return 1;
    };
    if detailed {
        ui.info(pretty_pair(pair, value, base64));
    } else if base64 {
        ui.info(encode_base64(value));
    } else {
        ui.info(value);
    }
    0
}

/// `consul kv put`'s KEY and DATA (`-` reads stdin, `@path` reads a file).
fn data_from_args(ui: &mut Ui<'_>, args: &[String]) -> Result<(String, Vec<u8>), String> {
    let (key, data) = match args {
        [] => return Err("Missing KEY argument".into()),
        [key] => return Ok((key.clone(), Vec::new())),
        [key, data] => (key.clone(), data.as_str()),
        _ => {
            return Err(format!(
                "Too many arguments (expected 1 or 2, got {})",
                args.len()
            ))
        }
    };
    if let Some(path) = data.strip_prefix('@') {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("Failed to read file: open {path}: {}", go_io_error(&e)))?;
        return Ok((key, bytes));
    }
    if data == "-" {
        let mut bytes = Vec::new();
        ui.stdin
            .read_to_end(&mut bytes)
            .map_err(|e| format!("Failed to read stdin: {}", go_io_error(&e)))?;
        return Ok((key, bytes));
    }
    Ok((key, data.as_bytes().to_vec()))
}

/// `consul kv put`.
fn put(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let (key, mut data) = match data_from_args(ui, &flags.args) {
        Ok(kd) => kd,
        Err(e) => {
            ui.error(format!("Error! {e}"));
            return 1;
        }
    };
    if flags.bool("base64") {
        match decode_base64(&String::from_utf8_lossy(&data)) {
            Ok(decoded) => data = decoded,
            Err(e) => {
                ui.error(format!("Error! Cannot base 64 decode data: {e}"));
                return 1;
            }
        }
    }
    let (cas, acquire, release) = (flags.bool("cas"), flags.bool("acquire"), flags.bool("release"));
    let session = flags.string("session").unwrap_or_default();
    let modify_index = flags.uint("modify-index");
    if (acquire || release) && session.is_empty() {
        ui.error("Error! Missing -session (required with -acquire and -release)");
        return 1;
    }
    if cas && modify_index == 0 {
        ui.error("Must specify -modify-index with -cas!");
        return 1;
    }
    let Some(client) = client(ui, flags) else {
        return 1;
    };

    let mut params = Vec::new();
    let kv_flags = flags.uint("flags");
    if kv_flags != 0 {
        params.push(("flags", kv_flags.to_string()));
    }
    if cas {
        params.push(("cas", modify_index.to_string()));
    } else if acquire {
        params.push(("acquire", session.to_string()));
    } else if release {
        params.push(("release", session.to_string()));
    }
    let result = if key.starts_with('/') {
        Err(format!("Invalid key. Key must not begin with a '/': {key}"))
    } else {
        write(client.put(&kv_path(&key), params, &data))
    };

    let (ok_msg, fail_msg, err_prefix) = if cas {
        (
            format!("Success! Data written to: {key}"),
            format!("Error! Did not write to {key}: CAS failed"),
            format!("Error! Did not write to {key}"),
        )
    } else if acquire {
        (
            format!("Success! Lock acquired on: {key}"),
            "Error! Did not acquire lock".to_string(),
            "Error! Failed writing data".to_string(),
        )
    } else if release {
        (
            format!("Success! Lock released on: {key}"),
            "Error! Did not release lock".to_string(),
            "Error! Failed writing data".to_string(),
        )
    } else {
        (
            format!("Success! Data written to: {key}"),
            String::new(),
            "Error! Failed writing data".to_string(),
        )
    };
    match result {
        // A plain put succeeds whatever the body says, as in the Go client.
        Ok(true) => {
            ui.info(ok_msg);
            0
        }
        Ok(false) if !(cas || acquire || release) => {
            ui.info(ok_msg);
            0
        }
        Ok(false) => {
            ui.error(fail_msg);
            1
        }
        Err(e) => {
            ui.error(format!("{err_prefix}: {e}"));
            1
        }
    }
}

/// `consul kv delete`.
fn delete(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(key) = single_key(ui, &flags.args) else {
        return 1;
    };
    let (cas, recurse) = (flags.bool("cas"), flags.bool("recurse"));
    let modify_index = flags.uint("modify-index");
    if key.is_empty() && !recurse {
        ui.error("Error! Missing KEY argument");
        return 1;
    }
    if cas && modify_index == 0 {
        ui.error("Must specify -modify-index with -cas!");
        return 1;
    }
    if modify_index != 0 && !cas {
        ui.error("Cannot specify -modify-index without -cas!");
        return 1;
    }
    if recurse && cas {
        ui.error("Cannot specify both -cas and -recurse!");
        return 1;
    }
    let Some(client) = client(ui, flags) else {
        return 1;
    };
    let path = kv_path(key);

    if recurse {
        return match write(client.delete(&path, vec![("recurse", String::new())])) {
            Ok(_) => {
                ui.info(format!("Success! Deleted keys with prefix: {key}"));
                0
            }
            Err(e) => {
                ui.error(format!("Error! Did not delete prefix {key}: {e}"));
                1
            }
        };
    }
    if cas {
        return match write(client.delete(&path, vec![("cas", modify_index.to_string())])) {
            Ok(true) => {
                ui.info(format!("Success! Deleted key: {key}"));
                0
            }
            Ok(false) => {
                ui.error(format!("Error! Did not delete key {key}: CAS failed"));
                1
            }
            Err(e) => {
                ui.error(format!("Error! Did not delete key {key}: {e}"));
                1
            }
        };
    }
    match write(client.delete(&path, Vec::new())) {
        Ok(_) => {
            ui.info(format!("Success! Deleted key: {key}"));
            0
        }
        Err(e) => {
            ui.error(format!("Error deleting key {key}: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, Outcome};
    use std::io::{BufRead, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;

    /// A request as the fake agent saw it.
    #[derive(Debug)]
    struct Seen {
        /// e.g. `GET /v1/kv/k?recurse= HTTP/1.1`
        request_line: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// Serves one request on loopback with `status` and `body`; returns the address and
    /// a channel yielding what was received.
    fn fake_agent(status: u16, body: &str) -> (String, mpsc::Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr").to_string();
        let body = body.to_string();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                return;
            }
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut req_body = vec![0; len];
            let _ = reader.read_exact(&mut req_body);
            let reason = if status == 200 { "OK" } else { "Status" };
            let response = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let mut stream = reader.into_inner();
            let _ = stream.write_all(response.as_bytes());
            let _ = tx.send(Seen {
                request_line: request_line.trim_end().to_string(),
                headers,
                body: req_body,
            });
        });
        (addr, rx)
    }

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Runs `kv <argv>` against a fake agent answering `status`/`body`.
    fn kv_against(status: u16, body: &str, argv: &[&str]) -> (Outcome, Seen) {
        kv_against_with(status, body, argv, &[], b"")
    }

    fn kv_against_with(
        status: u16,
        body: &str,
        argv: &[&str],
        env: &[(&str, &str)],
        stdin: &[u8],
    ) -> (Outcome, Seen) {
        let (addr, rx) = fake_agent(status, body);
        let mut env = env.to_vec();
        env.push(("CONSUL_HTTP_ADDR", &addr));
        let outcome = testing::run(&env, stdin, |ui| run(ui, &args(argv)));
        let seen = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the fake agent saw a request");
        (outcome, seen)
    }

    /// Runs `kv <argv>` where no request is expected.
    fn kv_offline(argv: &[&str]) -> Outcome {
        testing::run(&[("CONSUL_HTTP_ADDR", "127.0.0.1:1")], b"", |ui| {
            run(ui, &args(argv))
        })
    }

    const K_PAIR: &str =
        r#"[{"LockIndex":0,"Key":"k","Flags":42,"Value":"aGVsbG8=","CreateIndex":167,"ModifyIndex":167}]"#;

    #[test]
    fn detailed_table_matches_golden() {
        let pair = KvPair {
            key: "k".into(),
            create_index: 167,
            modify_index: 167,
            flags: 42,
            ..KvPair::default()
        };
        let got = String::from_utf8(pretty_pair(&pair, b"hello", false)).expect("utf8");
        assert_eq!(
            got,
            "CreateIndex      167\nFlags            42\nKey              k\nLockIndex        0\n\
             ModifyIndex      167\nSession          -\nValue            hello"
        );
    }

    #[test]
    fn get_plain_and_detailed() {
        let (o, seen) = kv_against(200, K_PAIR, &["get", "k"]);
        assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "hello\n", ""));
        assert_eq!(seen.request_line, "GET /v1/kv/k HTTP/1.1");

        let (o, _) = kv_against(200, K_PAIR, &["get", "-detailed", "/k"]);
        assert_eq!(o.code, 0);
        assert_eq!(
            o.stdout,
            "CreateIndex      167\nFlags            42\nKey              k\nLockIndex        0\n\
             ModifyIndex      167\nSession          -\nValue            hello\n"
        );

        let (o, _) = kv_against(200, K_PAIR, &["get", "-base64", "k"]);
        assert_eq!(o.stdout, "aGVsbG8=\n");
    }

    #[test]
    fn get_empty_value_prints_empty_line() {
        let body =
            r#"[{"LockIndex":0,"Key":"cfg/empty","Flags":0,"Value":null,"CreateIndex":5,"ModifyIndex":5}]"#;
        let (o, _) = kv_against(200, body, &["get", "cfg/empty"]);
        assert_eq!((o.code, o.stdout.as_str()), (0, "\n"));
    }

    #[test]
    fn get_missing_key() {
        let (o, _) = kv_against(404, "", &["get", "missing"]);
        assert_eq!(o.code, 1);
        assert_eq!(o.stdout, "");
        assert_eq!(o.stderr, "Error! No key exists at: missing\n");
    }

    #[test]
    fn get_recurse_and_detailed_recurse() {
        let body = r#"[{"Key":"cfg/a","Value":"b25l","CreateIndex":1,"ModifyIndex":2,"LockIndex":0,"Flags":0},
                      {"Key":"cfg/empty","Value":null,"CreateIndex":3,"ModifyIndex":3,"LockIndex":1,"Flags":0,"Session":"s-1"}]"#;
        let (o, seen) = kv_against(200, body, &["get", "-recurse", "cfg/"]);
        assert_eq!(seen.request_line, "GET /v1/kv/cfg/?recurse= HTTP/1.1");
        assert_eq!((o.code, o.stdout.as_str()), (0, "cfg/a:one\ncfg/empty:\n"));

        let (o, seen) = kv_against(200, body, &["get", "-recurse"]);
        assert_eq!(seen.request_line, "GET /v1/kv/?recurse= HTTP/1.1");
        assert_eq!(o.code, 0);

        let (o, _) = kv_against(200, body, &["get", "-recurse", "-detailed", "cfg/"]);
        assert_eq!(
            o.stdout,
            "CreateIndex      1\nFlags            0\nKey              cfg/a\nLockIndex        0\n\
             ModifyIndex      2\nSession          -\nValue            one\n\n\
             CreateIndex      3\nFlags            0\nKey              cfg/empty\nLockIndex        1\n\
             ModifyIndex      3\nSession          s-1\nValue\n"
        );

        let (o, _) = kv_against(404, "", &["get", "-recurse", "nothing/"]);
        assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    }

    #[test]
    fn get_keys_with_and_without_separator() {
        let (o, seen) = kv_against(
            200,
            r#"["cfg/a","cfg/b/","cfg/empty"]"#,
            &["get", "-keys", "cfg/"],
        );
        assert_eq!(seen.request_line, "GET /v1/kv/cfg/?keys=&separator=%2F HTTP/1.1");
        assert_eq!((o.code, o.stdout.as_str()), (0, "cfg/a\ncfg/b/\ncfg/empty\n"));

        let (o, seen) = kv_against(
            200,
            r#"["cfg/a","cfg/b/c"]"#,
            &[
                "get",
                "-keys",
                "-separator=",
                "-stale",
                "-datacenter",
                "dc1",
                "cfg/",
            ],
        );
        assert_eq!(seen.request_line, "GET /v1/kv/cfg/?dc=dc1&keys=&stale= HTTP/1.1");
        assert_eq!(o.stdout, "cfg/a\ncfg/b/c\n");
    }

    #[test]
    fn get_sends_token_and_escapes_key() {
        let (_, seen) = kv_against_with(
            200,
            K_PAIR,
            &["get", "a b/c?d%"],
            &[("CONSUL_HTTP_TOKEN", "secret")],
            b"",
        );
        assert_eq!(seen.request_line, "GET /v1/kv/a%20b/c%3Fd%25 HTTP/1.1");
        assert_eq!(seen.header("X-Consul-Token"), Some("secret"));
    }

    #[test]
    fn get_server_error_reads_like_go_api() {
        let (o, _) = kv_against(500, "No cluster leader", &["get", "k"]);
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            "Error querying Consul agent: Unexpected response code: 500\n"
        );
    }

    #[test]
    fn get_usage_errors() {
        let o = kv_offline(&["get"]);
        assert_eq!((o.code, o.stderr.as_str()), (1, "Error! Missing KEY argument\n"));
        let o = kv_offline(&["get", "a", "b"]);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Too many arguments (expected 1, got 2)\n")
        );
        let o = kv_offline(&["get", "-bogus", "k"]);
        assert_eq!(o.code, 1);
        assert!(
            o.stderr
                .starts_with("flag provided but not defined: -bogus\nUsage:\n  -base64\n    \tBase64 encode"),
            "{}",
            o.stderr
        );
        assert!(o
            .stderr
            .contains("\n  -http-addr address\n    \tThe address and port"));
        assert!(o.stderr.contains("\n  -separator string\n"));
        assert!(o.stderr.contains(" (default \"/\")\n"));
        assert!(o.stderr.ends_with("environment variable.\n"), "{}", o.stderr);
    }

    #[test]
    fn unreachable_agent_reads_like_consul() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let addr = format!("127.0.0.1:{port}");
        let o = testing::run(&[], b"", |ui| run(ui, &args(&["get", "-http-addr", &addr, "k"])));
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            format!(
                "Error querying Consul agent: Get \"http://{addr}/v1/kv/k\": dial tcp {addr}: connect: connection refused\n"
            )
        );
    }

    #[test]
    fn put_forms() {
        let (o, seen) = kv_against(200, "true", &["put", "k2", "v2"]);
        assert_eq!((o.code, o.stdout.as_str()), (0, "Success! Data written to: k2\n"));
        assert_eq!(seen.request_line, "PUT /v1/kv/k2 HTTP/1.1");
        assert_eq!(seen.body, b"v2");
        assert_eq!(seen.header("Content-Type"), Some("application/octet-stream"));

        let (o, seen) = kv_against(200, "true", &["put", "-flags=42", "k"]);
        assert_eq!(o.code, 0);
        assert_eq!(seen.request_line, "PUT /v1/kv/k?flags=42 HTTP/1.1");
        assert_eq!(seen.body, b"");

        let (_, seen) = kv_against_with(200, "true", &["put", "k", "-"], &[], b"from stdin\n");
        assert_eq!(seen.body, b"from stdin\n");

        let (_, seen) = kv_against(200, "true", &["put", "-base64", "k", "aGVs\nbG8="]);
        assert_eq!(seen.body, b"hello");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("data");
        std::fs::write(&file, b"\x00\x01file").expect("write");
        let at = format!("@{}", file.display());
        let (_, seen) = kv_against(200, "true", &["put", "k", &at]);
        assert_eq!(seen.body, b"\x00\x01file");
    }

    #[test]
    fn put_cas() {
        let (o, seen) = kv_against(200, "false", &["put", "-cas", "-modify-index=1", "k2", "v3"]);
        assert_eq!(seen.request_line, "PUT /v1/kv/k2?cas=1 HTTP/1.1");
        assert_eq!(o.code, 1);
        assert_eq!(o.stdout, "");
        assert_eq!(o.stderr, "Error! Did not write to k2: CAS failed\n");

        let (o, _) = kv_against(200, "true", &["put", "-cas", "-modify-index", "7", "k2", "v3"]);
        assert_eq!((o.code, o.stdout.as_str()), (0, "Success! Data written to: k2\n"));

        let o = kv_offline(&["put", "-cas", "k2", "v3"]);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Must specify -modify-index with -cas!\n")
        );
    }

    #[test]
    fn put_locks() {
        let (o, seen) = kv_against(200, "true", &["put", "-acquire", "-session=s1", "lk", "x"]);
        assert_eq!(seen.request_line, "PUT /v1/kv/lk?acquire=s1 HTTP/1.1");
        assert_eq!(o.stdout, "Success! Lock acquired on: lk\n");
        let (o, seen) = kv_against(200, "false", &["put", "-release", "-session", "s1", "lk"]);
        assert_eq!(seen.request_line, "PUT /v1/kv/lk?release=s1 HTTP/1.1");
        assert_eq!((o.code, o.stderr.as_str()), (1, "Error! Did not release lock\n"));
        let o = kv_offline(&["put", "-acquire", "lk"]);
        assert_eq!(
            o.stderr,
            "Error! Missing -session (required with -acquire and -release)\n"
        );
    }

    #[test]
    fn put_errors() {
        let o = kv_offline(&["put"]);
        assert_eq!((o.code, o.stderr.as_str()), (1, "Error! Missing KEY argument\n"));
        let o = kv_offline(&["put", "a", "b", "c"]);
        assert_eq!(o.stderr, "Error! Too many arguments (expected 1 or 2, got 3)\n");
        let o = kv_offline(&["put", "k", "@/nonexistent/file"]);
        assert_eq!(
            o.stderr,
            "Error! Failed to read file: open /nonexistent/file: no such file or directory\n"
        );
        let o = kv_offline(&["put", "-base64", "k", "!!"]);
        assert_eq!(
            o.stderr,
            "Error! Cannot base 64 decode data: illegal base64 data at input byte 0\n"
        );
        let o = kv_offline(&["put", "/k", "v"]);
        assert_eq!(
            o.stderr,
            "Error! Failed writing data: Invalid key. Key must not begin with a '/': /k\n"
        );
        let o = kv_offline(&["put", "-flags=x", "k"]);
        assert!(o
            .stderr
            .starts_with("invalid value \"x\" for flag -flags: parse error\nUsage:\n"));

        let big = "Request body(524289 bytes) too large, max size: 524288 bytes.";
        let (o, _) = kv_against(413, big, &["put", "k", "v"]);
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            format!("Error! Failed writing data: Unexpected response code: 413 ({big})\n")
        );
    }

    #[test]
    fn delete_forms() {
        let (o, seen) = kv_against(200, "true", &["delete", "k2"]);
        assert_eq!(seen.request_line, "DELETE /v1/kv/k2 HTTP/1.1");
        assert_eq!((o.code, o.stdout.as_str()), (0, "Success! Deleted key: k2\n"));

        let (o, seen) = kv_against(200, "true", &["delete", "-recurse", "cfg/"]);
        assert_eq!(seen.request_line, "DELETE /v1/kv/cfg/?recurse= HTTP/1.1");
        assert_eq!(o.stdout, "Success! Deleted keys with prefix: cfg/\n");

        let (o, seen) = kv_against(200, "false", &["delete", "-cas", "-modify-index=3", "k"]);
        assert_eq!(seen.request_line, "DELETE /v1/kv/k?cas=3 HTTP/1.1");
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Error! Did not delete key k: CAS failed\n")
        );

        let (o, _) = kv_against(500, "boom", &["delete", "k"]);
        assert_eq!(
            o.stderr,
            "Error deleting key k: Unexpected response code: 500 (boom)\n"
        );
    }

    #[test]
    fn delete_usage_errors() {
        let cases: [(&[&str], &str); 5] = [
            (&["delete"], "Error! Missing KEY argument\n"),
            (
                &["delete", "-cas", "k"],
                "Must specify -modify-index with -cas!\n",
            ),
            (
                &["delete", "-modify-index=2", "k"],
                "Cannot specify -modify-index without -cas!\n",
            ),
            (
                &["delete", "-cas", "-modify-index=2", "-recurse", "k"],
                "Cannot specify both -cas and -recurse!\n",
            ),
            (&["delete", "a", "b"], "Too many arguments (expected 1, got 2)\n"),
        ];
        for (argv, want) in cases {
            let o = kv_offline(argv);
            assert_eq!((o.code, o.stderr.as_str()), (1, want), "{argv:?}");
        }
    }

    #[test]
    fn kv_help_and_dispatch() {
        let o = kv_offline(&[]);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("Usage: consul kv <subcommand> [options] [args]\n\n"));
        assert!(o.stderr.ends_with(
            "\n\nSubcommands:\n    delete    Removes data from the KV store\n    \
             get       Retrieves or lists data from the KV store\n    \
             put       Sets or updates data in the KV store\n"
        ));
        assert_eq!(kv_offline(&["bogus"]).code, 1);
        let o = kv_offline(&["-h"]);
        assert_eq!(o.code, 0);
        assert!(o.stderr.contains("Subcommands:"));

        let o = kv_offline(&["get", "k", "-help"]);
        assert_eq!(o.code, 0);
        assert!(o
            .stderr
            .starts_with("Usage: consul kv get [options] [KEY_OR_PREFIX]\n"));
        assert!(o.stderr.contains(
            "\n\nHTTP API Options\n\n  -ca-file=<value>\n     Path to a CA file to use for TLS when communicating with Consul.\n     This can also be specified via the CONSUL_CACERT environment\n"
        ));
        assert!(o.stderr.contains("\n\nCommand Options\n\n  -base64\n"));
        assert!(o.stderr.ends_with("the -keys flag.\n"), "{}", o.stderr);
    }
}
