//! What rconsul reproduces from the Go libraries Consul is built on, in one place for the
//! agent, the HTTP API and the command-line client alike:
//!
//! - [`duration`]: Go's `time.ParseDuration` and `Duration.String()`, exact to the
//!   nanosecond and to the error text;
//! - [`regexp`]: Go-syntax regular expressions on the `regex` crate, with Go's error texts;
//! - [`event_index`]: the index Consul derives from a user event's ID;
//! - [`hcl`]: HCL config text converted to the JSON value Consul's config decoder sees.
//!
//! **Architecture invariant:** this crate depends on no other rconsul crate and does no
//! I/O, so the CLI can use it without pulling in the daemon.

pub mod duration;
pub mod event_index;
pub mod hcl;
pub mod regexp;
