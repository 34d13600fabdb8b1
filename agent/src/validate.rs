//! The agent's side of `rconsul validate`: config files loaded exactly as at start.

use crate::config::parse_agent_args;

/// Builds the agent configuration from `paths` (files or directories, read as `format`
/// when it is `"json"` or `"hcl"`) and reads their service and check definitions, as the
/// agent does at start; the first problem in Consul's words.
pub fn check_config(paths: &[String], format: &str) -> Result<(), String> {
    let mut args: Vec<String> = paths.iter().map(|p| format!("-config-file={p}")).collect();
    if !format.is_empty() {
        args.push(format!("-config-format={format}"));
    }
    let cfg = parse_agent_args(&args).map_err(|e| e.to_string())?;
    crate::local::config_services::load(&cfg.config_sources, cfg.config_format, &[]).map(|_| ())
}
