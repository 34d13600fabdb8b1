//! User events (`/v1/event/fire`, `/v1/event/list`): the model shared by the agent, which
//! spreads and keeps them, and the HTTP API, which fires and lists them.
//!
//! Events are not replicated through raft: each agent keeps the most recent ones it
//! received through gossip and that passed its filters, as Consul does.

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Consul's event protocol version (`userEventMaxVersion`).
pub const USER_EVENT_VERSION: u32 = 1;

/// How many events an agent keeps (Consul's event buffer size).
pub const EVENT_BUFFER_SIZE: usize = 256;

/// Largest event accepted, counting its name, payload, filters and ID (serf's
/// `UserEventSizeLimit`).
pub const USER_EVENT_SIZE_LIMIT: usize = 512;

/// A user event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvent {
    /// Random UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Optional opaque payload.
    pub payload: Option<Vec<u8>>,
    /// Go regexp on node names ("" matches all).
    pub node_filter: String,
    /// Go regexp on local service names.
    pub service_filter: String,
    /// Go regexp on the tags of services matching `service_filter`.
    pub tag_filter: String,
    /// Protocol version.
    pub version: u32,
    /// Lamport time of the gossip message (0 in the fire answer).
    pub ltime: u64,
}

/// What `/v1/event/fire/<name>` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FireRequest {
    /// Name.
    pub name: String,
    /// Payload (`None` for an empty body).
    pub payload: Option<Vec<u8>>,
    /// `?node=` filter.
    pub node_filter: String,
    /// `?service=` filter.
    pub service_filter: String,
    /// `?tag=` filter.
    pub tag_filter: String,
}

/// Why an event could not be fired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The request is invalid (a bad filter, a tag filter without a service filter).
    #[error("{0}")]
    Invalid(String),
    /// The event is larger than [`USER_EVENT_SIZE_LIMIT`].
    #[error("{0}")]
    TooLarge(String),
    /// It could not be sent.
    #[error("{0}")]
    Internal(String),
}

/// What the HTTP API needs from the agent's event machinery.
pub trait UserEvents: Send + Sync + 'static {
    /// Validates and fires an event into the datacenter; returns it as fired.
    fn fire(&self, request: FireRequest) -> Result<UserEvent, EventError>;
    /// The events this agent kept, oldest first.
    fn list(&self) -> Vec<UserEvent>;
    /// A counter bumped whenever an event is kept (wakes `/v1/event/list` long polls).
    fn subscribe(&self) -> watch::Receiver<u64>;
}

/// The index Consul derives from an event ID for `/v1/event/list` (`uuidToUint64`).
pub use rconsul_compat::event_index::uuid_to_index;
