//! `consul catalog datacenters|nodes|services`, as Consul 1.10's `command/catalog/list/*`:
//! `/v1/catalog/datacenters`, `/v1/catalog/nodes` (or `/v1/catalog/service/<name>` with
//! `-service`), `/v1/catalog/services` (or `/v1/catalog/node/<name>` with `-node`).
//!
//! An empty answer prints `No nodes match the given query - try expanding your search.`
//! (or `services`) to stderr and exits 0, as Consul does.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::args::{Flag, Kind, Parsed};
use super::command::{self, flag, HttpFlags, Subcommand};
use super::{columnize, tabwriter, Ui};

const CATALOG_HELP: &str = r#"
Usage: consul catalog <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's catalog. The
  catalog should not be confused with the agent, although the APIs and
  responses may be similar.

  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  List all datacenters:

      $ consul catalog datacenters

  List all nodes:

      $ consul catalog nodes

  List all services:

      $ consul catalog services

  For more examples, ask for subcommand help or view the documentation.
"#;

const DATACENTERS_HELP: &str = r#"
Usage: consul catalog datacenters [options]

  Retrieves the list of all known datacenters. This datacenters are sorted in
  ascending order based on the estimated median round trip time from the servers
  in this datacenter to the servers in the other datacenters.

  To retrieve the list of datacenters:

      $ consul catalog datacenters

  For a full list of options and examples, please see the Consul documentation.
"#;

const NODES_HELP: &str = r#"
Usage: consul catalog nodes [options]

  Retrieves the list nodes registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of nodes:

      $ consul catalog nodes

  To print detailed information including full node IDs, tagged addresses, and
  metadata information:

      $ consul catalog nodes -detailed

  To list nodes which are running a particular service:

      $ consul catalog nodes -service=web

  To filter by node metadata:

      $ consul catalog nodes -node-meta="foo=bar"

  To sort nodes by estimated round-trip time from node-web:

      $ consul catalog nodes -near=node-web

  For a full list of options and examples, please see the Consul documentation.
"#;

const SERVICES_HELP: &str = r#"
Usage: consul catalog services [options]

  Retrieves the list services registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of services:

      $ consul catalog services

  To include the services' tags in the output:

      $ consul catalog services -tags

  To list services which run on a particular node:

      $ consul catalog services -node=web

  To filter services on node metadata:

      $ consul catalog services -node-meta="foo=bar"

  For a full list of options and examples, please see the Consul documentation.
"#;

const NODES_FLAGS: &[Flag] = &[
    flag(
        "detailed",
        Kind::Bool,
        "false",
        "Output detailed information about the nodes including their addresses and metadata.",
    ),
    flag("filter", Kind::Str, "", "Filter to use with the request"),
    flag(
        "near",
        Kind::Str,
        "",
        "Node name to sort the node list in ascending order based on estimated \
         round-trip time from that node. Passing \"_agent\" will use this agent's \
         node for sorting.",
    ),
    flag(
        "node-meta",
        Kind::Map,
        "",
        "Metadata to filter nodes with the given `key=value` pairs. This flag may be \
         specified multiple times to filter on multiple sources of metadata.",
    ),
    flag(
        "service",
        Kind::Str,
        "",
        "Service `id or name` to filter nodes. Only nodes which are providing the \
         given service will be returned.",
    ),
];

const SERVICES_FLAGS: &[Flag] = &[
    flag(
        "node",
        Kind::Str,
        "",
        "Node `id or name` for which to list services.",
    ),
    flag(
        "node-meta",
        Kind::Map,
        "",
        "Metadata to filter nodes with the given `key=value` pairs. If specified, only \
         services running on nodes matching the given metadata will be returned. \
         This flag may be specified multiple times to filter on multiple sources \
         of metadata.",
    ),
    flag(
        "tags",
        Kind::Bool,
        "false",
        "Display each service's tags as a comma-separated list beside each service entry.",
    ),
];

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "datacenters",
        synopsis: "Lists all known datacenters",
        run: run_datacenters,
    },
    Subcommand {
        name: "nodes",
        synopsis: "Lists all nodes in the given datacenter",
        run: run_nodes,
    },
    Subcommand {
        name: "services",
        synopsis: "Lists all registered services in a datacenter",
        run: run_services,
    },
];

