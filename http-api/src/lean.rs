//! A lean HTTP/1.1 connection loop for the requests that make up nearly all of Consul's
//! traffic: HTTP/1.1 with no body or a small `Content-Length` one.
//!
//! Why not hyper for everything: hyper allocates an 8 KiB write buffer when a connection
//! is created and reserves an 8 KiB read buffer on its first read, and keeps both for the
//! connection's life; neither can be made smaller on the server side. A parked blocking
//! query (consul-template, Prometheus, every watcher) then costs 16 KiB of buffers doing
//! nothing. Here the read buffer is released as soon as a request is parsed, and the
//! response is written from one buffer that lives only while it is written, so a parked
//! request holds its parsed head and its handler's future, nothing else.
//!
//! Anything else (HTTP/1.0, chunked or large bodies, `Expect`, `Upgrade`, `CONNECT`) is
//! handed to hyper together with the bytes already read, and hyper serves the rest of that
//! connection. Both paths answer through the same [`Dispatch`] with the same wire format:
//! Go-style title-case header names, `Content-Length`, `Date`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{
    header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version,
};
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::dispatch::Dispatch;

/// Largest request head accepted (Go's `http.DefaultMaxHeaderBytes` plus its 4 KiB slack).
const MAX_HEAD: usize = (1 << 20) + 4096;
/// Most header fields in one request (hyper's default).
const MAX_HEADERS: usize = 100;
/// Largest body read here; a larger one goes to hyper, which streams it to the handler.
const MAX_INLINE_BODY: usize = 64 << 10;
/// How much the read buffer grows by at a time.
const READ_CHUNK: usize = 1024;
/// Bodies up to this size are copied behind the head and sent in one write.
const COALESCE_LIMIT: usize = 16 << 10;

/// Serves one connection until it closes, handing it to hyper at the first request this
/// loop does not serve itself.
pub(crate) async fn serve<IO>(mut io: IO, api: Arc<Dispatch>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut pending = BytesMut::new();
    loop {
        let head = match read_head(&mut io, &mut pending).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(Refusal::Io) => return,
            Err(Refusal::Status(status)) => {
                let _ = io.write_all(&refusal(status)).await;
                let _ = io.shutdown().await;
                return;
            }
        };
        let Head::Lean(lean) = head else {
            let replay = Prefixed {
                prefix: pending.freeze(),
                io,
            };
            // Boxed: hyper's connection future is large, and a future's size is that of
            // its largest state, so inline it would enlarge every connection.
            Box::pin(crate::server::serve_hyper(replay, api)).await;
            return;
        };
        let LeanRequest {
            mut request,
            body_len,
            keep_alive,
        } = *lean;
        if body_len > 0 {
            match read_body(&mut io, &mut pending, body_len).await {
                Ok(body) => *request.body_mut() = Full::new(body),
                Err(_) => return,
            }
        }
        release_if_empty(&mut pending);
        let head_only = request.method() == Method::HEAD;
        let Some(response) = answer_unless_closed(&mut io, &mut pending, api.handle(request)).await else {
            // The client went away: drop its request (a parked blocking query ends here).
            return;
        };
        if write_response(&mut io, response, head_only, keep_alive)
            .await
            .is_err()
            || !keep_alive
        {
            let _ = io.shutdown().await;
            return;
        }
    }
}

/// A parsed request this loop serves itself.
struct LeanRequest {
    request: Request<Full<Bytes>>,
    /// `Content-Length` of a body still to be read (at most [`MAX_INLINE_BODY`]).
    body_len: usize,
    keep_alive: bool,
}

/// What a request head asks for.
enum Head {
    Lean(Box<LeanRequest>),
    /// Hyper serves this connection from here on; the head stays in the buffer.
    Hyper,
}

/// Why a connection ends before a request is answered.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The connection failed or closed mid-request.
    Io,
    /// A malformed or oversized head: answered with this status, then closed.
    Status(StatusCode),
}

