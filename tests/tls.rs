//! TLS on every port, with certificates made by the binary's own `tls ca create` and
//! `tls cert create`: a 3-server cluster (and a client agent) with `verify_incoming`,
//! `verify_outgoing` and `verify_server_hostname` elects a leader and replicates; a server
//! holding a `dc2` certificate gets no raft traffic; HTTPS with a client certificate works
//! through the CLI and a rustls client, and fails without one; plain HTTP on the HTTPS
//! port and plain RPC on 8300 are refused; `rconsul reload` swaps the served certificate.
//! Addresses: 127.0.23.x.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{cli, try_http, wait_for, Agent, BIN};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

const CONVERGE: Duration = Duration::from_secs(30);
const SERVERS: [&str; 3] = ["127.0.23.1", "127.0.23.2", "127.0.23.3"];
const ROGUE: &str = "127.0.23.4";
const CLIENT: &str = "127.0.23.5";

/// Runs `rconsul ARGS` in `dir`; panics unless it succeeds.
fn run_in(dir: &Path, args: &[&str]) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run rconsul");
    assert!(
        out.status.success(),
        "rconsul {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The CA, a dc1 server certificate for the servers' addresses, a second one (for the
/// reload test), a dc1 client certificate and a dc2 server certificate.
fn make_certs(dir: &Path) {
    run_in(dir, &["tls", "ca", "create"]);
    let mut server = vec!["tls", "cert", "create", "-server", "-dc", "dc1"];
    for ip in SERVERS {
        server.extend(["-additional-ipaddress", ip]);
    }
    run_in(dir, &server); // dc1-server-consul-0
    run_in(dir, &server); // dc1-server-consul-1
    run_in(dir, &["tls", "cert", "create", "-client", "-dc", "dc1"]);
    run_in(
        dir,
        &[
            "tls",
            "cert",
            "create",
            "-server",
            "-dc",
            "dc2",
            "-additional-ipaddress",
            ROGUE,
        ],
    );
}

/// An agent's own copies of `cert`'s files (so one can be replaced for reload), and its
/// config file with every TLS check on and HTTPS on 8501.
fn agent_config(certs: &Path, name: &str, cert: &str) -> PathBuf {
    let own = certs.join(name);
    std::fs::create_dir_all(&own).expect("mkdir");
    std::fs::copy(certs.join(format!("{cert}.pem")), own.join("cert.pem")).expect("copy cert");
    std::fs::copy(certs.join(format!("{cert}-key.pem")), own.join("key.pem")).expect("copy key");
    let conf = own.join("tls.json");
    let json = serde_json::json!({
        "ca_file": certs.join("consul-agent-ca.pem"),
        "cert_file": own.join("cert.pem"),
        "key_file": own.join("key.pem"),
        "verify_incoming": true,
        "verify_outgoing": true,
        "verify_server_hostname": true,
        "ports": {"https": 8501},
    });
    std::fs::write(&conf, json.to_string()).expect("write config");
    conf
}

fn agent(ip: &str, name: &str, dir: &Path, conf: &Path, server: bool) -> Agent {
    let mut args = vec![
        "agent".to_string(),
        format!("-bind={ip}"),
        format!("-client={ip}"),
        format!("-node={name}"),
        format!("-data-dir={}", dir.join("data").join(name).display()),
        format!("-retry-join={}", SERVERS[0]),
        format!("-config-file={}", conf.display()),
    ];
    if server {
        args.push("-server".into());
        args.push("-bootstrap-expect=3".into());
    }
    Agent::with_args(ip, args)
}

fn load_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("open cert")
        .collect::<Result<_, _>>()
        .expect("parse cert")
}

/// A rustls client trusting the test CA, with `client` (`<prefix>`.pem and -key.pem) as
/// its certificate when given.
fn tls_client(certs: &Path, client: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in load_certs(&certs.join("consul-agent-ca.pem")) {
        roots.add(c).expect("add CA");
    }
    let builder =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
    Arc::new(match client {
        Some(prefix) => {
            let key = PrivateKeyDer::from_pem_file(certs.join(format!("{prefix}-key.pem"))).expect("key");
            builder
                .with_client_auth_cert(load_certs(&certs.join(format!("{prefix}.pem"))), key)
                .expect("client cert")
        }
        None => builder.with_no_client_auth(),
    })
}

