//! HTTP(S) checks: one request per probe on a fresh connection (Consul disables
//! keep-alives for checks), redirects followed like Go's client, Go's texts for
//! results and errors.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{timeout_at, Instant};
use url::Url;

use super::output::{errno_text, TailBuf};
use super::tcp::{dial, DialError};
use super::Status;

/// Consul's `User-Agent` for HTTP checks.
const USER_AGENT: &str = "Consul Health Check";
/// Consul's default `Accept` for HTTP checks.
const ACCEPT: &str = "text/plain, text/*, */*";
/// Go's text when `http.Client.Timeout` passes before the response headers.
const TIMEOUT_TEXT: &str = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
/// Go's client gives up after this many redirects.
const MAX_REDIRECTS: usize = 10;

/// One HTTP check's fixed request.
#[derive(Debug)]
pub(super) struct HttpProbe {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    tls_skip_verify: bool,
    timeout: Duration,
    output_max_size: usize,
}

/// One response, body already read.
struct Resp {
    code: u16,
    /// Go's `resp.Status`: `200 OK`.
    status: String,
    location: Option<String>,
    body: TailBuf,
}

impl HttpProbe {
    /// A probe for `url` (method defaults to GET).
    pub(super) fn new(
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        body: String,
        tls_skip_verify: bool,
        timeout: Duration,
        output_max_size: usize,
    ) -> HttpProbe {
        let method = if method.is_empty() {
            "GET".to_string()
        } else {
            method
        };
        HttpProbe {
            url,
            method,
            headers,
            body: Bytes::from(body),
            tls_skip_verify,
            timeout,
            output_max_size,
        }
    }

    /// Probes once: 2xx passing, 429 warning, anything else or no answer critical.
    pub(super) async fn probe(&self) -> (Status, String) {
        match self.fetch().await {
            Ok(resp) => {
                let result = format!(
                    "HTTP {} {}: {} Output: {}",
                    self.method,
                    self.url,
                    resp.status,
                    resp.body.text()
                );
                let status = match resp.code {
                    200..=299 => Status::Passing,
                    429 => Status::Warning,
                    _ => Status::Critical,
                };
                (status, result)
            }
            Err(e) => (Status::Critical, e),
        }
    }

