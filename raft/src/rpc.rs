//! The server RPC protocol on the server port (8300): length-prefixed bincode frames
//! over persistent TCP connections (plain or TLS, see [`crate::tls`]), one request at a
//! time per connection.
//!
//! It carries openraft's RPCs between servers and the requests other agents forward:
//! writes proposed on a follower or a client, and read-index queries for
//! default-consistency reads.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use rconsul_state::operator::PeerSelector;
use rconsul_state::{Command, CommandResult, ConsensusError};
use serde::{Deserialize, Serialize};
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::types::TypeConfig;

/// Largest frame accepted (snapshot chunks are 3 MiB by default).
pub const MAX_FRAME: usize = 64 << 20;

/// A request on the server port.
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcRequest {
    /// openraft AppendEntries.
    Append(AppendEntriesRequest<TypeConfig>),
    /// openraft RequestVote.
    Vote(VoteRequest<u64>),
    /// openraft InstallSnapshot (one chunk).
    Snapshot(InstallSnapshotRequest<TypeConfig>),
    /// A write forwarded to the leader.
    Write(Command),
    /// "What index must I have applied to serve a read?" (leader only). With
    /// `linearizable` the leader first confirms its leadership with a quorum
    /// (`?consistent`); without, it answers from its state like Consul's default mode.
    ReadIndex {
        /// Confirm leadership with a quorum first.
        linearizable: bool,
    },
    /// "Are you part of an initialised raft cluster?" (asked before bootstrapping).
    Initialized,
    /// Remove a server from the raft configuration (leader only;
    /// `DELETE /v1/operator/raft/peer` received elsewhere).
    RemovePeer(PeerSelector),
    /// Writes forwarded to the leader together (see [`crate::forward::ForwardBatcher`]);
    /// answered in order, one result per command.
    WriteBatch(Vec<Command>),
    /// "How is your raft log?" (any server; autopilot's server health).
    RaftStats,
}

/// The answer to an [`RpcRequest`].
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcResponse {
    /// To [`RpcRequest::Append`].
    Append(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    /// To [`RpcRequest::Vote`].
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    /// To [`RpcRequest::Snapshot`].
    Snapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    /// To [`RpcRequest::Write`].
    Write(Result<CommandResult, ConsensusError>),
    /// To [`RpcRequest::ReadIndex`]: the leader's applied index.
    ReadIndex(Result<u64, ConsensusError>),
    /// To [`RpcRequest::Initialized`].
    Initialized(bool),
    /// To [`RpcRequest::RemovePeer`]: Consul's error text on failure.
    RemovePeer(Result<(), String>),
    /// The request could not be decoded or served.
    Error(String),
    /// To [`RpcRequest::WriteBatch`]: one result per command, in order.
    WriteBatch(Vec<Result<CommandResult, ConsensusError>>),
    /// To [`RpcRequest::RaftStats`].
    RaftStats(crate::stats::RaftStats),
}

/// A framed RPC connection.
pub type Conn = Framed<RpcStream, LengthDelimitedCodec>;

/// A server-port connection's byte stream, after its first byte.
#[derive(Debug)]
pub enum RpcStream {
    /// In the clear.
    Plain(TcpStream),
    /// TLS, either side (boxed: the TLS state is large, and plain connections should not
    /// carry its size).
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

/// Wraps a stream in the frame codec.
pub fn framed(stream: RpcStream) -> Conn {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec();
    Framed::new(stream, codec)
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            RpcStream::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            RpcStream::Tls($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
        }
    };
}

impl AsyncRead for RpcStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for RpcStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            RpcStream::Plain(s) => s.is_write_vectored(),
            RpcStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
}

/// Transport failures.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Connecting or I/O failed.
    #[error("rpc i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A frame could not be encoded or decoded.
    #[error("rpc codec: {0}")]
    Codec(#[from] bincode::Error),
    /// The peer closed the connection.
    #[error("rpc connection closed")]
    Closed,
}

/// Sends one message.
pub async fn send<T: Serialize>(conn: &mut Conn, msg: &T) -> Result<(), RpcError> {
    let bytes = bincode::serialize(msg)?;
    conn.send(Bytes::from(bytes)).await?;
    Ok(())
}

/// Receives one message.
pub async fn recv<T: for<'de> Deserialize<'de>>(conn: &mut Conn) -> Result<T, RpcError> {
    match conn.next().await {
        Some(Ok(frame)) => Ok(bincode::deserialize(&frame)?),
        Some(Err(e)) => Err(RpcError::Io(e)),
        None => Err(RpcError::Closed),
    }
}

/// One request/response round trip.
pub async fn call(conn: &mut Conn, req: &RpcRequest) -> Result<RpcResponse, RpcError> {
    send(conn, req).await?;
    recv(conn).await
}
