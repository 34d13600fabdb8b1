//! `consul operator raft list-peers|remove-peer`, as Consul 1.10's `command/operator`:
//! `GET /v1/operator/raft/configuration` laid out with columnize, and
//! `DELETE /v1/operator/raft/peer?address=|?id=`.

use serde::Deserialize;

use super::args::{Kind, Parsed};
use super::command::{self, flag, HttpFlags, Subcommand};
use super::http::{Client, Config};
use super::{columnize, Ui};

const OPERATOR_HELP: &str = r#"
Usage: consul operator <subcommand> [options]

  Provides cluster-level tools for Consul operators, such as interacting with
  the Raft subsystem. NOTE: Use this command with extreme caution, as improper
  use could lead to a Consul outage and even loss of data.

  If ACLs are enabled then a token with operator privileges may be required in
  order to use this command. Requests are forwarded internally to the leader
  if required, so this can be run from any Consul node in a cluster.

  Run consul operator <subcommand> with no arguments for help on that
  subcommand.
"#;

const RAFT_HELP: &str = r#"
Usage: consul operator raft <subcommand> [options]

The Raft operator command is used to interact with Consul's Raft subsystem. The
command can be used to verify Raft peers or in rare cases to recover quorum by
removing invalid peers.
"#;

const LIST_PEERS_HELP: &str = r#"
Usage: consul operator raft list-peers [options]

  Displays the current Raft peer configuration.
"#;

const REMOVE_PEER_HELP: &str = r#"
Usage: consul operator raft remove-peer [options]

  Remove the Consul server with given -address from the Raft configuration.

  There are rare cases where a peer may be left behind in the Raft quorum even
  though the server is no longer present and known to the cluster. This command
  can be used to remove the failed server so that it is no longer affects the Raft
  quorum. If the server still shows in the output of the "consul members" command,
  it is preferable to clean up by simply running "consul force-leave" instead of
  this command.
"#;

const OPERATOR_SUBCOMMANDS: &[Subcommand] = &[Subcommand {
    name: "raft",
    synopsis: "Provides cluster-level tools for Consul operators",
    run: run_raft,
}];

const RAFT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "list-peers",
        synopsis: "Display the current Raft peer configuration",
        run: run_list_peers,
    },
    Subcommand {
        name: "remove-peer",
        synopsis: "Remove a Consul server from the Raft configuration",
        run: run_remove_peer,
    },
];

/// One server of `/v1/operator/raft/configuration` (the API's `RaftServer`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RaftServer {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    leader: bool,
    protocol_version: String,
    voter: bool,
}

/// The API's `RaftConfiguration`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RaftConfiguration {
    servers: Vec<RaftServer>,
}

/// `consul operator <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, OPERATOR_HELP, OPERATOR_SUBCOMMANDS, args)
}

fn run_raft(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, RAFT_HELP, RAFT_SUBCOMMANDS, args)
}

/// The operator commands say `Error initializing client` where others say
/// `Error connecting to Consul agent`.
fn client(ui: &mut Ui<'_>, flags: &Parsed) -> Option<Client> {
    match Config::resolve(flags, &|name| ui.env(name)) {
        Ok(config) => Some(Client::new(config)),
        Err(e) => {
            ui.error(format!("Error initializing client: {e}"));
            None
        }
    }
}

fn run_list_peers(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(&[], HttpFlags::ClientAndServer);
    command::run_command(ui, LIST_PEERS_HELP, &set, args, list_peers)
}

fn list_peers(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(client) = client(ui, flags) else {
        return 1;
    };
    let reply: RaftConfiguration =
        match command::get_json(client.get("/v1/operator/raft/configuration", Vec::new())) {
            Ok(reply) => reply,
            Err(e) => {
                ui.error(format!(
                    "Error getting peers: Failed to retrieve raft configuration: {e}"
                ));
                return 1;
            }
        };
    ui.info(peers_table(&reply));
    0
}

/// Consul's table: one row per server, in the configuration's order.
fn peers_table(reply: &RaftConfiguration) -> String {
    let mut lines = vec!["Node|ID|Address|State|Voter|RaftProtocol".to_string()];
    for s in &reply.servers {
        let protocol = if s.protocol_version.is_empty() {
            "<=1"
        } else {
            s.protocol_version.as_str()
        };
        let state = if s.leader { "leader" } else { "follower" };
        lines.push(format!(
            "{}|{}|{}|{state}|{}|{protocol}",
            s.node, s.id, s.address, s.voter
        ));
    }
    columnize::format(&lines, "|")
}

fn run_remove_peer(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        flag(
            "address",
            Kind::Str,
            "",
            "The address to remove from the Raft configuration.",
        ),
        flag(
            "id",
            Kind::Str,
            "",
            "The ID to remove from the Raft configuration.",
        ),
    ];
    let set = command::flag_set(&own, HttpFlags::ClientAndServer);
    command::run_command(ui, REMOVE_PEER_HELP, &set, args, remove_peer)
}

