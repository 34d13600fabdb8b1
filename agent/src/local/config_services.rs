//! `service`, `services`, `check` and `checks` blocks in the agent's JSON config files.

use std::path::{Path, PathBuf};

use rconsul_state::agent::{CheckDefinition, ServiceDefinition};

/// Reads every config file (and `*.json` in every config dir, in name order) and
/// returns their service and check definitions.
pub fn load(sources: &[PathBuf]) -> Result<(Vec<ServiceDefinition>, Vec<CheckDefinition>), String> {
    let mut services = Vec::new();
    let mut checks = Vec::new();
    for source in sources {
        for file in files_of(source)? {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("Error parsing {}: {e}", file.display()))?;
            collect(&value, &file, &mut services, &mut checks)?;
        }
    }
    Ok((services, checks))
}

fn files_of(source: &Path) -> Result<Vec<PathBuf>, String> {
    if source.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(source)
            .map_err(|e| format!("{}: {e}", source.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        Ok(files)
    } else {
        Ok(vec![source.to_path_buf()])
    }
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
