//! Endpoint handlers, one module per endpoint family.

pub mod acl;
pub mod agent;
pub mod catalog;
pub mod event;
pub mod health;
pub mod kv;
mod kv_entry_json;
pub mod membership;
pub mod operator;
mod read;
pub mod session;
pub mod status;
pub mod txn;
