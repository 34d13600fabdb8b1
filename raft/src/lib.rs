//! openraft glue for rconsul.
//!
//! - [`types`]: the raft type configuration (commands, responses, node identity).
//! - [`storage`]: the raft log, vote and snapshots in sled (the only module that knows sled).
//! - [`network`]: the transport between servers; [`tls`]: TLS on the server port.
//! - [`mux`]: many requests in flight on one server-port connection.
//! - [`operator`]: the raft configuration for operators (listing, removing peers).
//! - [`node`]: [`RaftNode`], which starts raft, batches writes and implements
//!   [`rconsul_state::Consensus`] for the API layers.

// openraft's StorageError is large and its trait signatures require it; boxing would only
// move the allocation into every call site.
#![allow(clippy::result_large_err)]

pub mod cluster;
pub mod forward;
pub mod mux;
pub mod network;
pub mod node;
pub mod operator;
pub mod rpc;
pub mod server;
pub mod stats;
pub mod storage;
pub mod tls;
pub mod types;

pub use node::{RaftNode, RaftNodeConfig, StartError};
pub use types::{node_id_from_uuid, RaftRequest, RaftResponse, ServerNode, TypeConfig};
