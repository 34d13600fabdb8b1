//! `consul members`, as Consul 1.10's `command/members`: `GET /v1/agent/members` (LAN, or
//! WAN with `-wan`), a `-status` regexp filter (exit 2 when nothing is left), servers first
//! then by name, laid out with columnize.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::args::{Flag, Kind, Parsed};
use super::command::{self, flag, HttpFlags};
use super::{columnize, Ui};
use rconsul_compat::regexp::Regexp;

const HELP: &str = r#"
Usage: consul members [options]

  Outputs the members of a running Consul agent.
"#;

/// The API's `AllSegments`: the default of `-segment`.
const ALL_SEGMENTS: &str = "_all";

const FLAGS: &[Flag] = &[
    flag(
        "detailed",
        Kind::Bool,
        "false",
        "Provides detailed information about nodes.",
    ),
    flag(
        "wan",
        Kind::Bool,
        "false",
        "If the agent is in server mode, this can be used to return the other \
         peers in the WAN pool.",
    ),
    flag(
        "status",
        Kind::Str,
        ".*",
        "If provided, output is filtered to only nodes matching the regular \
         expression for status.",
    ),
    // Consul's text lacks the space in "inthe".
    flag(
        "segment",
        Kind::Str,
        ALL_SEGMENTS,
        "(Enterprise-only) If provided, output is filtered to only nodes in\
         the given segment.",
    ),
];

/// One serf member (the API's `AgentMember`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Member {
    name: String,
    addr: String,
    port: u64,
    tags: Option<BTreeMap<String, String>>,
    status: i64,
}

/// `consul members <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(FLAGS, HttpFlags::Client);
    command::run_command(ui, HELP, &set, args, members)
}

fn members(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let status_re = match Regexp::new(flags.string("status").unwrap_or(".*")) {
        Ok(re) => re,
        Err(e) => {
            ui.error(format!("Failed to compile status regexp: {e}"));
            return 1;
        }
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let segment = flags.string("segment").unwrap_or(ALL_SEGMENTS);
    let mut params = vec![("segment", segment.to_string())];
    if flags.bool("wan") {
        params.push(("wan", "1".to_string()));
    }
    let members: Vec<Member> = match command::get_json(client.get("/v1/agent/members", params)) {
        Ok(m) => m,
        Err(e) => {
            ui.error(format!("Error retrieving members: {e}"));
            return 1;
        }
    };
    let rows = prepare(members, segment, &status_re);
    if rows.is_empty() {
        return 2;
    }
    let lines = if flags.bool("detailed") {
        detailed_lines(&rows)
    } else {
        standard_lines(&rows)
    };
    ui.info(columnize::format(&lines, "|"));
    0
}

/// A member with its tags completed as Consul does before printing.
struct Row {
    member: Member,
    tags: BTreeMap<String, String>,
}

/// Fills in the `segment` tag (`<default>` when empty, `<all>` for servers when all
/// segments were asked for), keeps the members whose status matches, and sorts by segment
/// then name, which puts servers first.
fn prepare(members: Vec<Member>, segment: &str, status_re: &Regexp) -> Vec<Row> {
    let mut rows: Vec<Row> = members
        .into_iter()
        .map(|mut member| {
            let mut tags = member.tags.take().unwrap_or_default();
            if tags.get("segment").is_none_or(String::is_empty) {
                tags.insert("segment".into(), "<default>".into());
            }
            if segment == ALL_SEGMENTS && tags.get("role").map(String::as_str) == Some("consul") {
                tags.insert("segment".into(), "<all>".into());
            }
            Row { member, tags }
        })
        .filter(|row| status_re.is_match(status_name(row.member.status)))
        .collect();
    rows.sort_by(|a, b| {
        a.tags
            .get("segment")
            .cmp(&b.tags.get("segment"))
            .then_with(|| a.member.name.cmp(&b.member.name))
    });
    rows
}

/// serf's `MemberStatus.String()`.
fn status_name(status: i64) -> &'static str {
    match status {
        0 => "none",
        1 => "alive",
        2 => "leaving",
        3 => "left",
        4 => "failed",
        _ => "unknown",
    }
}

