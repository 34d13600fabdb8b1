//! `consul acl auth-method create|read|update|delete|list` and the auth-method formatter,
//! as Consul's `command/acl/authmethod` (the Kubernetes shortcut flags included).

use crate::args::{Flag, Kind, Parsed};
use crate::command::{self, flag, Subcommand};
use crate::Ui;

use super::api::{ttl_string, AuthMethod, AuthMethodListEntry};
use super::format::{self, Format, FORMAT_FLAG};
use super::{print, query_escape, text};

const HELP: &str = r#"
Usage: consul acl auth-method <subcommand> [options] [args]

  This command has subcommands for managing Consul's ACL auth methods.
  Here are some simple examples, and more detailed examples are available in
  the subcommands or the documentation.

  Create a new auth method:

    $ consul acl auth-method create -type "kubernetes" \
                            -name "my-k8s" \
                            -description "This is an example kube auth method" \
                            -kubernetes-host "https://apiserver.example.com:8443" \
                            -kubernetes-ca-cert @/path/to/kube.ca.crt \
                            -kubernetes-service-account-jwt "JWT_CONTENTS"

  List all auth methods:

    $ consul acl auth-method list

  Update all editable fields of the auth method:

    $ consul acl auth-method update -name "my-k8s" \
                            -description "new description" \
                            -kubernetes-host "https://new-apiserver.example.com:8443" \
                            -kubernetes-ca-cert @/path/to/new-kube.ca.crt \
                            -kubernetes-service-account-jwt "NEW_JWT_CONTENTS"

  Read an auth method:

    $ consul acl auth-method read -name my-k8s

  Delete an auth method:

    $ consul acl auth-method delete -name my-k8s

  For more examples, ask for subcommand help or view the documentation.
"#;

const CREATE_HELP: &str = r#"
Usage: consul acl auth-method create -name NAME -type TYPE [options]

  Create a new auth method:

    $ consul acl auth-method create -type "kubernetes" \
                            -name "my-k8s" \
                            -description "This is an example kube method" \
                            -kubernetes-host "https://apiserver.example.com:8443" \
                            -kubernetes-ca-cert @/path/to/kube.ca.crt \
                            -kubernetes-service-account-jwt "JWT_CONTENTS"
"#;

const READ_HELP: &str = r#"
Usage: consul acl auth-method read -name NAME [options]

  Read an auth method:

    $ consul acl auth-method read -name my-auth-method
"#;

const UPDATE_HELP: &str = r#"
Usage: consul acl auth-method update -name NAME [options]

  Updates an auth method. By default it will merge the auth method
  information with its current state so that you do not have to provide all
  parameters. This behavior can be disabled by passing -no-merge.

  Update all editable fields of the auth method:

    $ consul acl auth-method update -name "my-k8s" \
                            -description "new description" \
                            -kubernetes-host "https://new-apiserver.example.com:8443" \
                            -kubernetes-ca-cert @/path/to/new-kube.ca.crt \
                            -kubernetes-service-account-jwt "NEW_JWT_CONTENTS"
"#;

const DELETE_HELP: &str = r#"
Usage: consul acl auth-method delete -name NAME [options]

  Delete an auth method:

    $ consul acl auth-method delete -name "my-auth-method"
"#;

const LIST_HELP: &str = r#"
Usage: consul acl auth-method list [options]

  List all auth methods:

    $ consul acl auth-method list
"#;

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "create",
        synopsis: "Create an ACL auth method",
        run: run_create,
    },
    Subcommand {
        name: "delete",
        synopsis: "Delete an ACL auth method",
        run: run_delete,
    },
    Subcommand {
        name: "list",
        synopsis: "Lists ACL auth methods",
        run: run_list,
    },
    Subcommand {
        name: "read",
        synopsis: "Read an ACL auth method",
        run: run_read,
    },
    Subcommand {
        name: "update",
        synopsis: "Update an ACL auth method",
        run: run_update,
    },
];

const META_FLAG: Flag = flag(
    "meta",
    Kind::Bool,
    "false",
    "Indicates that auth method metadata such as the raft indices should be shown for each entry.",
);