/// GET over HTTPS with ureq on `config`.
fn https_get(config: Arc<rustls::ClientConfig>, url: &str) -> Result<(u16, String), String> {
    let agent = ureq::AgentBuilder::new()
        .tls_config(config)
        .timeout(Duration::from_secs(10))
        .build();
    match agent.get(url).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            Ok((status, r.into_string().map_err(|e| e.to_string())?))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The certificate the HTTPS listener at `addr` presents to a new connection.
fn served_cert(config: Arc<rustls::ClientConfig>, ip: &str) -> Vec<u8> {
    let name = ServerName::try_from(ip.to_string()).expect("ip name");
    let mut conn = rustls::ClientConnection::new(config, name).expect("client");
    let mut sock = TcpStream::connect(format!("{ip}:8501")).expect("connect");
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("handshake");
    }
    conn.peer_certificates().expect("peer certs")[0].to_vec()
}

/// The servers in `/v1/operator/raft/configuration` as (address, voter).
fn raft_peers(agent: &Agent) -> Option<Vec<(String, bool)>> {
    let r = try_http("GET", &agent.url("/v1/operator/raft/configuration"), None).ok()?;
    (r.status == 200).then_some(())?;
    Some(
        r.json()["Servers"]
            .as_array()?
            .iter()
            .map(|s| {
                (
                    s["Address"].as_str().unwrap_or("").to_string(),
                    s["Voter"] == true,
                )
            })
            .collect(),
    )
}

fn kv_value(agent: &Agent, key: &str) -> Option<String> {
    let r = try_http("GET", &agent.url(&format!("/v1/kv/{key}?raw&stale")), None).ok()?;
    (r.status == 200).then(|| r.text())
}