/// Go's `net.TCPAddr{IP: net.ParseIP(addr), Port: port}.String()`.
fn tcp_addr(addr: &str, port: u64) -> String {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("{v4}:{port}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{port}"),
            None => format!("[{v6}]:{port}"),
        },
        Err(_) => format!(":{port}"),
    }
}

fn tag<'a>(tags: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    tags.get(key).map_or("", String::as_str)
}

/// The default table: `Node|Address|Status|Type|Build|Protocol|DC|Segment`.
fn standard_lines(rows: &[Row]) -> Vec<String> {
    let mut lines = vec!["Node|Address|Status|Type|Build|Protocol|DC|Segment".to_string()];
    for Row { member, tags } in rows {
        let addr = tcp_addr(&member.addr, member.port);
        let status = status_name(member.status);
        let build = match tag(tags, "build") {
            "" => "< 0.3",
            b => b.split(':').next().unwrap_or(b),
        };
        let (protocol, dc, segment) = (tag(tags, "vsn"), tag(tags, "dc"), tag(tags, "segment"));
        let line = match tag(tags, "role") {
            "node" => format!(
                "{}|{addr}|{status}|client|{build}|{protocol}|{dc}|{segment}",
                member.name
            ),
            "consul" => format!(
                "{}|{addr}|{status}|server|{build}|{protocol}|{dc}|{segment}",
                member.name
            ),
            _ => format!("{}|{addr}|{status}|unknown||||", member.name),
        };
        lines.push(line);
    }
    lines
}

