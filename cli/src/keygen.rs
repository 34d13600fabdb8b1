//! `consul keygen`: a new 32-byte gossip encryption key, base64-encoded, as Consul 1.10's
//! `command/keygen` prints it (the agent's `-encrypt` / `encrypt` takes it as it is).

use base64::Engine as _;

use super::args::FlagSet;
use super::command;
use super::Ui;

const HELP: &str = r#"
Usage: consul keygen

  Generates a new 32-byte encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects.
"#;

/// `consul keygen <args>`: prints a fresh key on stdout; extra arguments are ignored, as
/// in Consul.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = FlagSet::new(Vec::new());
    command::run_command(ui, HELP, &set, args, |ui, _| {
        ui.info(new_key());
        0
    })
}

/// A fresh random 32-byte gossip key, base64-encoded: what `keygen` prints.
pub fn new_key() -> String {
    let key: [u8; 32] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::offline;

    #[test]
    fn prints_a_fresh_32_byte_base64_key() {
        let a = offline(&[], run);
        let b = offline(&[], run);
        assert_eq!((a.code, a.stderr.as_str()), (0, ""));
        let key = a.stdout.trim_end_matches('\n');
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("base64");
        assert_eq!(bytes.len(), 32);
        assert_ne!(a.stdout, b.stdout, "every key is new");
    }

    #[test]
    fn help_goes_to_stderr() {
        let o = offline(&["-h"], run);
        assert_eq!(o.code, 0);
        assert!(o.stderr.contains("Usage: consul keygen"), "{}", o.stderr);
    }
}
