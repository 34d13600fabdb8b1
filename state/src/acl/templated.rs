//! Built-in templated policies (`builtin/service`, `builtin/node`, `builtin/dns`, ...) and
//! the rules of service and node identities, which Consul defines by the same templates.

/// A built-in templated policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// Its name, e.g. `builtin/service`.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Whether it takes the `name` variable.
    pub takes_name: bool,
    /// The rules, with `{{.Name}}` where the name goes.
    pub template: &'static str,
}

const SERVICE_RULES: &str = r#"
service "{{.Name}}" {
	policy = "write"
}
service "{{.Name}}-sidecar-proxy" {
	policy = "write"
}
service_prefix "" {
	policy = "read"
}
node_prefix "" {
	policy = "read"
}"#;

const NODE_RULES: &str = r#"
node "{{.Name}}" {
	policy = "write"
}
service_prefix "" {
	policy = "read"
}"#;

const DNS_RULES: &str = r#"
node_prefix "" {
	policy = "read"
}
service_prefix "" {
	policy = "read"
}
query_prefix "" {
	policy = "read"
}"#;

const NOMAD_SERVER_RULES: &str = r#"
acl = "write"
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "write"
}"#;

const NOMAD_CLIENT_RULES: &str = r#"
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "write"
}
service_prefix "" {
  policy = "write"
}
key_prefix "" {
  policy = "read"
}"#;

const API_GATEWAY_RULES: &str = r#"
mesh = "read"
node_prefix "" {
	policy = "read"
}
service_prefix "" {
	policy = "read"
}
service "{{.Name}}" {
	policy = "write"
}"#;

/// Every built-in templated policy, by name.
pub const BUILTIN: &[Template] = &[
    Template {
        name: "builtin/api-gateway",
        description: "Allows the API gateway to register itself in the catalog and read the services it routes to.",
        takes_name: true,
        template: API_GATEWAY_RULES,
    },
    Template {
        name: "builtin/dns",
        description: "Allows Consul to read and respond to DNS queries for every node, service and prepared query.",
        takes_name: false,
        template: DNS_RULES,
    },
    Template {
        name: "builtin/node",
        description: "Allows the node to register itself in the catalog and read every service.",
        takes_name: true,
        template: NODE_RULES,
    },
    Template {
        name: "builtin/nomad-client",
        description: "Allows a Nomad client to register services and read the KV store.",
        takes_name: false,
        template: NOMAD_CLIENT_RULES,
    },
    Template {
        name: "builtin/nomad-server",
        description: "Allows a Nomad server to manage ACLs and register services.",
        takes_name: false,
        template: NOMAD_SERVER_RULES,
    },
    Template {
        name: "builtin/service",
        description: "Allows the service and its sidecar proxy to register in the catalog and read every service and node.",
        takes_name: true,
        template: SERVICE_RULES,
    },
];

/// The JSON schema of a template's variables, as Consul's API shows it.
pub fn schema(t: &Template) -> &'static str {
    if t.takes_name {
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"name\": { \"$ref\": \"#/definitions/min-length-one\" }\n  },\n  \"required\": [\"name\"],\n  \"definitions\": {\n    \"min-length-one\": {\n      \"type\": \"string\",\n      \"minLength\": 1\n    }\n  }\n}"
    } else {
        ""
    }
}

/// A built-in template by name.
pub fn find(name: &str) -> Option<&'static Template> {
    BUILTIN.iter().find(|t| t.name == name)
}

/// Why a template could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No such built-in template.
    #[error("templated policy {0:?} not found")]
    Unknown(String),
    /// The template needs `name` and none (or an empty one) was given.
    #[error("Failed to validate variables for templated policy {0:?}: name is required")]
    MissingName(String),
}

/// The rules of template `name` with variable `var_name`.
pub fn render(name: &str, var_name: Option<&str>) -> Result<String, TemplateError> {
    let t = find(name).ok_or_else(|| TemplateError::Unknown(name.to_string()))?;
    if !t.takes_name {
        return Ok(t.template.to_string());
    }
    match var_name {
        Some(n) if !n.is_empty() => Ok(t.template.replace("{{.Name}}", n)),
        _ => Err(TemplateError::MissingName(name.to_string())),
    }
}

/// The rules a service identity grants (Consul's `builtin/service`).
pub fn service_identity_rules(service: &str) -> String {
    SERVICE_RULES.replace("{{.Name}}", service)
}

/// The rules a node identity grants (Consul's `builtin/node`).
pub fn node_identity_rules(node: &str) -> String {
    NODE_RULES.replace("{{.Name}}", node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::authorizer::{Authorizer, Need};
    use crate::acl::rules::{parse, Kind};

    #[test]
    fn every_template_renders_to_valid_rules() {
        for t in BUILTIN {
            let text = render(t.name, Some("x")).unwrap();
            parse(&text).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert_eq!(schema(t).is_empty(), !t.takes_name);
        }
        assert_eq!(
            render("builtin/service", None),
            Err(TemplateError::MissingName("builtin/service".into()))
        );
        assert!(matches!(
            render("builtin/nope", None),
            Err(TemplateError::Unknown(_))
        ));
    }

    #[test]
    fn a_service_identity_writes_its_service_and_reads_the_rest() {
        let rules = parse(&service_identity_rules("web")).unwrap();
        let a = Authorizer::from_rules([&rules], false);
        assert!(a.allows(Kind::Service, "web", Need::Write));
        assert!(a.allows(Kind::Service, "web-sidecar-proxy", Need::Write));
        assert!(a.allows(Kind::Service, "db", Need::Read) && !a.allows(Kind::Service, "db", Need::Write));
        assert!(a.allows(Kind::Node, "n1", Need::Read));
        assert!(!a.allows(Kind::Key, "k", Need::Read));
    }
}
