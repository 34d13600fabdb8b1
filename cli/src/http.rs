//! The CLI's HTTP side: Consul's common HTTP flags, where the agent is (flags, then
//! `CONSUL_HTTP_*` environment variables, then `127.0.0.1:8500`), and a small blocking client
//! that builds URLs and words errors the way Consul's Go `api` package does, e.g.
//! `Get "http://127.0.0.1:8500/v1/kv/k": dial tcp 127.0.0.1:8500: connect: connection refused`.
//!
//! HTTPS (`https://` in the address, or `CONSUL_HTTP_SSL=true`) uses the TLS flags and
//! variables (`http_tls.rs`); `unix://` addresses are not supported.

use std::fmt;
use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use base64::Engine as _;

use super::args::{Flag, Kind, Parsed};

/// The default agent address, as in Consul's `api.DefaultConfig`.
const DEFAULT_ADDR: &str = "127.0.0.1:8500";

/// How long to wait for a TCP connection (Go's `cleanhttp` dialer uses 30 s too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Consul's `HTTPFlags.ClientFlags()` and `ServerFlags()`, merged into every command that
/// talks to the agent.
pub(crate) const HTTP_FLAGS: [Flag; 10] = [
    Flag {
        name: "http-addr",
        kind: Kind::ConsulStr,
        default: "",
        usage: "The `address` and port of the Consul HTTP agent. The value can be an IP \
                address or DNS address, but it must also include the port. This can \
                also be specified via the CONSUL_HTTP_ADDR environment variable. The \
                default value is http://127.0.0.1:8500. The scheme can also be set to \
                HTTPS by setting the environment variable CONSUL_HTTP_SSL=true.",
        http: true,
    },
    Flag {
        name: "token",
        kind: Kind::ConsulStr,
        default: "",
        usage: "ACL token to use in the request. This can also be specified via the \
                CONSUL_HTTP_TOKEN environment variable. If unspecified, the query will \
                default to the token of the Consul agent at the HTTP address.",
        http: true,
    },
    Flag {
        name: "token-file",
        kind: Kind::ConsulStr,
        default: "",
        usage: "File containing the ACL token to use in the request instead of one specified \
                via the -token argument or CONSUL_HTTP_TOKEN environment variable. \
                This can also be specified via the CONSUL_HTTP_TOKEN_FILE environment variable.",
        http: true,
    },
    Flag {
        name: "ca-file",
        kind: Kind::ConsulStr,
        default: "",
        usage: "Path to a CA file to use for TLS when communicating with Consul. This \
                can also be specified via the CONSUL_CACERT environment variable.",
        http: true,
    },
    Flag {
        name: "ca-path",
        kind: Kind::ConsulStr,
        default: "",
        usage: "Path to a directory of CA certificates to use for TLS when communicating \
                with Consul. This can also be specified via the CONSUL_CAPATH environment variable.",
        http: true,
    },
    Flag {
        name: "client-cert",
        kind: Kind::ConsulStr,
        default: "",
        usage: "Path to a client cert file to use for TLS when 'verify_incoming' is enabled. This \
                can also be specified via the CONSUL_CLIENT_CERT environment variable.",
        http: true,
    },
    Flag {
        name: "client-key",
        kind: Kind::ConsulStr,
        default: "",
        usage: "Path to a client key file to use for TLS when 'verify_incoming' is enabled. This \
                can also be specified via the CONSUL_CLIENT_KEY environment variable.",
        http: true,
    },
    Flag {
        name: "tls-server-name",
        kind: Kind::ConsulStr,
        default: "",
        usage: "The server name to use as the SNI host when connecting via TLS. This \
                can also be specified via the CONSUL_TLS_SERVER_NAME environment variable.",
        http: true,
    },
    Flag {
        name: "datacenter",
        kind: Kind::ConsulStr,
        default: "",
        usage: "Name of the datacenter to query. If unspecified, this will default to \
                the datacenter of the queried agent.",
        http: true,
    },
    Flag {
        name: "stale",
        kind: Kind::ConsulBool,
        default: "false",
        usage: "Permit any Consul server (non-leader) to respond to this request. This \
                allows for lower latency and higher throughput, but can result in \
                stale data. This option has no effect on non-read operations. The \
                default value is false.",
        http: true,
    },
];