#[test]
fn tls_cluster_https_cli_refusals_and_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path();
    make_certs(certs);
    let servers: Vec<Agent> = SERVERS
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            let name = format!("tls{}", i + 1);
            let conf = agent_config(certs, &name, "dc1-server-consul-0");
            agent(ip, &name, certs, &conf, true)
        })
        .collect();

    // (a) A leader, three voters, and a write replicated to every server, all over TLS.
    for s in &servers {
        s.wait_ready(CONVERGE);
    }
    wait_for("3 voters", CONVERGE, || {
        let peers = raft_peers(&servers[0])?;
        (peers.iter().filter(|(_, voter)| *voter).count() == 3).then_some(())
    });
    assert_eq!(servers[0].put("/v1/kv/tls/a", b"one").text().trim(), "true");
    for s in &servers {
        wait_for("the write on every server", CONVERGE, || {
            (kv_value(s, "tls/a").as_deref() == Some("one")).then_some(())
        });
    }

    // A client agent with a client certificate follows the log and forwards writes.
    let client_conf = agent_config(certs, "tlsclient", "dc1-client-consul-0");
    let client = agent(CLIENT, "tlsclient", certs, &client_conf, false);
    client.wait_ready(CONVERGE);
    wait_for("a write through the client agent", CONVERGE, || {
        let r = try_http("PUT", &client.url("/v1/kv/tls/c"), Some(b"via-client")).ok()?;
        (r.text().trim() == "true").then_some(())
    });
    wait_for("the client's write on its own replica", CONVERGE, || {
        (kv_value(&client, "tls/c").as_deref() == Some("via-client")).then_some(())
    });

    // (b) A server with a dc2 certificate joins gossip but gets no raft traffic.
    let rogue_conf = agent_config(certs, "rogue", "dc2-server-consul-0");
    let rogue = agent(ROGUE, "rogue", certs, &rogue_conf, true);
    wait_for("the dc2-certificate server in gossip", CONVERGE, || {
        let r = try_http("GET", &servers[0].url("/v1/agent/members"), None).ok()?;
        r.json()
            .as_array()?
            .iter()
            .any(|m| m["Name"] == "rogue" && m["Status"] == 1)
            .then_some(())
    });
    wait_for("its RPC refused", CONVERGE, || {
        let refused_raft = servers.iter().any(|s| s.log().contains("refusing a raft RPC"));
        let refused_cert = rogue.log().contains("TLS handshake with");
        (refused_raft || refused_cert).then_some(())
    });
    assert_eq!(servers[0].put("/v1/kv/tls/b", b"two").text().trim(), "true");
    for s in &servers {
        wait_for("the second write on every server", CONVERGE, || {
            (kv_value(s, "tls/b").as_deref() == Some("two")).then_some(())
        });
    }
    let rogue_addr = format!("{ROGUE}:8300");
    let peers = raft_peers(&servers[0]).expect("raft configuration");
    assert!(
        !peers.iter().any(|(addr, voter)| *addr == rogue_addr && *voter),
        "the dc2 server became a voter: {peers:?}"
    );
    assert_eq!(kv_value(&rogue, "tls/a"), None, "the log reached the dc2 server");

    // Where Consul reports the listeners.
    let debug = servers[0].get("/v1/agent/self").json()["DebugConfig"].clone();
    assert_eq!(
        debug["HTTPSAddrs"],
        serde_json::json!([format!("tcp://{}:8501", SERVERS[0])])
    );
    assert_eq!(
        (debug["HTTPSPort"].as_i64(), debug["HTTPPort"].as_i64()),
        (Some(8501), Some(8500))
    );

    // (c) HTTPS with a client certificate: a rustls client and the CLI.
    let with_cert = tls_client(certs, Some("dc1-client-consul-0"));
    let s1 = SERVERS[0];
    let (status, body) =
        https_get(with_cert.clone(), &format!("https://{s1}:8501/v1/kv/tls/a?raw")).expect("https get");
    assert_eq!((status, body.as_str()), (200, "one"));
    let ca = certs.join("consul-agent-ca.pem").to_string_lossy().into_owned();
    let cert = certs
        .join("dc1-client-consul-0.pem")
        .to_string_lossy()
        .into_owned();
    let key = certs
        .join("dc1-client-consul-0-key.pem")
        .to_string_lossy()
        .into_owned();
    let https_addr = format!("-http-addr=https://{s1}:8501");
    let tls_flags = ["-ca-file", &ca, "-client-cert", &cert, "-client-key", &key];
    let mut put = vec!["kv", "put", &https_addr];
    put.extend(tls_flags);
    put.extend(["tls/cli", "from-cli"]);
    let (code, out, err) = cli(&put, &[]);
    assert_eq!(
        (code, out.trim()),
        (0, "Success! Data written to: tls/cli"),
        "{err}"
    );
    let mut get = vec!["kv", "get", &https_addr];
    get.extend(tls_flags);
    get.push("tls/cli");
    let (code, out, err) = cli(&get, &[]);
    assert_eq!((code, out.trim()), (0, "from-cli"), "{err}");
    // The same through the environment.
    let env = [
        ("CONSUL_HTTP_ADDR", format!("{s1}:8501")),
        ("CONSUL_HTTP_SSL", "true".to_string()),
        ("CONSUL_CACERT", ca.clone()),
        ("CONSUL_CLIENT_CERT", cert.clone()),
        ("CONSUL_CLIENT_KEY", key.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = cli(&["kv", "get", "tls/cli"], &env);
    assert_eq!((code, out.trim()), (0, "from-cli"), "{err}");

    // Without a client certificate the handshake fails.
    let without = tls_client(certs, None);
    assert!(https_get(without, &format!("https://{s1}:8501/v1/kv/tls/a?raw")).is_err());
    let (code, _, err) = cli(&["kv", "get", &https_addr, "-ca-file", &ca, "tls/cli"], &[]);
    assert_eq!(code, 1, "the CLI without a client certificate: {err}");
    assert!(
        servers[0].log().contains("TLS handshake error"),
        "no handshake error logged"
    );

    // (d) Plain HTTP on the HTTPS port: Go's 400, and closed.
    let plain = try_http("GET", &format!("http://{s1}:8501/v1/status/leader"), None).expect("an answer");
    assert_eq!(plain.status, 400);
    assert!(plain
        .text()
        .contains("Client sent an HTTP request to an HTTPS server"));
    // A plain RPC connection to 8300 is closed without an answer.
    let mut rpc = TcpStream::connect(format!("{s1}:8300")).expect("connect 8300");
    rpc.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The plain type byte and a frame (length 1, one byte).
    rpc.write_all(&[b'R', 0, 0, 0, 1, 0]).expect("write");
    let mut buf = [0u8; 16];
    assert_eq!(rpc.read(&mut buf).unwrap_or(0), 0, "the plain RPC got an answer");
    wait_for("the refusal logged", CONVERGE, || {
        servers[0]
            .log()
            .contains("refusing a plain RPC connection")
            .then_some(())
    });

    // Reload: new connections get the new certificate.
    let before = served_cert(with_cert.clone(), s1);
    assert_eq!(
        before,
        load_certs(&certs.join("dc1-server-consul-0.pem"))[0].to_vec()
    );
    let own = certs.join("tls1");
    std::fs::copy(certs.join("dc1-server-consul-1.pem"), own.join("cert.pem")).expect("copy");
    std::fs::copy(certs.join("dc1-server-consul-1-key.pem"), own.join("key.pem")).expect("copy");
    let (code, out, err) = cli(&["reload", &format!("-http-addr={s1}:8500")], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let after = served_cert(with_cert.clone(), s1);
    assert_eq!(
        after,
        load_certs(&certs.join("dc1-server-consul-1.pem"))[0].to_vec()
    );
    // The cluster still works over the new certificate.
    assert_eq!(
        servers[0].put("/v1/kv/tls/d", b"after-reload").text().trim(),
        "true"
    );
    for s in &servers {
        wait_for("a write after reload", CONVERGE, || {
            (kv_value(s, "tls/d").as_deref() == Some("after-reload")).then_some(())
        });
    }
    drop(rogue);
}