/// The flags create and update share after `-name`/`-type`.
const SETTINGS: [Flag; 7] = [
    flag(
        "display-name",
        Kind::Str,
        "",
        "An optional name to use instead of the name when displaying this auth method in a UI.",
    ),
    flag("description", Kind::Str, "", "A description of the auth method."),
    flag(
        "max-token-ttl",
        Kind::Duration,
        "0s",
        "Duration of time all tokens created by this auth method should be valid for",
    ),
    flag(
        "token-locality",
        Kind::Str,
        "",
        "Defines the kind of token that this auth method should produce. This can be either 'local' or \
         'global'. If empty the value of 'local' is assumed.",
    ),
    flag(
        "kubernetes-host",
        Kind::Str,
        "",
        "Address of the Kubernetes API server. This flag is required for type=kubernetes.",
    ),
    flag(
        "kubernetes-ca-cert",
        Kind::Str,
        "",
        "PEM encoded CA cert for use by the TLS client used to talk with the Kubernetes API. May be prefixed \
         with '@' to indicate that the value is a file path to load the cert from. This flag is required for \
         type=kubernetes.",
    ),
    flag(
        "kubernetes-service-account-jwt",
        Kind::Str,
        "",
        "A Kubernetes service account JWT used to access the TokenReview API to validate other JWTs during \
         login. This flag is required for type=kubernetes.",
    ),
];

const CONFIG_FLAG: Flag = flag(
    "config",
    Kind::Str,
    "",
    "The configuration for the auth method. Must be JSON. May be prefixed with '@' to indicate that the value \
     is a file path to load the config from. '-' may also be given to indicate that the config is available \
     on stdin",
);

/// `consul acl auth-method <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, HELP, SUBCOMMANDS, args)
}

fn pretty(m: &AuthMethod, meta: bool) -> String {
    let mut out = format!("Name:          {}\nType:          {}\n", m.name, m.kind);
    if !m.partition.is_empty() {
        out.push_str(&format!("Partition:     {}\n", m.partition));
    }
    if !m.namespace.is_empty() {
        out.push_str(&format!("Namespace:     {}\n", m.namespace));
    }
    if !m.display_name.is_empty() {
        out.push_str(&format!("DisplayName:   {}\n", m.display_name));
    }
    out.push_str(&format!("Description:   {}\n", m.description));
    if let Some(ttl) = m.max_token_ttl.as_deref().filter(|t| !t.starts_with('-')) {
        out.push_str(&format!("MaxTokenTTL:   {ttl}\n"));
    }
    if !m.token_locality.is_empty() {
        out.push_str(&format!("TokenLocality: {}\n", m.token_locality));
    }
    if let Some(rules) = m.namespace_rules.as_ref().filter(|r| !r.is_empty()) {
        out.push_str("NamespaceRules:\n");
        for r in rules {
            out.push_str(&format!(
                "   Selector:      {}\n   BindNamespace: {}\n",
                r.selector, r.bind_namespace
            ));
        }
    }
    if meta {
        out.push_str(&format!(
            "Create Index:  {}\nModify Index:  {}\n",
            m.create_index, m.modify_index
        ));
    }
    out.push_str("Config:\n");
    out.push_str(&format::indent_with(&m.config, b"  "));
    out
}

fn pretty_list(methods: &[AuthMethodListEntry], meta: bool) -> String {
    let mut out = String::new();
    for m in methods {
        out.push_str(&format!("{}:\n   Type:         {}\n", m.name, m.kind));
        if !m.partition.is_empty() {
            out.push_str(&format!("   Partition:    {}\n", m.partition));
        }
        if !m.namespace.is_empty() {
            out.push_str(&format!("   Namespace:    {}\n", m.namespace));
        }
        if !m.display_name.is_empty() {
            out.push_str(&format!("   DisplayName:  {}\n", m.display_name));
        }
        out.push_str(&format!("   Description:  {}\n", m.description));
        if meta {
            out.push_str(&format!(
                "   Create Index: {}\n   Modify Index: {}\n",
                m.create_index, m.modify_index
            ));
        }
    }
    out
}

