//! `consul validate [-config-format=hcl|json] [-quiet] FILE_OR_DIRECTORY...`: loads the
//! files exactly as `rconsul agent -config-file ...` would (settings, then service and
//! check definitions) and reports the first problem, as Consul 1.10's `command/validate`.

use super::args::{FlagSet, Kind, Parsed};
use super::command::{self, flag};
use super::Ui;
use crate::config::parse_agent_args;

const HELP: &str = r#"
Usage: consul validate [options] FILE_OR_DIRECTORY...

  Performs a thorough sanity test on Consul configuration files. For each file
  or directory given, the validate command will attempt to parse the contents
  just as the "consul agent" command would, and catch any errors.

  This is useful to do a test of the configuration only, without actually
  starting the agent. This performs all of the validation the agent would, so
  this should be given the complete set of configuration files that are going
  to be loaded by the agent. This command cannot operate on partial
  configuration fragments since those won't pass the full agent validation.

  Returns 0 if the configuration is valid, or 1 if there are problems.
"#;

/// `consul validate <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = vec![
        flag(
            "config-format",
            Kind::Str,
            "",
            "Config files are in this format irrespective of their extension. Must be 'hcl' or 'json'",
        ),
        flag(
            "quiet",
            Kind::Bool,
            "false",
            "When given, a successful run will produce no output.",
        ),
    ];
    let set = FlagSet::new(own);
    command::run_command(ui, HELP, &set, args, validate)
}

fn validate(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if flags.args.is_empty() {
        ui.error("Must specify at least one config file or directory");
        return 1;
    }
    let format = flags.string("config-format").unwrap_or_default();
    if !matches!(format, "" | "json" | "hcl") {
        // Consul's text, unbalanced quote included.
        ui.error("-config-format must be either 'hcl' or 'json");
        return 1;
    }
    match check(&flags.args, format) {
        Ok(()) => {
            if !flags.bool("quiet") {
                ui.info("Configuration is valid!");
            }
            0
        }
        Err(e) => {
            ui.error(format!("Config validation failed: {e}"));
            1
        }
    }
}

/// Builds the agent configuration from `paths` and reads their service and check
/// definitions, as the agent does at start.
fn check(paths: &[String], format: &str) -> Result<(), String> {
    let mut args = Vec::new();
    for p in paths {
        args.push(format!("-config-file={p}"));
    }
    if !format.is_empty() {
        args.push(format!("-config-format={format}"));
    }
    let cfg = parse_agent_args(&args).map_err(|e| e.to_string())?;
    crate::local::config_services::load(&cfg.config_sources, cfg.config_format, &[]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::command::testing::offline;

    fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }

    #[test]
    fn a_valid_directory_passes_and_quiet_says_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "a.hcl",
            "data_dir = \"/tmp/x\"\nserver = true\nbootstrap_expect = 3\n",
        );
        write(
            dir.path(),
            "b.json",
            r#"{"service": {"name": "web", "port": 80, "check": {"ttl": "10s"}}}"#,
        );
        let d = dir.path().display().to_string();
        let o = offline(&[&d], run);
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, "Configuration is valid!\n", "")
        );
        let o = offline(&["-quiet", &d], run);
        assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    }

    #[test]
    fn problems_are_reported_like_consul() {
        let dir = tempfile::tempdir().expect("tempdir");
        let unknown = write(dir.path(), "u.json", r#"{"data_dir": "/tmp/x", "nodename": "n"}"#);
        let o = offline(&[&unknown], run);
        assert_eq!(o.code, 1);
        assert!(
            o.stderr.starts_with("Config validation failed: ") && o.stderr.contains("nodename"),
            "{}",
            o.stderr
        );
        let no_dir = write(dir.path(), "n.json", r#"{"server": true}"#);
        let o = offline(&[&no_dir], run);
        assert!(o.stderr.contains("data_dir cannot be empty"), "{}", o.stderr);
        let bad_service = write(
            dir.path(),
            "s.json",
            r#"{"data_dir": "/tmp/x", "service": {"port": 1}}"#,
        );
        let o = offline(&[&bad_service], run);
        assert_eq!(o.code, 1);
        assert!(o.stderr.contains("s.json"), "{}", o.stderr);
        let o = offline(&[], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Must specify at least one config file or directory\n")
        );
        let o = offline(&["-config-format=yaml", &no_dir], run);
        assert_eq!(o.stderr, "-config-format must be either 'hcl' or 'json\n");
    }
}
