//! TLS on the server port: the connection-type byte every connection starts with, and
//! the reloadable settings the agent builds from its `tls` config (this crate reads no
//! certificate files: the agent hands over ready rustls configs).
//!
//! As in Consul's RPC pool, the first byte names the connection: [`RPC_TLS`] (Consul's
//! `RPCTLS`) is followed by a TLS handshake and then the same frames inside the TLS
//! stream; [`RPC_PLAIN`] by the frames in the clear. A plain connection's byte travels in
//! the same write as its first frame, so it costs no extra packet or system call.

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::pki_types::ServerName;

/// First byte of a TLS connection (Consul's `pool.RPCTLS`).
pub const RPC_TLS: u8 = 0x03;
/// First byte of a plain connection: `R`, outside Consul's `RPCType` range (0-8), so a
/// Consul agent's connection is refused as unknown rather than misread.
pub const RPC_PLAIN: u8 = b'R';

/// The server port's TLS settings at one moment.
#[derive(Debug, Clone, Default)]
pub struct RpcTlsConfig {
    /// Accepts [`RPC_TLS`] connections with this config (a certificate is configured;
    /// client certificates are required in it with `verify_incoming`).
    pub acceptor: Option<Arc<rustls::ServerConfig>>,
    /// `verify_incoming`: plain connections are closed.
    pub refuse_plain: bool,
    /// `verify_outgoing`: connections this agent opens use TLS.
    pub outgoing: Option<OutgoingTls>,
    /// `verify_incoming` with `verify_server_hostname`: raft's own RPCs (append, vote,
    /// snapshot, "initialized?", peer removal) are served only on TLS connections whose
    /// client certificate names this host (`server.<datacenter>.<domain>`); a client
    /// agent's or another datacenter's certificate may still forward requests.
    pub raft_peer_name: Option<ServerName<'static>>,
}

/// How this agent opens TLS connections.
#[derive(Debug, Clone)]
pub struct OutgoingTls {
    /// To servers (raft peers, forwarding): with `verify_server_hostname` their
    /// certificate must name `server.<datacenter>.<domain>`.
    pub to_server: Arc<rustls::ClientConfig>,
    /// To client agents the leader streams the log to (they are raft learners in
    /// rconsul, which Consul's clients are not): `client.` or `server.` names.
    pub to_client: Arc<rustls::ClientConfig>,
    /// Sent as SNI (`server.<datacenter>.<domain>`).
    pub server_name: ServerName<'static>,
}

/// The settings in force, replaced as a whole on reload: a connection reads them once,
/// when it is opened or accepted, so new connections use new certificates and open ones
/// keep theirs.
#[derive(Debug, Default)]
pub struct RpcTls {
    current: RwLock<Arc<RpcTlsConfig>>,
    /// Raft ids of client agents (learners that are not servers), for the name their
    /// certificate must carry.
    clients: RwLock<BTreeSet<u64>>,
}

impl RpcTls {
    /// Holds `config`.
    pub fn new(config: RpcTlsConfig) -> Self {
        RpcTls {
            current: RwLock::new(Arc::new(config)),
            clients: RwLock::default(),
        }
    }

    /// The settings in force.
    pub fn current(&self) -> Arc<RpcTlsConfig> {
        self.current.read().clone()
    }

    /// Replaces the settings (certificate reload).
    pub fn replace(&self, config: RpcTlsConfig) {
        *self.current.write() = Arc::new(config);
    }

    /// Records which raft ids are client agents (from gossip).
    pub(crate) fn set_clients(&self, ids: impl IntoIterator<Item = u64>) {
        let ids: BTreeSet<u64> = ids.into_iter().collect();
        if *self.clients.read() != ids {
            *self.clients.write() = ids;
        }
    }

    /// Whether raft id `id` is a client agent.
    pub(crate) fn is_client(&self, id: u64) -> bool {
        self.clients.read().contains(&id)
    }
}