/// `consul catalog <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, CATALOG_HELP, SUBCOMMANDS, args)
}

fn run_datacenters(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(&[], HttpFlags::ClientAndServer);
    command::run_command(ui, DATACENTERS_HELP, &set, args, datacenters)
}

fn run_nodes(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(NODES_FLAGS, HttpFlags::ClientAndServer);
    command::run_command(ui, NODES_HELP, &set, args, nodes)
}

fn run_services(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(SERVICES_FLAGS, HttpFlags::ClientAndServer);
    command::run_command(ui, SERVICES_HELP, &set, args, services)
}

/// `consul catalog datacenters`.
fn datacenters(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if !command::no_args(ui, flags) {
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    match command::get_json::<Vec<String>>(client.get("/v1/catalog/datacenters", Vec::new())) {
        Ok(dcs) => {
            for dc in dcs {
                ui.info(dc);
            }
            0
        }
        Err(e) => {
            ui.error(format!("Error listing datacenters: {e}"));
            1
        }
    }
}

/// A catalog node (the API's `Node`), or the node half of a `CatalogService`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Node {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Node")]
    node: String,
    #[serde(rename = "Address")]
    address: String,
    #[serde(rename = "Datacenter")]
    datacenter: String,
    #[serde(rename = "TaggedAddresses")]
    tagged_addresses: Option<BTreeMap<String, String>>,
    /// `Meta` on a node, `NodeMeta` on a service entry.
    #[serde(rename = "Meta", alias = "NodeMeta")]
    meta: Option<BTreeMap<String, String>>,
}

/// Consul's `helpers.LoadDataSource` for `-filter`: `@file` reads a file, `-` stdin.
fn load_data_source(ui: &mut Ui<'_>, data: &str) -> Result<String, String> {
    if let Some(path) = data.strip_prefix('@') {
        return std::fs::read_to_string(path).map_err(|e| {
            format!(
                "Failed to read file: open {path}: {}",
                super::http::go_io_error(&e)
            )
        });
    }
    if data == "-" {
        let mut text = String::new();
        ui.stdin
            .read_to_string(&mut text)
            .map_err(|e| format!("Failed to read stdin: {}", super::http::go_io_error(&e)))?;
        return Ok(text);
    }
    Ok(data.to_string())
}