/// Reads until `pending` holds a complete head and parses it. `Ok(None)`: the connection
/// closed cleanly between requests.
async fn read_head<IO: AsyncRead + Unpin>(
    io: &mut IO,
    pending: &mut BytesMut,
) -> Result<Option<Head>, Refusal> {
    loop {
        if !pending.is_empty() {
            if let Some((len, head)) = parse_head(pending)? {
                if matches!(head, Head::Lean(_)) {
                    pending.advance(len);
                }
                return Ok(Some(head));
            }
            if pending.len() >= MAX_HEAD {
                return Err(Refusal::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
            }
        }
        pending.reserve(READ_CHUNK);
        match io.read_buf(pending).await {
            Ok(0) if pending.is_empty() => return Ok(None),
            Ok(0) | Err(_) => return Err(Refusal::Io),
            Ok(_) => {}
        }
    }
}

/// Parses the head at the start of `buf`: `None` while it is incomplete, else its length
/// and what to do with it.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Head)>, Refusal> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE))
        }
        Err(_) => return Err(Refusal::Status(StatusCode::BAD_REQUEST)),
    };
    let bad = || Refusal::Status(StatusCode::BAD_REQUEST);
    let (Some(method), Some(target), Some(1)) = (parsed.method, parsed.path, parsed.version) else {
        return Ok(Some((len, Head::Hyper)));
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| bad())?;
    if method == Method::CONNECT {
        return Ok(Some((len, Head::Hyper)));
    }
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    let mut body_len = 0usize;
    let mut keep_alive = true;
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| bad())?;
        if name == header::CONTENT_LENGTH {
            let n = std::str::from_utf8(field.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(bad)?;
            if n > MAX_INLINE_BODY as u64
                || (headers.contains_key(header::CONTENT_LENGTH) && n as usize != body_len)
            {
                return Ok(Some((len, Head::Hyper)));
            }
            body_len = n as usize;
        } else if name == header::TRANSFER_ENCODING || name == header::EXPECT || name == header::UPGRADE {
            return Ok(Some((len, Head::Hyper)));
        } else if name == header::CONNECTION
            && field
                .value
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            keep_alive = false;
        }
        headers.append(name, value);
    }
    let mut request = Request::builder()
        .method(method)
        .uri(target)
        .version(Version::HTTP_11)
        .body(Full::new(Bytes::new()))
        .map_err(|_| bad())?;
    *request.headers_mut() = headers;
    let lean = LeanRequest {
        request,
        body_len,
        keep_alive,
    };
    Ok(Some((len, Head::Lean(Box::new(lean)))))
}

/// Reads a `Content-Length` body of `len` bytes (part of it may already be in `pending`).
async fn read_body<IO: AsyncRead + Unpin>(
    io: &mut IO,
    pending: &mut BytesMut,
    len: usize,
) -> io::Result<Bytes> {
    while pending.len() < len {
        pending.reserve(len - pending.len());
        if io.read_buf(pending).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(pending.split_to(len).freeze())
}

/// Frees the read buffer when nothing of the next request is in it, so that a request
/// waiting for its answer holds no buffer.
fn release_if_empty(pending: &mut BytesMut) {
    if pending.is_empty() {
        *pending = BytesMut::new();
    }
}

/// Runs `answer` to completion unless the client closes the connection first (`None`).
/// Bytes of a pipelined next request are kept in `pending`.
async fn answer_unless_closed<IO, F>(io: &mut IO, pending: &mut BytesMut, answer: F) -> Option<F::Output>
where
    IO: AsyncRead + Unpin,
    F: Future,
{
    tokio::pin!(answer);
    // Most answers are ready at once: poll the handler before touching the socket, so a
    // fast request costs no extra read syscall.
    let first = std::future::poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await;
    if let Poll::Ready(out) = first {
        return Some(out);
    }
    let mut probe = [0u8; 64];
    let mut watching = true;
    loop {
        tokio::select! {
            biased;
            out = answer.as_mut() => return Some(out),
            read = io.read(&mut probe), if watching => match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    pending.extend_from_slice(&probe[..n]);
                    // A client pipelining more than a head's worth waits for this answer.
                    watching = pending.len() < MAX_HEAD;
                }
            },
        }
    }
}