fn remove_peer(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(client) = client(ui, flags) else {
        return 1;
    };
    let address = flags.string("address").unwrap_or_default();
    let id = flags.string("id").unwrap_or_default();
    let result = match (address.is_empty(), id.is_empty()) {
        (true, true) => Err("an address or id is required for the peer to remove".to_string()),
        (false, false) => Err("cannot give both an address and id".to_string()),
        (false, true) => command::require_ok(
            client.delete("/v1/operator/raft/peer", vec![("address", address.to_string())]),
        )
        .map(|_| ()),
        (true, false) => {
            command::require_ok(client.delete("/v1/operator/raft/peer", vec![("id", id.to_string())]))
                .map(|_| ())
        }
    };
    if let Err(e) = result {
        ui.error(format!("Error removing peer: {e}"));
        return 1;
    }
    if address.is_empty() {
        ui.info(format!("Removed peer with id {}", command::go_quote(id)));
    } else {
        ui.info(format!(
            "Removed peer with address {}",
            command::go_quote(address)
        ));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    const CONFIG: &str = r#"{"Servers":[
        {"ID":"7735b403-5ae5-ce73-80d8-b3ccf4fdd714","Node":"srv1","Address":"127.0.0.241:8300","Leader":true,"ProtocolVersion":"3","Voter":true},
        {"ID":"3b01e541-ec82-26fc-da5a-4606b9d0e05c","Node":"srv3","Address":"127.0.0.243:8300","Leader":false,"ProtocolVersion":"3","Voter":true},
        {"ID":"f45ff151-a23d-5f25-5f1f-2e1e76e063a5","Node":"srv2","Address":"127.0.0.242:8300","Leader":false,"ProtocolVersion":"3","Voter":true}],"Index":1}"#;

    fn list(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        run(
            ui,
            &[&["raft".to_string(), "list-peers".to_string()], args].concat(),
        )
    }

    fn remove(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        run(
            ui,
            &[&["raft".to_string(), "remove-peer".to_string()], args].concat(),
        )
    }

    #[test]
    fn list_peers_prints_consuls_table() {
        let (o, seen) = against(&[(200, CONFIG)], &["-stale"], list);
        assert_eq!(
            seen[0].request_line,
            "GET /v1/operator/raft/configuration?stale= HTTP/1.1"
        );
        assert_eq!(o.code, 0);
        assert_eq!(
            o.stdout,
            "Node  ID                                    Address           State     Voter  RaftProtocol\n\
             srv1  7735b403-5ae5-ce73-80d8-b3ccf4fdd714  127.0.0.241:8300  leader    true   3\n\
             srv3  3b01e541-ec82-26fc-da5a-4606b9d0e05c  127.0.0.243:8300  follower  true   3\n\
             srv2  f45ff151-a23d-5f25-5f1f-2e1e76e063a5  127.0.0.242:8300  follower  true   3\n"
        );

        let (o, _) = against(&[(500, "No cluster leader")], &[], list);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error getting peers: Failed to retrieve raft configuration: Unexpected response code: 500 (No cluster leader)\n"
            )
        );
    }

    #[test]
    fn remove_peer_by_address_or_id() {
        let (o, seen) = against(&[(200, "")], &["-address=127.0.0.9:8300"], remove);
        assert_eq!(
            seen[0].request_line,
            "DELETE /v1/operator/raft/peer?address=127.0.0.9%3A8300 HTTP/1.1"
        );
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "Removed peer with address \"127.0.0.9:8300\"\n")
        );

        let (o, seen) = against(&[(200, "")], &["-id=abc"], remove);
        assert_eq!(
            seen[0].request_line,
            "DELETE /v1/operator/raft/peer?id=abc HTTP/1.1"
        );
        assert_eq!((o.code, o.stdout.as_str()), (0, "Removed peer with id \"abc\"\n"));

        let (o, _) = against(
            &[(500, "address \"x\" was not found in the Raft configuration")],
            &["-address=x"],
            remove,
        );
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error removing peer: Unexpected response code: 500 (address \"x\" was not found in the Raft configuration)\n"
            )
        );

        let o = offline(&[], remove);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error removing peer: an address or id is required for the peer to remove\n"
            )
        );
    }

    #[test]
    fn group_help_lists_subcommands() {
        let o = offline(&[], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("Usage: consul operator <subcommand> [options]\n"));
        assert!(o
            .stderr
            .ends_with("Subcommands:\n    raft    Provides cluster-level tools for Consul operators\n"));
        let o = offline(&["raft"], run);
        assert!(o.stderr.ends_with(
            "Subcommands:\n    list-peers     Display the current Raft peer configuration\n    \
             remove-peer    Remove a Consul server from the Raft configuration\n"
        ));
    }
}