/// `consul catalog nodes`.
fn nodes(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if !command::no_args(ui, flags) {
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let mut params = command::node_meta_params(&flags.map("node-meta"));
    if let Some(near) = flags.string("near").filter(|s| !s.is_empty()) {
        params.push(("near", near.to_string()));
    }
    if let Some(filter) = flags.string("filter").filter(|s| !s.is_empty()) {
        match load_data_source(ui, filter) {
            Ok(filter) if !filter.is_empty() => params.push(("filter", filter)),
            Ok(_) => {}
            Err(e) => {
                ui.error(format!("Could not process filter argument: {e}"));
                return 1;
            }
        }
    }
    let service = flags.string("service").unwrap_or_default();
    let result = if service.is_empty() {
        command::get_json::<Vec<Node>>(client.get("/v1/catalog/nodes", params))
            .map_err(|e| format!("Error listing nodes: {e}"))
    } else {
        command::get_json::<Vec<Node>>(client.get(&format!("/v1/catalog/service/{service}"), params))
            .map_err(|e| format!("Error listing nodes for service: {e}"))
    };
    let nodes = match result {
        Ok(nodes) => nodes,
        Err(e) => {
            ui.error(e);
            return 1;
        }
    };
    if nodes.is_empty() {
        ui.error("No nodes match the given query - try expanding your search.");
        return 0;
    }
    ui.info(nodes_table(&nodes, flags.bool("detailed")));
    0
}

/// The nodes table, columnized like Consul's `printNodes`.
fn nodes_table(nodes: &[Node], detailed: bool) -> String {
    let mut lines = Vec::with_capacity(nodes.len() + 1);
    if detailed {
        lines.push("Node|ID|Address|DC|TaggedAddresses|Meta".to_string());
        for n in nodes {
            lines.push(format!(
                "{}|{}|{}|{}|{}|{}",
                n.node,
                n.id,
                n.address,
                n.datacenter,
                command::map_to_kv(n.tagged_addresses.as_ref().unwrap_or(&BTreeMap::new()), ", "),
                command::map_to_kv(n.meta.as_ref().unwrap_or(&BTreeMap::new()), ", "),
            ));
        }
    } else {
        lines.push("Node|ID|Address|DC".to_string());
        for n in nodes {
            // Only the first octet of the ID.
            let id = match n.id.find('-') {
                Some(i) if i > 0 => &n.id[..i],
                _ => n.id.as_str(),
            };
            lines.push(format!("{}|{id}|{}|{}", n.node, n.address, n.datacenter));
        }
    }
    columnize::format(&lines, "|")
}

/// The parts of `GET /v1/catalog/node/<name>` used here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CatalogNode {
    services: Option<BTreeMap<String, NodeService>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NodeService {
    service: String,
    tags: Option<Vec<String>>,
}

/// `consul catalog services`.
fn services(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if !command::no_args(ui, flags) {
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let params = command::node_meta_params(&flags.map("node-meta"));
    let node = flags.string("node").unwrap_or_default();
    let services: BTreeMap<String, Vec<String>> = if node.is_empty() {
        match command::get_json::<BTreeMap<String, Option<Vec<String>>>>(
            client.get("/v1/catalog/services", params),
        ) {
            Ok(map) => map.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect(),
            Err(e) => {
                ui.error(format!("Error listing services: {e}"));
                return 1;
            }
        }
    } else {
        match command::get_json::<CatalogNode>(client.get(&format!("/v1/catalog/node/{node}"), params)) {
            Ok(catalog_node) => {
                let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for s in catalog_node.services.unwrap_or_default().into_values() {
                    map.entry(s.service)
                        .or_default()
                        .extend(s.tags.unwrap_or_default());
                }
                map
            }
            Err(e) => {
                ui.error(format!("Error listing services for node: {e}"));
                return 1;
            }
        }
    };
    if services.is_empty() {
        ui.error("No services match the given query - try expanding your search.");
        return 0;
    }
    if flags.bool("tags") {
        ui.info(services_with_tags(services));
    } else {
        for name in services.keys() {
            ui.info(name);
        }
    }
    0
}

/// `-tags`: name and sorted, comma-joined tags through Go's tabwriter (padding 6), with
/// the surrounding whitespace of the whole table trimmed.
fn services_with_tags(services: BTreeMap<String, Vec<String>>) -> String {
    let mut text = String::new();
    for (name, mut tags) in services {
        tags.sort();
        text.push_str(&name);
        text.push('\t');
        text.push_str(&tags.join(","));
        text.push('\n');
    }
    let table = tabwriter::format(text.as_bytes(), 0, 6);
    String::from_utf8_lossy(&table).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    /// The nodes behind the golden `consul catalog nodes` output.
    const GOLDEN_NODES: &str = r#"[
        {"ID":"","Node":"cli-n1","Address":"127.0.0.231","Datacenter":"dc1","TaggedAddresses":null,"Meta":{"rack":"r1"}},
        {"ID":"","Node":"cli-n2","Address":"127.0.0.232","Datacenter":"dc1","TaggedAddresses":null,"Meta":null},
        {"ID":"81eb0b81-9f2d-4b31-0087-402d71c8bfe4","Node":"golden-dev","Address":"127.0.0.240","Datacenter":"dc1",
         "TaggedAddresses":{"lan":"127.0.0.240","lan_ipv4":"127.0.0.240","wan":"127.0.0.240","wan_ipv4":"127.0.0.240"},
         "Meta":{"consul-network-segment":""},"CreateIndex":11,"ModifyIndex":12}
    ]"#;

    #[test]
    fn nodes_match_golden() {
        let (o, seen) = against(&[(200, GOLDEN_NODES)], &["nodes"], run);
        assert_eq!(seen[0].request_line, "GET /v1/catalog/nodes HTTP/1.1");
        assert_eq!((o.code, o.stderr.as_str()), (0, ""));
        assert_eq!(
            o.stdout,
            "Node        ID        Address      DC\n\
             cli-n1                127.0.0.231  dc1\n\
             cli-n2                127.0.0.232  dc1\n\
             golden-dev  81eb0b81  127.0.0.240  dc1\n"
        );
    }

    #[test]
    fn detailed_nodes_match_golden() {
        let (o, _) = against(&[(200, GOLDEN_NODES)], &["nodes", "-detailed"], run);
        assert_eq!(o.code, 0);
        let want = format!(
            "Node        ID                                    Address      DC   TaggedAddresses{}Meta\n\
             cli-n1      {}127.0.0.231  dc1  {}rack=r1\n\
             cli-n2      {}127.0.0.232  dc1  {}\n\
             golden-dev  81eb0b81-9f2d-4b31-0087-402d71c8bfe4  127.0.0.240  dc1  \
             lan=127.0.0.240, lan_ipv4=127.0.0.240, wan=127.0.0.240, wan_ipv4=127.0.0.240  \
             consul-network-segment=\n",
            " ".repeat(63),
            " ".repeat(38),
            " ".repeat(78),
            " ".repeat(38),
            " ".repeat(78),
        );
        assert_eq!(o.stdout, want);
    }

    #[test]
    fn nodes_for_a_service_with_filters() {
        let body = r#"[{"ID":"","Node":"cli-n1","Address":"127.0.0.231","Datacenter":"dc1","NodeMeta":{"rack":"r1"},
                        "ServiceID":"web-1","ServiceName":"web"},
                       {"ID":"","Node":"cli-n2","Address":"127.0.0.232","Datacenter":"dc1","ServiceID":"web-2"}]"#;
        let (o, seen) = against(
            &[(200, body)],
            &[
                "nodes",
                "-service=web",
                "-near",
                "_agent",
                "-node-meta",
                "rack=r1",
                "-node-meta=a=b=c",
                "-datacenter=dc1",
                "-stale",
            ],
            run,
        );
        assert_eq!(
            seen[0].request_line,
            "GET /v1/catalog/service/web?dc=dc1&near=_agent&node-meta=a%3Ab%3Dc&node-meta=rack%3Ar1&stale= HTTP/1.1"
        );
        assert_eq!(
            o.stdout,
            "Node    ID  Address      DC\ncli-n1      127.0.0.231  dc1\ncli-n2      127.0.0.232  dc1\n"
        );

        let (o, _) = against(&[(200, body)], &["nodes", "-detailed", "-service=web"], run);
        assert!(
            o.stdout.lines().nth(1).is_some_and(|l| l.ends_with("rack=r1")),
            "{}",
            o.stdout
        );
    }

    #[test]
    fn nodes_filter_and_empty_answer() {
        let (o, seen) = against(&[(200, "[]")], &["nodes", "-filter", "Meta.rack == r1"], run);
        assert_eq!(
            seen[0].request_line,
            "GET /v1/catalog/nodes?filter=Meta.rack+%3D%3D+r1 HTTP/1.1"
        );
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (
                0,
                "",
                "No nodes match the given query - try expanding your search.\n"
            )
        );
        let (o, _) = against(&[(200, "null")], &["nodes"], run);
        assert_eq!(o.code, 0);
        assert!(o.stderr.starts_with("No nodes match"));
    }

    #[test]
    fn nodes_errors() {
        let (o, _) = against(
            &[(500, "No path to datacenter")],
            &["nodes", "-datacenter", "dc9"],
            run,
        );
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            "Error listing nodes: Unexpected response code: 500 (No path to datacenter)\n"
        );
        let (o, _) = against(&[(500, "boom")], &["nodes", "-service", "web"], run);
        assert_eq!(
            o.stderr,
            "Error listing nodes for service: Unexpected response code: 500 (boom)\n"
        );
        let o = offline(&["nodes", "extra"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Too many arguments (expected 0, got 1)\n")
        );
        let o = offline(&["nodes", "-node-meta", "novalue"], run);
        assert_eq!(o.code, 1);
        assert!(o.stderr.starts_with(
            "invalid value \"novalue\" for flag -node-meta: Missing \"=\" value in argument: novalue\nUsage:\n"
        ));
        assert!(o.stderr.contains("\n  -node-meta key=value\n"), "{}", o.stderr);
        let o = offline(&["nodes", "-filter", "@/nonexistent/f"], run);
        assert_eq!(
            o.stderr,
            "Could not process filter argument: Failed to read file: open /nonexistent/f: no such file or directory\n"
        );
    }

    /// `GET /v1/catalog/services` behind the golden output.
    const GOLDEN_SERVICES: &str = r#"{"consul":[],"db":null,"web":["v1","primary","v2"]}"#;

    #[test]
    fn services_match_golden() {
        let (o, seen) = against(&[(200, GOLDEN_SERVICES)], &["services"], run);
        assert_eq!(seen[0].request_line, "GET /v1/catalog/services HTTP/1.1");
        assert_eq!((o.code, o.stdout.as_str()), (0, "consul\ndb\nweb\n"));

        let (o, _) = against(&[(200, GOLDEN_SERVICES)], &["services", "-tags"], run);
        assert_eq!(
            o.stdout,
            "consul      \ndb          \nweb         primary,v1,v2\n"
        );
    }

    #[test]
    fn services_of_a_node() {
        let body = r#"{"Node":{"Node":"cli-n2"},"Services":{
            "web-2":{"ID":"web-2","Service":"web","Tags":["v2"]},
            "web-3":{"ID":"web-3","Service":"web","Tags":["a"]},
            "db-1":{"ID":"db-1","Service":"db","Tags":null}}}"#;
        let (o, seen) = against(
            &[(200, body)],
            &["services", "-node=cli-n2", "-tags", "-node-meta=k=v"],
            run,
        );
        assert_eq!(
            seen[0].request_line,
            "GET /v1/catalog/node/cli-n2?node-meta=k%3Av HTTP/1.1"
        );
        assert_eq!(o.stdout, "db       \nweb      a,v2\n");

        let (o, _) = against(&[(200, "null")], &["services", "-node=nosuch"], run);
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (
                0,
                "",
                "No services match the given query - try expanding your search.\n"
            )
        );
        let (o, _) = against(&[(403, "Permission denied")], &["services", "-node=x"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error listing services for node: Unexpected response code: 403 (Permission denied)\n"
            )
        );
    }

    #[test]
    fn datacenters_list() {
        let (o, seen) = against(&[(200, "[\"dc1\",\"dc2\"]")], &["datacenters"], run);
        assert_eq!(seen[0].request_line, "GET /v1/catalog/datacenters HTTP/1.1");
        assert_eq!((o.code, o.stdout.as_str()), (0, "dc1\ndc2\n"));
        let (o, _) = against(&[(500, "x")], &["datacenters"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error listing datacenters: Unexpected response code: 500 (x)\n"
            )
        );
    }

    #[test]
    fn group_help() {
        let o = offline(&[], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("Usage: consul catalog <subcommand> [options] [args]\n\n"));
        assert!(o.stderr.ends_with(
            "\n\nSubcommands:\n    datacenters    Lists all known datacenters\n    \
             nodes          Lists all nodes in the given datacenter\n    \
             services       Lists all registered services in a datacenter\n"
        ));
        assert_eq!(offline(&["-help"], run).code, 0);
        let o = offline(&["nodes", "-h"], run);
        assert_eq!(o.code, 0);
        assert!(o.stderr.starts_with("Usage: consul catalog nodes [options]\n"));
        assert!(o.stderr.contains("\n  -node-meta=<key=value>\n"), "{}", o.stderr);
        assert!(o.stderr.contains("\n  -service=<id or name>\n"), "{}", o.stderr);
    }
}