/// The `-detailed` table: `Node|Address|Status|Tags`, tags as sorted `k=v` pairs.
fn detailed_lines(rows: &[Row]) -> Vec<String> {
    let mut lines = vec!["Node|Address|Status|Tags".to_string()];
    for Row { member, tags } in rows {
        lines.push(format!(
            "{}|{}|{}|{}",
            member.name,
            tcp_addr(&member.addr, member.port),
            status_name(member.status),
            command::map_to_kv(tags, ",")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, args, closed_addr, offline};
    use crate::testing as ui_testing;

    /// `GET /v1/agent/members` from the golden dev agent.
    const GOLDEN: &str = r#"[{"Name":"golden-dev","Addr":"127.0.0.240","Port":8301,
        "Tags":{"acls":"0","build":"1.10.3:c976ffd2","dc":"dc1","ft_fs":"1","ft_si":"1",
        "id":"81eb0b81-9f2d-4b31-0087-402d71c8bfe4","port":"8300","raft_vsn":"3","role":"consul",
        "segment":"","vsn":"2","vsn_max":"3","vsn_min":"2","wan_join_port":"8302"},
        "Status":1,"ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4}]"#;

    /// A server, two clients (one failed) and a member of unknown role.
    const MIXED: &str = r#"[
        {"Name":"zeta","Addr":"10.0.0.3","Port":8301,"Tags":{"role":"node","build":"1.10.3:abc","vsn":"2","dc":"dc1"},"Status":1},
        {"Name":"alpha","Addr":"10.0.0.2","Port":8301,"Tags":{"role":"node","build":"1.10.3:abc","vsn":"2","dc":"dc1"},"Status":4},
        {"Name":"srv","Addr":"10.0.0.1","Port":8301,"Tags":{"role":"consul","build":"1.10.3:abc","vsn":"2","dc":"dc1"},"Status":1},
        {"Name":"odd","Addr":"::1","Port":8301,"Tags":null,"Status":3}
    ]"#;

    #[test]
    fn standard_table_matches_golden() {
        let (o, seen) = against(&[(200, GOLDEN)], &[], run);
        assert_eq!(
            seen[0].request_line,
            "GET /v1/agent/members?segment=_all HTTP/1.1"
        );
        assert_eq!((o.code, o.stderr.as_str()), (0, ""));
        assert_eq!(
            o.stdout,
            "Node        Address           Status  Type    Build   Protocol  DC   Segment\n\
             golden-dev  127.0.0.240:8301  alive   server  1.10.3  2         dc1  <all>\n"
        );
    }

    #[test]
    fn detailed_table_matches_golden() {
        let (o, _) = against(&[(200, GOLDEN)], &["-detailed"], run);
        assert_eq!(o.code, 0);
        assert_eq!(
            o.stdout,
            "Node        Address           Status  Tags\n\
             golden-dev  127.0.0.240:8301  alive   acls=0,build=1.10.3:c976ffd2,dc=dc1,ft_fs=1,ft_si=1,\
             id=81eb0b81-9f2d-4b31-0087-402d71c8bfe4,port=8300,raft_vsn=3,role=consul,segment=<all>,\
             vsn=2,vsn_max=3,vsn_min=2,wan_join_port=8302\n"
        );
    }

    #[test]
    fn wan_adds_the_parameter() {
        let (o, seen) = against(&[(200, GOLDEN)], &["-wan", "-status=alive"], run);
        assert_eq!(
            seen[0].request_line,
            "GET /v1/agent/members?segment=_all&wan=1 HTTP/1.1"
        );
        assert_eq!(o.code, 0);
    }

    #[test]
    fn servers_first_then_names_and_statuses() {
        let (o, _) = against(&[(200, MIXED)], &[], run);
        assert_eq!(o.code, 0);
        assert_eq!(
            o.stdout,
            "Node   Address        Status  Type     Build   Protocol  DC   Segment\n\
             srv    10.0.0.1:8301  alive   server   1.10.3  2         dc1  <all>\n\
             alpha  10.0.0.2:8301  failed  client   1.10.3  2         dc1  <default>\n\
             odd    [::1]:8301     left    unknown                         \n\
             zeta   10.0.0.3:8301  alive   client   1.10.3  2         dc1  <default>\n"
        );
    }

    #[test]
    fn status_filter_and_exit_two() {
        let (o, _) = against(&[(200, MIXED)], &["-status", "^(failed|left)$"], run);
        assert_eq!(o.code, 0);
        let names: Vec<&str> = o
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(names, ["alpha", "odd"]);

        let (o, _) = against(&[(200, MIXED)], &["-status=leaving"], run);
        assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (2, "", ""));

        let o = offline(&["-status=("], run);
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            "Failed to compile status regexp: error parsing regexp: missing closing ): `(`\n"
        );
    }

    #[test]
    fn unreachable_agent_reads_like_consul() {
        let addr = closed_addr();
        let o = ui_testing::run(&[], b"", |ui| run(ui, &args(&["-http-addr", &addr])));
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            format!(
                "Error retrieving members: Get \"http://{addr}/v1/agent/members?segment=_all\": \
                 dial tcp {addr}: connect: connection refused\n"
            )
        );
    }

    #[test]
    fn server_errors_and_flags() {
        let (o, _) = against(
            &[(
                500,
                "Network segments are not supported in this version of Consul",
            )],
            &["-segment=bogus"],
            run,
        );
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            "Error retrieving members: Unexpected response code: 500 \
             (Network segments are not supported in this version of Consul)\n"
        );

        let o = offline(&["-stale"], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("flag provided but not defined: -stale\nUsage:\n"));
        assert!(o.stderr.contains("  -status string\n"), "{}", o.stderr);
        assert!(o.stderr.contains(" (default \".*\")\n"), "{}", o.stderr);

        let o = offline(&["-h"], run);
        assert_eq!(o.code, 0);
        assert!(o.stderr.starts_with(
            "Usage: consul members [options]\n\n  Outputs the members of a running Consul agent.\n\n\
             HTTP API Options\n"
        ));
        assert!(o.stderr.contains("\n\nCommand Options\n\n  -detailed\n"));
    }

    #[test]
    fn addresses_print_like_go() {
        assert_eq!(tcp_addr("127.0.0.1", 8301), "127.0.0.1:8301");
        assert_eq!(tcp_addr("fe80::1", 8301), "[fe80::1]:8301");
        assert_eq!(tcp_addr("::ffff:10.0.0.1", 1), "10.0.0.1:1");
        assert_eq!(tcp_addr("bogus", 1), ":1");
    }
}