    /// Runs the request, following redirects, within the timeout. Errors are Go's
    /// `url.Error` texts: `Get "http://...": dial tcp ...: connect: connection refused`.
    async fn fetch(&self) -> Result<Resp, String> {
        let deadline = Instant::now() + self.timeout;
        let mut method = Method::from_bytes(self.method.as_bytes())
            .map_err(|_| format!("net/http: invalid method {:?}", self.method))?;
        let mut url = Url::parse(&self.url).map_err(|e| format!("parse {:?}: {e}", self.url))?;
        let mut body = self.body.clone();
        let mut host_override = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone());
        // Go names the error after the first request's method, with the URL of the
        // request that failed (password hidden).
        let op = go_op(method.as_str());
        let mut redirects = 0;
        loop {
            let resp = self
                .one_request(&method, &url, body.clone(), host_override.as_deref(), deadline)
                .await
                .map_err(|e| format!("{op} {:?}: {e}", redacted(&url)))?;
            let Some(location) = resp.location.as_deref().filter(|_| is_redirect(resp.code)) else {
                return Ok(resp);
            };
            let next = url.join(location).map_err(|e| {
                format!(
                    "{op} {:?}: failed to parse Location header {location:?}: {e}",
                    redacted(&url)
                )
            })?;
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(format!(
                    "{op} {:?}: stopped after {MAX_REDIRECTS} redirects",
                    redacted(&next)
                ));
            }
            if matches!(resp.code, 301..=303) {
                if method != Method::GET && method != Method::HEAD {
                    method = Method::GET;
                }
                body = Bytes::new();
            }
            // Go keeps a custom Host only through relative redirects.
            if Url::parse(location).is_ok() {
                host_override = None;
            }
            url = next;
        }
    }

    /// One request on a new connection; errors without Go's `Op "url": ` prefix.
    async fn one_request(
        &self,
        method: &Method,
        url: &Url,
        body: Bytes,
        host_override: Option<&str>,
        deadline: Instant,
    ) -> Result<Resp, String> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(format!("unsupported protocol scheme {other:?}")),
        };
        let (dial_host, server_name) = match url.host() {
            Some(url::Host::Domain(d)) => (
                d.to_string(),
                ServerName::try_from(d.to_string()).map_err(|e| format!("tls: {e}"))?,
            ),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), ServerName::from(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), ServerName::from(IpAddr::V6(ip))),
            None => return Err("http: no Host in request URL".to_string()),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let req = self.build_request(method, url, body, host_override)?;
        let tcp = dial(&dial_host, port, deadline).await.map_err(|e| match e {
            DialError::Timeout(s) => format!("{s} (Client.Timeout exceeded while awaiting headers)"),
            DialError::Other(s) => s,
        })?;
        if !https {
            return exchange(tcp, req, deadline, self.output_max_size).await;
        }
        let config = tls_config(self.tls_skip_verify)?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = match timeout_at(deadline, connector.connect(server_name, tcp)).await {
            Err(_) => return Err(TIMEOUT_TEXT.to_string()),
            Ok(Err(e)) => return Err(tls_error_text(&e, &dial_host)),
            Ok(Ok(tls)) => tls,
        };
        exchange(tls, req, deadline, self.output_max_size).await
    }

    /// The request Consul sends: the check's headers, plus `User-Agent`, `Accept`
    /// and `Connection: close` unless given.
    fn build_request(
        &self,
        method: &Method,
        url: &Url,
        body: Bytes,
        host_override: Option<&str>,
    ) -> Result<Request<Full<Bytes>>, String> {
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let path = if path.is_empty() { "/" } else { path };
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method.clone();
        *req.uri_mut() = path
            .parse()
            .map_err(|e| format!("parse {:?}: {e}", url.as_str()))?;
        let host = match host_override {
            Some(h) => h.to_string(),
            None => {
                let mut h = url.host_str().unwrap_or_default().to_string();
                if let Some(port) = url.port() {
                    h = format!("{h}:{port}");
                }
                h
            }
        };
        let headers = req.headers_mut();
        let value = |k: &str, v: &str| {
            HeaderValue::from_str(v).map_err(|_| format!("net/http: invalid header field value for {k:?}"))
        };
        headers.insert(hyper::header::HOST, value("Host", &host)?);
        for (k, v) in &self.headers {
            if k.eq_ignore_ascii_case("host") {
                continue;
            }
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("net/http: invalid header field name {k:?}"))?;
            headers.append(name, value(k, v)?);
        }
        let defaults = [
            (hyper::header::USER_AGENT, USER_AGENT),
            (hyper::header::ACCEPT, ACCEPT),
            (hyper::header::CONNECTION, "close"),
        ];
        for (name, v) in defaults {
            if !headers.contains_key(&name) {
                headers.insert(name, HeaderValue::from_static(v));
            }
        }
        if !url.username().is_empty() && !headers.contains_key(hyper::header::AUTHORIZATION) {
            use base64::Engine as _;
            let creds = format!("{}:{}", url.username(), url.password().unwrap_or_default());
            let encoded = base64::engine::general_purpose::STANDARD.encode(creds);
            headers.insert(
                hyper::header::AUTHORIZATION,
                value("Authorization", &format!("Basic {encoded}"))?,
            );
        }
        Ok(req)
    }
}

