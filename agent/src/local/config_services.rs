//! `service`, `services`, `check` and `checks` blocks in the agent's config files (JSON or HCL).

use std::path::{Path, PathBuf};

use rconsul_state::agent::{CheckDefinition, ServiceDefinition};

use crate::config::ConfigFormat;

/// Reads every config file (and the `*.json` / `*.hcl` files of every config dir, in name
/// order) the same way the agent's settings were read, and returns their service and check
/// definitions.
pub fn load(
    sources: &[PathBuf],
    format: Option<ConfigFormat>,
    fragments: &[String],
) -> Result<(Vec<ServiceDefinition>, Vec<CheckDefinition>), String> {
    let mut services = Vec::new();
    let mut checks = Vec::new();
    let mut values = crate::config::load_values(sources, format).map_err(|e| e.to_string())?;
    values.extend(crate::config::fragment_values(fragments).map_err(|e| e.to_string())?);
    for (file, value) in values {
        collect(&value, &file, &mut services, &mut checks)?;
    }
    Ok((services, checks))
}

fn as_list(v: &serde_json::Value) -> Vec<serde_json::Value> {
    match v {
        serde_json::Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn collect(
    value: &serde_json::Value,
    file: &Path,
    services: &mut Vec<ServiceDefinition>,
    checks: &mut Vec<CheckDefinition>,
) -> Result<(), String> {
    let Some(obj) = value.as_object() else {
        return Ok(());
    };
    for key in ["service", "services"] {
        if let Some(v) = obj.get(key) {
            for item in as_list(v) {
                let def = rconsul_http_api::routes::agent::service_definition(item)
                    .map_err(|e| format!("Error parsing {}: {key}: {}", file.display(), e.message))?;
                services.push(def);
            }
        }
    }
    for key in ["check", "checks"] {
        if let Some(v) = obj.get(key) {
            for item in as_list(v) {
                let fields = rconsul_http_api::decode::Fields::new(item, "CheckDefinition")
                    .map_err(|e| format!("Error parsing {}: {key}: {}", file.display(), e.message))?;
                let def = rconsul_http_api::routes::agent::check_definition(fields)
                    .map_err(|e| format!("Error parsing {}: {key}: {}", file.display(), e.message))?;
                checks.push(def);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_and_json_definitions_load_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hcl = r#"
            service {
              name = "web"
              port = 80
              tags = ["v1"]
              check {
                http     = "http://localhost/health"
                interval = "10s"
              }
            }
            service {
              name = "db"
            }
            services = [{ name = "cache", checks = [{ ttl = "5s" }, { ttl = "6s" }] }]
            check {
              id  = "node-ttl"
              ttl = "30s"
            }
        "#;
        std::fs::write(dir.path().join("a.hcl"), hcl).expect("write");
        std::fs::write(
            dir.path().join("b.json"),
            r#"{"service": {"name": "api", "check": {"tcp": "localhost:1", "interval": "5s"}}}"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("c.txt"), "service { name = \"ignored\" }").expect("write");

        let (services, checks) = load(&[dir.path().to_path_buf()], None, &[]).expect("load");
        let names: Vec<&str> = services.iter().map(|s| s.service.service.as_str()).collect();
        assert_eq!(names, vec!["web", "db", "cache", "api"]);
        assert_eq!(services[0].service.port, 80);
        assert_eq!(services[0].checks.len(), 1);
        assert_eq!(services[0].checks[0].http, "http://localhost/health");
        assert_eq!(services[2].checks.len(), 2);
        assert_eq!(services[3].checks[0].tcp, "localhost:1");
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].id, "node-ttl");
    }

    #[test]
    fn hcl_fragments_define_services_after_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("a.json");
        std::fs::write(&f, r#"{"service": {"name": "from-file"}}"#).expect("write");
        let fragments = vec!["service {\n  name = \"from-flag\"\n  port = 9\n}".to_string()];
        let (services, _) = load(std::slice::from_ref(&f), None, &fragments).expect("load");
        let names: Vec<&str> = services.iter().map(|s| s.service.service.as_str()).collect();
        assert_eq!(names, ["from-file", "from-flag"]);
        let bad = vec!["service {\n  port = 9\n}".to_string()];
        let e = load(&[], None, &bad).expect_err("no name");
        assert!(e.contains("flags-0.hcl"), "{e}");
    }

    #[test]
    fn hcl_definition_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("bad.hcl");
        std::fs::write(&f, "service {\n  port = 80\n}\n").expect("write");
        let e = load(std::slice::from_ref(&f), None, &[]).expect_err("no name");
        assert!(e.contains("bad.hcl") && e.contains("service"), "{e}");
        std::fs::write(&f, "service {\n  name = \n}\n").expect("write");
        let e = load(std::slice::from_ref(&f), None, &[]).expect_err("syntax");
        assert!(e.contains("bad.hcl") && e.contains("line 2"), "{e}");
    }
}
