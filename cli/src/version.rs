//! `consul version`: Consul's version banner, with rconsul's version as the revision.

use super::Ui;

/// The Consul version rconsul speaks for.
const CONSUL_VERSION: &str = "1.10.3";

/// The banner, exactly as `consul version` prints it (the protocol line ends with an extra
/// newline in Consul's source, hence the blank last line).
fn text() -> String {
    format!(
        "Consul v{CONSUL_VERSION}\n\
         Revision rconsul-{}\n\
         Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use \
         protocol >2 when speaking to compatible agents)\n\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Prints the banner to stdout; always succeeds.
pub(crate) fn run(ui: &mut Ui<'_>) -> i32 {
    let text = text();
    let _ = ui.out.write_all(text.as_bytes());
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn prints_consul_banner() {
        let o = testing::run(&[], b"", run);
        assert_eq!(o.code, 0);
        assert_eq!(o.stderr, "");
        assert_eq!(
            o.stdout,
            format!(
                "Consul v1.10.3\nRevision rconsul-{}\nProtocol 2 spoken by default, understands 2 to 3 \
                 (agent will automatically use protocol >2 when speaking to compatible agents)\n\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
}