/// Where and how to reach the agent, after flags and environment are combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// `host:port` (or a bare host, which means port 80, as in Go).
    address: String,
    /// Sent as `X-Consul-Token` when non-empty.
    token: String,
    /// Sent as `?dc=` on every request when non-empty.
    datacenter: String,
    /// Adds `?stale` to reads.
    stale: bool,
    /// From `CONSUL_HTTP_AUTH` (`user[:password]`).
    basic_auth: Option<(String, String)>,
    /// `Some` for HTTPS: the client config built from the TLS flags and variables.
    tls: Option<super::http_tls::TlsClient>,
}

impl Config {
    /// Combines the environment and the HTTP flags the way Consul's `api.DefaultConfig`,
    /// `HTTPFlags.MergeOntoConfig` and `api.NewClient` do. The error is what Consul prints
    /// after `Error connecting to Consul agent: `.
    pub(crate) fn resolve(flags: &Parsed, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let mut address = env("CONSUL_HTTP_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_string());
        let mut token = env("CONSUL_HTTP_TOKEN").unwrap_or_default();
        let mut token_file = env("CONSUL_HTTP_TOKEN_FILE").unwrap_or_default();
        let basic_auth = env("CONSUL_HTTP_AUTH").map(|auth| match auth.split_once(':') {
            Some((user, pass)) => (user.to_string(), pass.to_string()),
            None => (auth, String::new()),
        });
        let mut https = env("CONSUL_HTTP_SSL").and_then(|v| super::args::parse_go_bool(&v)) == Some(true);
        if let Some(v) = flags.string("http-addr") {
            address = v.to_string();
        }
        if let Some(v) = flags.string("token") {
            token = v.to_string();
        }
        if let Some(v) = flags.string("token-file") {
            token_file = v.to_string();
        }
        let datacenter = flags.string("datacenter").unwrap_or_default().to_string();
        // TLS: the variable, then the flag (Consul's order).
        let setting = |var: &str, flag: &str| {
            flags
                .string(flag)
                .map(str::to_string)
                .or_else(|| env(var))
                .unwrap_or_default()
        };
        let tls_settings = super::http_tls::TlsSettings {
            ca_file: setting("CONSUL_CACERT", "ca-file"),
            ca_path: setting("CONSUL_CAPATH", "ca-path"),
            client_cert: setting("CONSUL_CLIENT_CERT", "client-cert"),
            client_key: setting("CONSUL_CLIENT_KEY", "client-key"),
            server_name: setting("CONSUL_TLS_SERVER_NAME", "tls-server-name"),
            insecure: env("CONSUL_HTTP_SSL_VERIFY").and_then(|v| super::args::parse_go_bool(&v))
                == Some(false),
        };

        if let Some((scheme, rest)) = address.split_once("://") {
            match scheme {
                "http" => {}
                "https" => https = true,
                "unix" => return Err("unix socket addresses are not supported by rconsul".into()),
                other => return Err(format!("Unknown protocol scheme: {other}")),
            }
            address = rest.to_string();
        }
        let tls = if https {
            Some(super::http_tls::client_config(&tls_settings)?)
        } else {
            None
        };
        let address = address.trim_end_matches('/').to_string();
        if address.is_empty() {
            return Err("http: no Host in request URL".into());
        }

        if !token_file.is_empty() {
            let data = std::fs::read_to_string(&token_file)
                .map_err(|e| format!("Error loading token file: open {token_file}: {}", go_io_error(&e)))?;
            let file_token = data.trim();
            if !file_token.is_empty() {
                token = file_token.to_string();
            }
        }
        // `api.NewClient`: an empty token (e.g. `-token=`) falls back to CONSUL_HTTP_TOKEN.
        if token.is_empty() {
            token = env("CONSUL_HTTP_TOKEN").unwrap_or_default();
        }

        Ok(Self {
            address,
            token,
            datacenter,
            stale: flags.bool("stale"),
            basic_auth,
            tls,
        })
    }
}

impl Config {
    /// Replaces the token: `consul login` empties `-token` and `-token-file` (`SetToken("")`,
    /// `SetTokenFile("")`), which leaves only `api.NewClient`'s fallback, CONSUL_HTTP_TOKEN.
    pub(crate) fn set_token(&mut self, token: &str) {
        self.token = token.to_string();
    }
}

/// An HTTP answer of any status.
#[derive(Debug)]
pub(crate) struct Response {
    /// Status code.
    pub(crate) status: u16,
    /// The whole body.
    pub(crate) body: Vec<u8>,
    /// `X-Consul-Index` (0 when absent): what a blocking query waits on next.
    pub(crate) index: u64,
}

impl Response {
    /// The Go `api` package's error for a non-200 answer:
    /// `Unexpected response code: 500 (No cluster leader)`.
    pub(crate) fn unexpected(&self) -> String {
        format!(
            "Unexpected response code: {} ({})",
            self.status,
            String::from_utf8_lossy(&self.body)
        )
    }

