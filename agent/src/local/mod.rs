//! The local agent: the services and checks this agent owns, their runners, and the
//! anti-entropy loop that keeps the catalog in step with them.
//!
//! - [`definitions`]: turning service/check definitions into catalog entries and runner specs.
//! - [`state`]: [`LocalAgentImpl`], the registry itself; implements the HTTP API's
//!   [`rconsul_state::agent::LocalAgent`] trait and the runners' [`crate::checks::StatusSink`].
//! - [`sync`]: anti-entropy (diff against the catalog, write what differs).
//! - [`config_services`]: `service`/`check` blocks of the config files.

pub mod config_services;
pub mod definitions;
pub mod state;
pub mod sync;

pub use state::{AgentInfo, Listeners, LocalAgentImpl};
