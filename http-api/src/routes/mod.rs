//! Endpoint handlers, one module per endpoint family.

pub mod kv;
pub mod status;