fn show(ui: &mut Ui<'_>, flags: &Parsed, m: &AuthMethod) -> i32 {
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => print(ui, &pretty(m, flags.bool("meta"))),
        Ok(Format::Json) => print(ui, &format::json_indent(m)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}

fn run_create(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = vec![
        META_FLAG,
        flag(
            "type",
            Kind::Str,
            "",
            "The new auth method's type. This flag is required.",
        ),
        flag(
            "name",
            Kind::Str,
            "",
            "The new auth method's name. This flag is required.",
        ),
    ];
    own.extend(SETTINGS);
    own.push(FORMAT_FLAG);
    own.push(CONFIG_FLAG);
    super::run_leaf(ui, CREATE_HELP, &own, &[], args, create)
}

/// `-max-token-ttl` as `Duration.String()`, when positive.
fn max_ttl(flags: &Parsed) -> Option<String> {
    flags
        .duration("max-token-ttl")
        .and_then(|d| ttl_string(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
}

/// `-config` (JSON from a data source) or the `-kubernetes-*` flags into `m.config`; the
/// error is what Consul prints.
fn config(ui: &mut Ui<'_>, flags: &Parsed, kind: &str, m: &mut AuthMethod) -> Result<(), String> {
    let k8s = [
        "kubernetes-host",
        "kubernetes-ca-cert",
        "kubernetes-service-account-jwt",
    ];
    let source = text(flags, "config");
    if !source.is_empty() {
        if k8s.iter().any(|f| !text(flags, f).is_empty()) {
            return Err("Cannot use command line arguments with '-config' flags".into());
        }
        let data = super::load_data_source(ui, source)
            .map_err(|e| format!("Error loading configuration file: {e}"))?;
        let value: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(&data).map_err(|e| format!("Error parsing JSON configuration file: {e}"))?;
        m.config = value;
    }
    if kind == "kubernetes" {
        for f in k8s {
            if text(flags, f).is_empty() {
                return Err(format!("Missing required '-{f}' flag"));
            }
        }
        let ca = super::load_data_source(ui, text(flags, "kubernetes-ca-cert"))
            .map_err(|e| format!("Invalid '-kubernetes-ca-cert' value: {e}"))?;
        if ca.is_empty() {
            return Err("Kubernetes CA Cert is empty".into());
        }
        let mut map = serde_json::Map::new();
        map.insert("CACert".into(), ca.into());
        map.insert("Host".into(), text(flags, "kubernetes-host").into());
        map.insert(
            "ServiceAccountJWT".into(),
            text(flags, "kubernetes-service-account-jwt").into(),
        );
        m.config = Some(map);
    }
    Ok(())
}

fn create(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    let (kind, name) = (text(flags, "type"), text(flags, "name"));
    for (value, f) in [(kind, "type"), (name, "name")] {
        if value.is_empty() {
            ui.error(format!("Missing required '-{f}' flag"));
            ui.error(usage);
            return 1;
        }
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let mut method = AuthMethod {
        kind: kind.to_string(),
        name: name.to_string(),
        display_name: text(flags, "display-name").to_string(),
        description: text(flags, "description").to_string(),
        token_locality: text(flags, "token-locality").to_string(),
        max_token_ttl: max_ttl(flags),
        ..AuthMethod::default()
    };
    if let Err(e) = config(ui, flags, kind, &mut method) {
        ui.error(e);
        return 1;
    }
    let body = format::json_body(&method);
    match super::read_json::<AuthMethod>(client.put("/v1/acl/auth-method", Vec::new(), &body)) {
        Ok(m) => show(ui, flags, &m),
        Err(e) => {
            ui.error(format!("Failed to create new auth method: {e}"));
            1
        }
    }
}

fn run_read(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        META_FLAG,
        flag("name", Kind::Str, "", "The name of the auth method to read."),
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, READ_HELP, &own, &[], args, |ui, flags, _| read(ui, flags))
}

fn read(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let name = text(flags, "name");
    if name.is_empty() {
        ui.error("Must specify the -name parameter");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let path = format!("/v1/acl/auth-method/{}", query_escape(name));
    match super::read_optional::<AuthMethod>(client.get(&path, Vec::new())) {
        Ok(Some(m)) => show(ui, flags, &m),
        Ok(None) => {
            ui.error(format!(
                "Auth method not found with name {}",
                command::go_quote(name)
            ));
            1
        }
        Err(e) => {
            ui.error(format!(
                "Error reading auth method {}: {e}",
                command::go_quote(name)
            ));
            1
        }
    }
}

fn run_update(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = vec![META_FLAG, flag("name", Kind::Str, "", "The auth method name.")];
    own.extend(SETTINGS);
    own.push(flag(
        "config",
        Kind::Str,
        "",
        "The configuration for the auth method. Must be JSON. The config is updated as one fieldMay be \
         prefixed with '@' to indicate that the value is a file path to load the config from. '-' may also be \
         given to indicate that the config are available on stdin. ",
    ));
    own.push(flag(
        "no-merge",
        Kind::Bool,
        "false",
        "Do not merge the current auth method information with what is provided to the command. Instead \
         overwrite all fields with the exception of the name which is immutable.",
    ));
    own.push(FORMAT_FLAG);
    super::run_leaf(ui, UPDATE_HELP, &own, &[], args, |ui, flags, _| update(ui, flags))
}

/// `-config` for update: JSON from a data source, refused next to the Kubernetes flags.
fn update_config(
    ui: &mut Ui<'_>,
    flags: &Parsed,
) -> Result<Option<Option<serde_json::Map<String, serde_json::Value>>>, String> {
    let source = text(flags, "config");
    if source.is_empty() {
        return Ok(None);
    }
    let k8s = [
        "kubernetes-host",
        "kubernetes-ca-cert",
        "kubernetes-service-account-jwt",
    ];
    if k8s.iter().any(|f| !text(flags, f).is_empty()) {
        return Err("Cannot use command line arguments with '-config' flag".into());
    }
    let data =
        super::load_data_source(ui, source).map_err(|e| format!("Error loading configuration file: {e}"))?;
    serde_json::from_str(&data)
        .map(Some)
        .map_err(|e| format!("Error parsing JSON for auth method config: {e}"))
}

fn update(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let name = text(flags, "name");
    if name.is_empty() {
        ui.error("Cannot update an auth method without specifying the -name parameter");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let path = format!("/v1/acl/auth-method/{}", query_escape(name));
    let current = match super::read_optional::<AuthMethod>(client.get(&path, Vec::new())) {
        Ok(Some(m)) => m,
        Ok(None) => {
            ui.error(format!(
                "Auth method not found with name {}",
                command::go_quote(name)
            ));
            return 1;
        }
        Err(e) => {
            ui.error(format!("Error when retrieving current auth method: {e}"));
            return 1;
        }
    };
    let mut ca_cert = text(flags, "kubernetes-ca-cert").to_string();
    if !ca_cert.is_empty() {
        ca_cert = match super::load_data_source(ui, &ca_cert) {
            Ok(c) if c.is_empty() => {
                ui.error("Kubernetes CA Cert is empty");
                return 1;
            }
            Ok(c) => c,
            Err(e) => {
                ui.error(format!("Invalid '-kubernetes-ca-cert' value: {e}"));
                return 1;
            }
        };
    }
    let (host, jwt) = (
        text(flags, "kubernetes-host"),
        text(flags, "kubernetes-service-account-jwt"),
    );
    let is_k8s = current.kind == "kubernetes";
    let method = if flags.bool("no-merge") {
        let mut m = AuthMethod {
            name: current.name.clone(),
            kind: current.kind.clone(),
            display_name: text(flags, "display-name").to_string(),
            description: text(flags, "description").to_string(),
            token_locality: text(flags, "token-locality").to_string(),
            max_token_ttl: max_ttl(flags),
            ..AuthMethod::default()
        };
        match update_config(ui, flags) {
            Ok(Some(config)) => m.config = config,
            Ok(None) => {}
            Err(e) => {
                ui.error(e);
                return 1;
            }
        }
        if is_k8s {
            for (value, f) in [
                (host, "kubernetes-host"),
                (ca_cert.as_str(), "kubernetes-ca-cert"),
                (jwt, "kubernetes-service-account-jwt"),
            ] {
                if value.is_empty() {
                    ui.error(format!("Missing required '-{f}' flag"));
                    return 1;
                }
            }
            let mut map = serde_json::Map::new();
            map.insert("CACert".into(), ca_cert.clone().into());
            map.insert("Host".into(), host.into());
            map.insert("ServiceAccountJWT".into(), jwt.into());
            m.config = Some(map);
        }
        m
    } else {
        let mut m = current;
        for (value, field) in [
            (text(flags, "description"), &mut m.description),
            (text(flags, "display-name"), &mut m.display_name),
            (text(flags, "token-locality"), &mut m.token_locality),
        ] {
            if !value.is_empty() {
                *field = value.to_string();
            }
        }
        if let Some(ttl) = max_ttl(flags) {
            m.max_token_ttl = Some(ttl);
        }
        match update_config(ui, flags) {
            // No deep merge: the new config replaces the old one.
            Ok(Some(config)) => m.config = Some(config.unwrap_or_default()),
            Ok(None) => {}
            Err(e) => {
                ui.error(e);
                return 1;
            }
        }
        let config = m.config.get_or_insert_with(serde_json::Map::new);
        if is_k8s {
            for (value, key) in [
                (host, "Host"),
                (ca_cert.as_str(), "CACert"),
                (jwt, "ServiceAccountJWT"),
            ] {
                if !value.is_empty() {
                    config.insert(key.into(), value.into());
                }
            }
        }
        m
    };
    let body = format::json_body(&method);
    match super::read_json::<AuthMethod>(client.put(&path, Vec::new(), &body)) {
        Ok(m) => show(ui, flags, &m),
        Err(e) => {
            ui.error(format!(
                "Error updating auth method {}: {e}",
                command::go_quote(name)
            ));
            1
        }
    }
}

fn run_delete(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [flag(
        "name",
        Kind::Str,
        "",
        "The name of the auth method to delete.",
    )];
    super::run_leaf(ui, DELETE_HELP, &own, &[], args, |ui, flags, _| delete(ui, flags))
}

fn delete(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let name = text(flags, "name");
    if name.is_empty() {
        ui.error("Must specify the -name parameter");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let path = format!("/v1/acl/auth-method/{}", query_escape(name));
    if let Err(e) = super::require_ok(client.delete(&path, Vec::new())) {
        ui.error(format!(
            "Error deleting auth method {}: {e}",
            command::go_quote(name)
        ));
        return 1;
    }
    ui.info(format!(
        "Auth method {} deleted successfully",
        command::go_quote(name)
    ));
    0
}

fn run_list(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(
        ui,
        LIST_HELP,
        &[META_FLAG, FORMAT_FLAG],
        &[],
        args,
        |ui, flags, _| list(ui, flags),
    )
}

fn list(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let methods: Vec<AuthMethodListEntry> =
        match super::read_json(client.get("/v1/acl/auth-methods", Vec::new())) {
            Ok(m) => m,
            Err(e) => {
                ui.error(format!("Failed to retrieve the auth method list: {e}"));
                return 1;
            }
        };
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => print(ui, &pretty_list(&methods, flags.bool("meta"))),
        Ok(Format::Json) => print(ui, &format::json_indent(&methods)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    const METHOD: &str = r#"{"Name":"jwt-1","Type":"jwt","DisplayName":"JWT","Description":"desc","MaxTokenTTL":"1h0m0s","TokenLocality":"global","Config":{"JWTValidationPubKeys":["k"],"BoundIssuer":"a<b"},"CreateIndex":5,"ModifyIndex":6}"#;

    fn cmd(name: &str, ui: &mut Ui<'_>, args: &[String]) -> i32 {
        run(ui, &[&[name.to_string()], args].concat())
    }
    fn create_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("create", ui, args)
    }
    fn read_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("read", ui, args)
    }
    fn update_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("update", ui, args)
    }
    fn delete_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("delete", ui, args)
    }
    fn list_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("list", ui, args)
    }

    #[test]
    fn create_with_config_file_and_print() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.json");
        std::fs::write(&file, r#"{"JWTValidationPubKeys":["k"],"BoundIssuer":"a<b"}"#).expect("write");
        let config = format!("@{}", file.display());
        let (o, seen) = against(
            &[(200, METHOD)],
            &[
                "-type=jwt",
                "-name=jwt-1",
                "-display-name=JWT",
                "-description=desc",
                "-max-token-ttl=60m",
                "-token-locality=global",
                "-config",
                &config,
            ],
            create_cmd,
        );
        assert_eq!(seen[0].request_line, "PUT /v1/acl/auth-method HTTP/1.1");
        assert_eq!(
            String::from_utf8_lossy(&seen[0].body),
            "{\"MaxTokenTTL\":\"1h0m0s\",\"Name\":\"jwt-1\",\"Type\":\"jwt\",\"DisplayName\":\"JWT\",\
             \"Description\":\"desc\",\"TokenLocality\":\"global\",\
             \"Config\":{\"BoundIssuer\":\"a\\u003cb\",\"JWTValidationPubKeys\":[\"k\"]},\
             \"CreateIndex\":0,\"ModifyIndex\":0}\n"
        );
        assert_eq!(
            o.stdout,
            "Name:          jwt-1\nType:          jwt\nDisplayName:   JWT\nDescription:   desc\n\
             MaxTokenTTL:   1h0m0s\nTokenLocality: global\nConfig:\n{\n  \"BoundIssuer\": \"a\\u003cb\",\n  \
             \"JWTValidationPubKeys\": [\n    \"k\"\n  ]\n}\n"
        );
    }

    #[test]
    fn create_errors_and_kubernetes_flags() {
        let o = offline(&["-name=x"], create_cmd);
        assert!(o
            .stderr
            .starts_with("Missing required '-type' flag\nUsage: consul acl auth-method create"));
        let o = offline(&["-type=kubernetes", "-name=k"], create_cmd);
        assert_eq!(o.stderr, "Missing required '-kubernetes-host' flag\n");
        let o = offline(&["-type=jwt", "-name=k", "-config={"], create_cmd);
        assert!(
            o.stderr.starts_with("Error parsing JSON configuration file: "),
            "{}",
            o.stderr
        );
        let (_, seen) = against(
            &[(200, METHOD)],
            &[
                "-type=kubernetes",
                "-name=k",
                "-kubernetes-host=https://k:8443",
                "-kubernetes-ca-cert=PEM",
                "-kubernetes-service-account-jwt=JWT",
            ],
            create_cmd,
        );
        let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("json");
        assert_eq!(
            body["Config"],
            serde_json::json!({"Host": "https://k:8443", "CACert": "PEM", "ServiceAccountJWT": "JWT"})
        );
    }

    #[test]
    fn read_update_delete_list() {
        let (o, seen) = against(&[(404, "")], &["-name=my k8s"], read_cmd);
        assert_eq!(seen[0].request_line, "GET /v1/acl/auth-method/my+k8s HTTP/1.1");
        assert_eq!(o.stderr, "Auth method not found with name \"my k8s\"\n");
        let (o, _) = against(&[(200, METHOD)], &["-name=jwt-1", "-format=json"], read_cmd);
        assert!(o
            .stdout
            .starts_with("{\n    \"MaxTokenTTL\": \"1h0m0s\",\n    \"Name\": \"jwt-1\",\n"));

        let (o, seen) = against(
            &[(200, METHOD), (200, METHOD)],
            &["-name=jwt-1", "-description=new"],
            update_cmd,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(seen[1].request_line, "PUT /v1/acl/auth-method/jwt-1 HTTP/1.1");
        let body: serde_json::Value = serde_json::from_slice(&seen[1].body).expect("json");
        assert_eq!(
            (body["Description"].as_str(), body["DisplayName"].as_str()),
            (Some("new"), Some("JWT"))
        );
        assert_eq!(body["Config"]["JWTValidationPubKeys"], serde_json::json!(["k"]));

        let k8s =
            r#"{"Name":"k","Type":"kubernetes","Config":{"Host":"h","CACert":"c","ServiceAccountJWT":"j"}}"#;
        let (_, seen) = against(
            &[(200, k8s), (200, k8s)],
            &["-name=k", "-kubernetes-host=h2"],
            update_cmd,
        );
        let body: serde_json::Value = serde_json::from_slice(&seen[1].body).expect("json");
        assert_eq!(
            body["Config"],
            serde_json::json!({"Host": "h2", "CACert": "c", "ServiceAccountJWT": "j"})
        );
        let (o, _) = against(
            &[(200, k8s)],
            &["-name=k", "-no-merge", "-kubernetes-host=h2"],
            update_cmd,
        );
        assert_eq!(o.stderr, "Missing required '-kubernetes-ca-cert' flag\n");

        let (o, seen) = against(&[(200, "true")], &["-name=jwt-1"], delete_cmd);
        assert_eq!(seen[0].request_line, "DELETE /v1/acl/auth-method/jwt-1 HTTP/1.1");
        assert_eq!(o.stdout, "Auth method \"jwt-1\" deleted successfully\n");

        let (o, _) = against(&[(200, &format!("[{METHOD}]"))], &["-meta"], list_cmd);
        assert_eq!(
            o.stdout,
            "jwt-1:\n   Type:         jwt\n   DisplayName:  JWT\n   Description:  desc\n   \
             Create Index: 5\n   Modify Index: 6\n\n"
        );
    }
}