/// Writes `response` as HTTP/1.1: status line, title-case headers, `Content-Length`
/// (unless the status has no body), `Date`, and `Connection: close` when the connection
/// ends after it.
async fn write_response<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    response: Response<Body>,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
        .to_bytes();
    let send_body = !head_only && has_body(parts.status);
    let coalesce = send_body && body.len() <= COALESCE_LIMIT;
    let mut out = Vec::with_capacity(256 + if coalesce { body.len() } else { 0 });
    write_head(&mut out, parts.status, &parts.headers, body.len(), keep_alive);
    if coalesce {
        out.extend_from_slice(&body);
        io.write_all(&out).await?;
    } else {
        io.write_all(&out).await?;
        if send_body {
            io.write_all(&body).await?;
        }
    }
    io.flush().await
}

/// Whether a response with `status` carries a body (and a `Content-Length`).
fn has_body(status: StatusCode) -> bool {
    !(status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED)
}

/// Appends the status line and headers, as hyper writes them with `title_case_headers`.
fn write_head(out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap, body_len: usize, keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        status
            .canonical_reason()
            .unwrap_or("<unknown status code>")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if !keep_alive && name == header::CONNECTION {
            continue;
        }
        title_case(out, name.as_str());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if has_body(status) && !headers.contains_key(header::CONTENT_LENGTH) {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(body_len.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !headers.contains_key(header::DATE) {
        out.extend_from_slice(b"Date: ");
        date::append(out);
        out.extend_from_slice(b"\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `x-consul-knownleader` → `X-Consul-Knownleader` (Go's canonical form).
fn title_case(out: &mut Vec<u8>, name: &str) {
    let mut upper = true;
    for b in name.bytes() {
        out.push(if upper { b.to_ascii_uppercase() } else { b });
        upper = b == b'-';
    }
}

/// The whole answer to a head that cannot be served, as hyper gives it.
fn refusal(status: StatusCode) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_head(&mut out, status, &HeaderMap::new(), 0, false);
    out
}

/// The `Date` header's value, formatted once per second per thread.
mod date {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};

    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }

    pub(super) fn append(out: &mut Vec<u8>) {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        CACHED.with(|cached| {
            let mut cached = cached.borrow_mut();
            if cached.0 != second {
                *cached = (second, httpdate::fmt_http_date(now));
            }
            out.extend_from_slice(cached.1.as_bytes());
        });
    }
}

/// A stream that first replays bytes already read from it (the head hyper takes over).
struct Prefixed<IO> {
    prefix: Bytes,
    io: IO,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lean(raw: &str) -> (usize, LeanRequest) {
        match parse_head(raw.as_bytes()) {
            Ok(Some((len, Head::Lean(req)))) => (len, *req),
            Ok(Some((_, Head::Hyper))) => panic!("handed to hyper: {raw:?}"),
            other => panic!("not parsed: {:?}", other.map(|o| o.map(|(n, _)| n))),
        }
    }

    fn goes_to_hyper(raw: &str) -> bool {
        matches!(parse_head(raw.as_bytes()), Ok(Some((_, Head::Hyper))))
    }

    #[test]
    fn a_bodiless_get_is_served_here_with_its_headers() {
        let raw = "GET /v1/kv/a?index=5 HTTP/1.1\r\nHost: x\r\nX-Consul-Token: t\r\n\r\nGET /next";
        let (len, req) = lean(raw);
        assert_eq!(
            &raw[len..],
            "GET /next",
            "the head's length excludes what follows"
        );
        assert_eq!(req.request.method(), Method::GET);
        assert_eq!(req.request.uri().path(), "/v1/kv/a");
        assert_eq!(req.request.uri().query(), Some("index=5"));
        assert_eq!(req.request.headers()["x-consul-token"], "t");
        assert_eq!((req.body_len, req.keep_alive), (0, true));
    }

    #[test]
    fn small_bodies_and_connection_close_are_served_here() {
        let (_, req) =
            lean("PUT /v1/kv/a HTTP/1.1\r\nContent-Length: 3\r\nConnection: keep-alive, Close\r\n\r\n");
        assert_eq!((req.body_len, req.keep_alive), (3, false));
    }

    #[test]
    fn what_this_loop_does_not_speak_goes_to_hyper() {
        assert!(goes_to_hyper("GET / HTTP/1.0\r\n\r\n"));
        assert!(goes_to_hyper(
            "PUT /v1/kv/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(goes_to_hyper(
            "PUT /v1/kv/a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
        ));
        assert!(goes_to_hyper(
            "PUT /v1/txn HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n"
        ));
        assert!(goes_to_hyper("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"));
        assert!(goes_to_hyper(
            "PUT /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
        ));
    }

    #[test]
    fn malformed_heads_are_refused_and_partial_ones_wait() {
        assert!(matches!(
            parse_head(b"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n"),
            Ok(None)
        ));
        assert_eq!(
            parse_head(b"GET /\x01 HTTP/1.1\r\n\r\n").err(),
            Some(Refusal::Status(StatusCode::BAD_REQUEST))
        );
        assert_eq!(
            parse_head(b"PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n").err(),
            Some(Refusal::Status(StatusCode::BAD_REQUEST))
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(
            parse_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).err(),
            Some(Refusal::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE))
        );
    }

    #[test]
    fn heads_are_written_as_hyper_writes_them_with_title_case() {
        let mut headers = HeaderMap::new();
        headers.insert("x-consul-knownleader", HeaderValue::from_static("true"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut out = Vec::new();
        write_head(&mut out, StatusCode::OK, &headers, 5, true);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nX-Consul-Knownleader: true\r\nContent-Type: application/json\r\nContent-Length: 5\r\nDate: "), "{text}");
        assert!(text.ends_with(" GMT\r\n\r\n"), "{text}");
        let mut out = Vec::new();
        write_head(&mut out, StatusCode::NOT_MODIFIED, &HeaderMap::new(), 0, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 304 Not Modified\r\nDate: "), "{text}");
        assert!(
            text.ends_with("Connection: close\r\n\r\n") && !text.contains("Content-Length"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_replayed_prefix_comes_before_the_stream() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b" world").await.unwrap();
        drop(a);
        let mut replay = Prefixed {
            prefix: Bytes::from_static(b"hello"),
            io: b,
        };
        let mut all = String::new();
        replay.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }

    #[tokio::test]
    async fn a_client_that_closes_cancels_its_waiting_request() {
        let (a, mut b) = tokio::io::duplex(64);
        drop(a);
        let mut pending = BytesMut::new();
        let never = std::future::pending::<()>();
        assert_eq!(answer_unless_closed(&mut b, &mut pending, never).await, None);
    }

    #[tokio::test]
    async fn pipelined_bytes_read_while_waiting_are_kept() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let mut pending = BytesMut::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        let answer = async move { rx.await.unwrap() };
        let client = async move {
            a.write_all(b"GET /2").await.unwrap();
            tokio::task::yield_now().await;
            tx.send(7).unwrap();
            a
        };
        let (out, _a) = tokio::join!(answer_unless_closed(&mut b, &mut pending, answer), client);
        assert_eq!(out, Some(7));
        // Whatever arrived before the answer is kept for the next request.
        assert!(b"GET /2".starts_with(&pending[..]), "{pending:?}");
    }
}
