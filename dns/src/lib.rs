//! The DNS interface of rconsul (Consul's port 8600), on hickory's DNS protocol types.
//!
//! * `name`: which zone a question is in and what it asks for (`<svc>.service.<dc>.consul`,
//!   RFC 2782 SRV names, `<node>.node`, `<hex>.addr`, reverse names).
//! * `answer`: records built from the catalog (health filtering, shuffling, SRV targets,
//!   node-meta TXT, SOA/NS).
//! * `trim`: Consul's UDP/TCP size rules; `wire`: the response encoder.
//! * `fast`: cached service A/AAAA answers written straight from the request bytes.
//! * `responder`: one request in, one action out (reply bytes, forward, or drop); no I/O.
//! * `server`: the UDP receive loops and TCP connections, recursor forwarding, shutdown.
//!
//! The server owns its loops and uses only the protocol layer of `hickory-server`
//! (re-exported as `proto`) so that truncation and EDNS follow Consul exactly.

mod answer;
pub mod config;
mod fast;
mod name;
mod recursor;
mod responder;
mod rng;
pub mod server;
mod trim;
mod udp;
mod wire;

pub use config::{parse_recursor, DnsConfig, SoaConfig};
pub use hickory_server::proto;
pub use responder::{Action, DnsAcl, Responder};
pub use server::{bind, DnsServer};
pub use trim::Transport;

/// Errors starting the DNS interface.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A listener could not be bound.
    #[error("cannot listen for DNS on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Other socket errors.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests;