    /// Whether a write succeeded: the Go `api` package checks that the body contains `true`.
    pub(crate) fn is_true(&self) -> bool {
        self.body.windows(4).any(|w| w == b"true")
    }
}

/// A request that got no HTTP answer, shown like Go's `*url.Error`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HttpError {
    /// `Get`, `Put`, `Post` or `Delete`.
    op: &'static str,
    /// The URL as Go would print it.
    url: String,
    /// What went wrong, e.g. `dial tcp 127.0.0.1:8500: connect: connection refused`.
    cause: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\": {}", self.op, self.url, self.cause)
    }
}

impl std::error::Error for HttpError {}

/// A blocking client bound to one agent.
pub(crate) struct Client {
    config: Config,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `config`.
    pub(crate) fn new(config: Config) -> Self {
        let mut builder = ureq::AgentBuilder::new().timeout_connect(CONNECT_TIMEOUT);
        if let Some(tls) = &config.tls {
            builder = builder.tls_config(tls.0.clone());
        }
        let agent = builder.build();
        Self { config, agent }
    }

    /// `GET path`, adding `?stale` when `-stale` was given.
    pub(crate) fn get(
        &self,
        path: &str,
        mut params: Vec<(&'static str, String)>,
    ) -> Result<Response, HttpError> {
        if self.config.stale {
            params.push(("stale", String::new()));
        }
        self.send("GET", path, params, None)
    }

    /// `PUT path` with `body` as `application/octet-stream`.
    pub(crate) fn put(
        &self,
        path: &str,
        params: Vec<(&'static str, String)>,
        body: &[u8],
    ) -> Result<Response, HttpError> {
        self.send("PUT", path, params, Some(body))
    }

    /// `POST path` with `body` (the ACL login, logout and templated-policy preview calls).
    pub(crate) fn post(
        &self,
        path: &str,
        params: Vec<(&'static str, String)>,
        body: &[u8],
    ) -> Result<Response, HttpError> {
        self.send("POST", path, params, Some(body))
    }

    /// `DELETE path`.
    pub(crate) fn delete(
        &self,
        path: &str,
        params: Vec<(&'static str, String)>,
    ) -> Result<Response, HttpError> {
        self.send("DELETE", path, params, None)
    }

    /// The full URL for `path` (unescaped) and `params`, as Go's `url.URL.String()` gives it.
    fn url(&self, path: &str, mut params: Vec<(&'static str, String)>) -> String {
        if !self.config.datacenter.is_empty() {
            params.push(("dc", self.config.datacenter.clone()));
        }
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        build_url(scheme, &self.config.address, path, params)
    }

    fn send(
        &self,
        method: &'static str,
        path: &str,
        params: Vec<(&'static str, String)>,
        body: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        let url = self.url(path, params);
        let op = match method {
            "GET" => "Get",
            "PUT" => "Put",
            "POST" => "Post",
            _ => "Delete",
        };
        let fail = |cause: String| HttpError {
            op,
            url: url.clone(),
            cause,
        };
        let mut request = self.agent.request(method, &url);
        if !self.config.token.is_empty() {
            request = request.set("X-Consul-Token", &self.config.token);
        }
        if let Some((user, pass)) = &self.config.basic_auth {
            let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            request = request.set("Authorization", &format!("Basic {creds}"));
        }
        let result = match body {
            Some(body) => request
                .set("Content-Type", "application/octet-stream")
                .send_bytes(body),
            None => request.call(),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => return Err(fail(self.transport_cause(&t))),
        };
        let status = response.status();
        let index = response
            .header("X-Consul-Index")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = Vec::new();
        response
            .into_reader()
            .read_to_end(&mut body)
            .map_err(|e| fail(go_io_error(&e)))?;
        Ok(Response { status, body, index })
    }

    /// Words a transport failure like Go's `net` package.
    fn transport_cause(&self, t: &ureq::Transport) -> String {
        use std::error::Error as _;
        let io = t.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        match t.kind() {
            ureq::ErrorKind::ConnectionFailed => {
                let addr = self.dial_addr();
                match io {
                    Some(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        format!("dial tcp {addr}: i/o timeout")
                    }
                    Some(e) => format!("dial tcp {addr}: connect: {}", go_io_error(e)),
                    None => format!("dial tcp {addr}: connect: {t}"),
                }
            }
            ureq::ErrorKind::Dns => format!("dial tcp: lookup {}: no such host", self.host()),
            _ => match io {
                Some(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => "EOF".to_string(),
                Some(e) => go_io_error(e),
                None => t.to_string(),
            },
        }
    }

    /// The host part of the address.
    fn host(&self) -> &str {
        let a = self.config.address.as_str();
        if let Some(rest) = a.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        a.split(':').next().unwrap_or(a)
    }

    /// The address Go would report dialing: resolved, with port 80 when none is given.
    fn dial_addr(&self) -> String {
        let a = &self.config.address;
        let has_port = if a.starts_with('[') {
            a.contains("]:")
        } else {
            a.contains(':')
        };
        let hostport = if has_port { a.clone() } else { format!("{a}:80") };
        if let Ok(sa) = hostport.parse::<SocketAddr>() {
            return sa.to_string();
        }
        hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .map_or(hostport, |sa| sa.to_string())
    }
}

/// `scheme://address/escaped/path?k=v&...` with the query sorted by key, like Go's
/// `url.Values.Encode` (which writes `k=` for empty values).
fn build_url(scheme: &str, address: &str, path: &str, mut params: Vec<(&'static str, String)>) -> String {
    params.sort_by(|a, b| a.0.cmp(b.0));
    let mut url = format!("{scheme}://{address}{}", escape_path(path));
    for (i, (k, v)) in params.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&escape_query(k));
        url.push('=');
        url.push_str(&escape_query(v));
    }
    url
}

/// Go's `url.PathEscape`-like escaping used by `url.URL.EscapedPath`: keeps unreserved
/// characters, `/` and `$&+,:;=@`; escapes everything else (space as `%20`).
pub(crate) fn escape_path(path: &str) -> String {
    escape(
        path,
        |b| b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b),
        false,
    )
}

/// Go's `url.QueryEscape`: keeps unreserved characters, space becomes `+`.
fn escape_query(s: &str) -> String {
    escape(s, |b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b), true)
}

fn escape(s: &str, keep: impl Fn(u8) -> bool, space_as_plus: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else if b == b' ' && space_as_plus {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// An I/O error as Go's `syscall.Errno` prints it: `connection refused`, not
/// `Connection refused (os error 111)`.
pub(crate) fn go_io_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::FlagSet;
    use std::collections::HashMap;

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let set = FlagSet::new(HTTP_FLAGS.to_vec());
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let parsed = set.parse(&args).expect("flags parse");
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::resolve(&parsed, &|k| env.get(k).cloned())
    }

    #[test]
    fn address_precedence_and_schemes() {
        assert_eq!(resolve(&[], &[]).expect("ok").address, "127.0.0.1:8500");
        assert_eq!(
            resolve(&[], &[("CONSUL_HTTP_ADDR", "http://10.0.0.1:8500")])
                .expect("ok")
                .address,
            "10.0.0.1:8500"
        );
        assert_eq!(
            resolve(
                &["-http-addr=127.0.0.9:1"],
                &[("CONSUL_HTTP_ADDR", "10.0.0.1:8500")]
            )
            .expect("ok")
            .address,
            "127.0.0.9:1"
        );
        assert_eq!(
            resolve(&["-http-addr=ftp://x:1"], &[]),
            Err("Unknown protocol scheme: ftp".to_string())
        );
        let https = resolve(&["-http-addr=https://x:1"], &[]).expect("https");
        assert_eq!((https.address.as_str(), https.tls.is_some()), ("x:1", true));
        assert!(resolve(&[], &[("CONSUL_HTTP_SSL", "true")])
            .expect("ok")
            .tls
            .is_some());
        assert!(resolve(&[], &[("CONSUL_HTTP_SSL", "false")])
            .expect("ok")
            .tls
            .is_none());
        assert_eq!(
            Client::new(resolve(&["-http-addr=https://x:1"], &[]).expect("ok")).url("/v1/kv/k", vec![]),
            "https://x:1/v1/kv/k"
        );
    }

    #[test]
    fn tls_files_come_from_flags_then_variables_and_missing_ones_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.pem").to_string_lossy().to_string();
        let err = resolve(&["-http-addr=https://x:1", "-ca-file", &missing], &[]).expect_err("no file");
        assert_eq!(err, format!("open {missing}: no such file or directory"));
        let err =
            resolve(&[], &[("CONSUL_HTTP_SSL", "true"), ("CONSUL_CACERT", &missing)]).expect_err("no file");
        assert!(err.contains("no such file"), "{err}");
        // The flag wins over the variable.
        assert!(resolve(
            &["-http-addr=https://x:1", "-ca-file", &missing],
            &[("CONSUL_CACERT", "/also/missing")]
        )
        .expect_err("no file")
        .contains(&missing));
        // Plain HTTP never reads the TLS files.
        assert!(resolve(&["-ca-file", &missing], &[]).is_ok());
        // No verification: nothing to read.
        assert!(resolve(
            &[],
            &[("CONSUL_HTTP_SSL", "true"), ("CONSUL_HTTP_SSL_VERIFY", "false")]
        )
        .is_ok());
    }

    #[test]
    fn token_precedence() {
        let c = resolve(&[], &[("CONSUL_HTTP_TOKEN", "env")]).expect("ok");
        assert_eq!(c.token, "env");
        let c = resolve(&["-token", "flag"], &[("CONSUL_HTTP_TOKEN", "env")]).expect("ok");
        assert_eq!(c.token, "flag");
        let c = resolve(&["-token="], &[("CONSUL_HTTP_TOKEN", "env")]).expect("ok");
        assert_eq!(c.token, "env");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tok");
        std::fs::write(&file, "  fromfile\n").expect("write");
        let file = file.to_string_lossy().to_string();
        let c = resolve(&["-token=flag", "-token-file", &file], &[]).expect("ok");
        assert_eq!(c.token, "fromfile");
        let missing = dir.path().join("nope").to_string_lossy().to_string();
        let err = resolve(&["-token-file", &missing], &[]).expect_err("missing file");
        assert_eq!(
            err,
            format!("Error loading token file: open {missing}: no such file or directory")
        );
    }

    #[test]
    fn urls_are_built_like_go() {
        assert_eq!(
            build_url("http", "127.0.0.1:8500", "/v1/kv/k", vec![]),
            "http://127.0.0.1:8500/v1/kv/k"
        );
        assert_eq!(
            build_url(
                "http",
                "h:1",
                "/v1/kv/a b/c?d#e%f/ü",
                vec![("stale", String::new()), ("dc", "dc 1&x".into())]
            ),
            "http://h:1/v1/kv/a%20b/c%3Fd%23e%25f/%C3%BC?dc=dc+1%26x&stale="
        );
        assert_eq!(
            build_url(
                "http",
                "h:1",
                "/v1/kv/cfg/",
                vec![("separator", "/".into()), ("keys", String::new())]
            ),
            "http://h:1/v1/kv/cfg/?keys=&separator=%2F"
        );
        assert_eq!(escape_path("a+b,c;d=e@f:g$h&i~j"), "a+b,c;d=e@f:g$h&i~j");
        assert_eq!(escape_path("x*'()!\"[]"), "x%2A%27%28%29%21%22%5B%5D");
    }

    #[test]
    fn io_errors_read_like_go() {
        let e = std::io::Error::from_raw_os_error(111);
        if cfg!(target_os = "linux") {
            assert_eq!(go_io_error(&e), "connection refused");
        }
        let e = std::io::Error::other("Weird thing");
        assert_eq!(go_io_error(&e), "weird thing");
    }

    #[test]
    fn connection_refused_reads_like_consul() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let addr = format!("127.0.0.1:{port}");
        let client = Client::new(resolve(&["-http-addr", &addr], &[]).expect("ok"));
        let err = client.get("/v1/kv/k", vec![]).expect_err("nothing listens there");
        assert_eq!(
            err.to_string(),
            format!("Get \"http://{addr}/v1/kv/k\": dial tcp {addr}: connect: connection refused")
        );
    }

    #[test]
    fn write_results_are_parsed_like_go() {
        let r = |b: &str| Response {
            status: 200,
            body: b.as_bytes().to_vec(),
            index: 0,
        };
        assert!(r("true").is_true());
        assert!(r("true\n").is_true());
        assert!(!r("false").is_true());
        assert_eq!(
            Response {
                status: 500,
                body: b"No cluster leader".to_vec(),
                index: 0,
            }
            .unexpected(),
            "Unexpected response code: 500 (No cluster leader)"
        );
    }
}
