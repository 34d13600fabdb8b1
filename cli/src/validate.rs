//! `consul validate [-config-format=hcl|json] [-quiet] FILE_OR_DIRECTORY...`: loads the
//! files exactly as `rconsul agent -config-file ...` would (settings, then service and
//! check definitions) and reports the first problem, as Consul 1.10's `command/validate`.

use super::args::{FlagSet, Kind, Parsed};
use super::command::{self, flag};
use super::Ui;

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

/// `consul validate <args>`; `check` is the agent's own loader ([`crate::AgentHooks`]).
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String], check: fn(&[String], &str) -> Result<(), String>) -> i32 {
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
    command::run_command(ui, HELP, &set, args, |ui, flags| validate(ui, flags, check))
}

fn validate(ui: &mut Ui<'_>, flags: &Parsed, check: fn(&[String], &str) -> Result<(), String>) -> i32 {
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

// Tested end to end, with the agent's loader, in tests/cli.rs (`validate_*`).