/// Go's `url.Error` operation: the method with only its first letter upper case.
fn go_op(method: &str) -> String {
    let mut chars = method.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// `url` with its password shown as `***`, as Go prints URLs in errors.
fn redacted(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut u = url.clone();
    // Cannot fail: a URL with a password has a host.
    let _ = u.set_password(Some("***"));
    u.to_string()
}

/// The statuses Go's client follows when a `Location` is given.
fn is_redirect(code: u16) -> bool {
    matches!(code, 301 | 302 | 303 | 307 | 308)
}

/// Sends `req` on `io` and reads the response (the last `max` bytes of its body),
/// driving the connection alongside. A deadline passing before the headers is an
/// error; passing while reading the body keeps what was read, as Consul does.
async fn exchange<T>(io: T, req: Request<Full<Bytes>>, deadline: Instant, max: usize) -> Result<Resp, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| hyper_error_text(&e))?;
    let work = async move {
        let resp = match timeout_at(deadline, sender.send_request(req)).await {
            Err(_) => return Err(TIMEOUT_TEXT.to_string()),
            Ok(Err(e)) => return Err(hyper_error_text(&e)),
            Ok(Ok(resp)) => resp,
        };
        let code = resp.status().as_u16();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| resp.status().canonical_reason().map(str::to_string))
            .unwrap_or_default();
        let status = if reason.is_empty() {
            code.to_string()
        } else {
            format!("{code} {reason}")
        };
        let location = resp
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let mut buf = TailBuf::new(max);
        if !(is_redirect(code) && location.is_some()) {
            let mut body = resp.into_body();
            // Errors and the deadline end the body; Consul keeps what it read.
            while let Ok(Some(Ok(frame))) = timeout_at(deadline, body.frame()).await {
                if let Ok(data) = frame.into_data() {
                    buf.push(&data);
                }
            }
        }
        Ok(Resp {
            code,
            status,
            location,
            body: buf,
        })
    };
    tokio::pin!(conn);
    tokio::pin!(work);
    let mut conn_done = false;
    loop {
        tokio::select! {
            r = &mut work => return r,
            // When the connection ends, the request future sees why.
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    }
}

/// Go's text for a transport failure.
fn hyper_error_text(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        return "EOF".to_string();
    }
    if e.is_parse() {
        return "net/http: HTTP/1.x transport connection broken: malformed HTTP response".to_string();
    }
    if e.is_timeout() {
        return TIMEOUT_TEXT.to_string();
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io_error_text(io);
        }
        source = s.source();
    }
    e.to_string()
}

/// Go's text for an I/O error on the connection.
fn io_error_text(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "EOF".to_string()
    } else if e.raw_os_error().is_some() {
        format!("read: {}", errno_text(e))
    } else {
        e.to_string()
    }
}

/// Go's text for a failed TLS handshake with `host`.
fn tls_error_text(e: &std::io::Error, host: &str) -> String {
    use rustls::CertificateError as C;
    let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return io_error_text(e);
    };
    const VERIFY: &str = "tls: failed to verify certificate: x509:";
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => format!("{VERIFY} certificate signed by unknown authority"),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("{VERIFY} certificate is not valid for {host}")
            }
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("{VERIFY} certificate has expired or is not yet valid")
            }
            other => format!("{VERIFY} {other:?}"),
        },
        rustls::Error::InvalidMessage(_) => {
            "tls: first record does not look like a TLS handshake".to_string()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("remote error: tls: {}", format!("{alert:?}").to_lowercase())
        }
        other => format!("tls: {other}"),
    }
}

/// The client TLS configuration (built once): system roots, or no verification
/// for `TLSSkipVerify`.
fn tls_config(skip_verify: bool) -> Result<Arc<ClientConfig>, String> {
    static VERIFY: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    static SKIP: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    let cell = if skip_verify { &SKIP } else { &VERIFY };
    cell.get_or_init(|| build_tls_config(skip_verify)).clone()
}

fn build_tls_config(skip_verify: bool) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?;
    let mut config = if skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        if !native.errors.is_empty() {
            tracing::debug!(errors = ?native.errors, "loading system CA certificates for HTTPS checks");
        }
        roots.add_parsable_certificates(native.certs);
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `TLSSkipVerify`: accepts any certificate (handshake signatures are still checked).
#[derive(Debug)]
struct SkipVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hidden_in_errors() {
        let u = Url::parse("http://user:secret@127.0.0.1:1/x").unwrap();
        assert_eq!(redacted(&u), "http://user:***@127.0.0.1:1/x");
        let u = Url::parse("http://127.0.0.1:1/x").unwrap();
        assert_eq!(redacted(&u), "http://127.0.0.1:1/x");
    }

    #[test]
    fn go_ops() {
        assert_eq!(go_op("GET"), "Get");
        assert_eq!(go_op("POST"), "Post");
        assert_eq!(go_op("delete"), "Delete");
    }
}
