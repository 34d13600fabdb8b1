//! The preamble every catalog/health read shares: query parsing, consistency, headers.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use rconsul_state::store::State;
use rconsul_state::{Consistency, ReadMeta, StateStore, Table};

use rconsul_state::acl::{Kind, Need};
use rconsul_state::catalog::HealthCheck;

use crate::acl::caller::mark_filtered;
use crate::acl::Caller;
use crate::blocking::{self, QueryResult};
use crate::filter::Filter;
use crate::query::{BlockingOptions, Params};
use crate::response::{add_query_meta, encode_json, json_bytes_response, ApiError};
use crate::ApiState;

/// `X-Consul-Effective-Consistency` (catalog and health reads only).
static EFFECTIVE_CONSISTENCY: HeaderName = HeaderName::from_static("x-consul-effective-consistency");

/// A parsed read request, after the consistency barrier.
pub struct Read {
    /// The query string.
    pub params: Params,
    /// Blocking options.
    pub opts: BlockingOptions,
    /// Consistency mode asked for.
    pub mode: Consistency,
    /// Leader metadata for the headers.
    pub meta: ReadMeta,
    /// Pretty-print JSON.
    pub pretty: bool,
    /// The `?filter` expression, if any.
    pub filter: Option<Filter>,
    /// Who asks: rows it may not read are left out. Resolved again on every wake of a
    /// blocking query ([`Read::refresh`]).
    caller: RwLock<Caller>,
    /// Whether ACLs are on for this caller (else no row is checked and nothing re-resolved).
    acl_on: bool,
    /// Whether its token is restricted at the start (its answers bypass the shared cache).
    restricted: bool,
    /// Whether a row was left out for ACLs (`X-Consul-Results-Filtered-By-ACLs`).
    filtered: AtomicBool,
}

impl Read {
    /// Parses and checks a read (dc, index, wait, consistency, filter) and passes the barrier.
    pub async fn begin(api: &ApiState, caller: Caller, raw_query: Option<&str>) -> Result<Read, ApiError> {
        let params = Params::parse(raw_query);
        params.check_dc(&api.config)?;
        let mode = params.consistency()?;
        let opts = params.blocking(&api.config)?;
        // Consul answers a malformed filter with 500; it is the client's mistake, so 400.
        let filter = match params.get("filter") {
            Some(expr) if !expr.trim().is_empty() => {
                Some(Filter::parse(expr).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            _ => None,
        };
        let meta = api.consensus.read_barrier(mode).await?;
        let pretty = params.pretty(&api.config);
        Ok(Read {
            params,
            opts,
            mode,
            meta,
            pretty,
            filter,
            acl_on: caller.accessor_id().is_some(),
            restricted: caller.is_restricted(),
            caller: RwLock::new(caller),
            filtered: AtomicBool::new(false),
        })
    }

    /// Resolves the caller's token again against `state` (a blocking query's wake): a
    /// token deleted or narrowed meanwhile sees accordingly less.
    pub fn refresh(&self, state: &State) {
        if self.acl_on {
            let now = self.caller.read().at(state).unwrap_or_else(Caller::nothing);
            *self.caller.write() = now;
        }
    }

    fn sees(&self, kind: Kind, name: &str) -> bool {
        if !self.acl_on {
            return true;
        }
        let ok = self.caller.read().allows(kind, name, Need::Read);
        if !ok {
            self.filtered.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// Whether the caller may read node `name` (noting a row left out).
    pub fn sees_node(&self, name: &str) -> bool {
        self.sees(Kind::Node, name)
    }

    /// Whether the caller may read service `name` (noting a row left out).
    pub fn sees_service(&self, name: &str) -> bool {
        self.sees(Kind::Service, name)
    }

    /// Whether the caller may read a check: a service's needs the service, a node's the node.
    pub fn sees_check(&self, check: &HealthCheck) -> bool {
        if check.service_name.is_empty() {
            self.sees_node(&check.node)
        } else {
            self.sees_node(&check.node) && self.sees_service(&check.service_name)
        }
    }

    /// Whether `item` passes `?filter` (always, without one).
    pub fn keep<T: serde::Serialize>(&self, item: &T) -> bool {
        match &self.filter {
            None => true,
            Some(f) => serde_json::to_value(item).map(|v| f.matches(&v)).unwrap_or(false),
        }
    }

    /// `?node-meta=key:value` pairs (all must match).
    pub fn node_meta_matches(&self, meta: &Option<std::collections::BTreeMap<String, String>>) -> bool {
        self.params.all("node-meta").all(|kv| {
            let (k, v) = kv.split_once(':').unwrap_or((kv, ""));
            meta.as_ref().and_then(|m| m.get(k)).map(String::as_str) == Some(v)
        })
    }

    /// Runs a blocking catalog read and answers it as JSON with the read headers.
    ///
    /// `query` returns the result's index and its JSON, encoded by [`Read::encode`] while
    /// the state's read lock is held, so rows are serialised straight from the state
    /// instead of being copied out first. `watch` is the cheap probe that decides when
    /// `query` must run again (see [`blocking::run`]).
    pub async fn answer(
        &self,
        store: &StateStore,
        watch: impl Fn(&State) -> u64,
        mut query: impl FnMut(&State) -> (u64, Vec<u8>),
    ) -> Response<Body> {
        let result = blocking::run(store, Table::Catalog, self.opts, watch, |s| {
            self.refresh(s);
            let (index, value) = query(s);
            QueryResult { index, value }
        })
        .await;
        self.respond(result.index, Bytes::from(result.value))
    }

    /// Like [`Read::answer`], for hot reads whose watch probe moves exactly when their
    /// answer changes (a service's index): an answer encoded at the current probe is
    /// served again from `api.cache` (see [`crate::cache`]). `what` names the endpoint
    /// and its path parameters.
    pub async fn answer_cached(
        &self,
        api: &ApiState,
        what: &str,
        watch: impl Fn(&State) -> u64,
        mut query: impl FnMut(&State) -> (u64, Vec<u8>),
    ) -> Response<Body> {
        if self.restricted {
            // A filtered answer is the caller's own: never shared through the cache.
            return self.answer(&api.store, watch, query).await;
        }
        let key = self.cache_key(what);
        let fresh = {
            let state = api.store.read();
            let probe = watch(&state);
            // A probe of 0 means "nothing there" (an unknown service): its index still moves.
            if probe == 0 {
                None
            } else if let Some((index, body)) = api
                .cache
                .get(&key, probe)
                .filter(|(index, _)| self.opts.min_index == 0 || *index > self.opts.min_index)
            {
                Some((index, body))
            } else if self.opts.min_index == 0 {
                let (index, body) = query(&state);
                let body = Bytes::from(body);
                api.cache.put(key, probe, index, body.clone());
                Some((index, body))
            } else {
                None
            }
        };
        match fresh {
            Some((index, body)) => self.respond(index, body),
            None => self.answer(&api.store, watch, query).await,
        }
    }

    /// The cache key: the endpoint, the answer-shaping parameters and the pretty flag.
    fn cache_key(&self, what: &str) -> String {
        let mut key = String::with_capacity(what.len() + 32);
        key.push_str(what);
        key.push(if self.pretty { '!' } else { '?' });
        for (k, v) in self.params.answer_shaping() {
            key.push_str(k);
            key.push('=');
            key.push_str(v);
            key.push('&');
        }
        key
    }

    /// A 200 answer from an encoded body, with the read headers.
    fn respond(&self, index: u64, body: Bytes) -> Response<Body> {
        let mut resp = json_bytes_response(StatusCode::OK, body);
        self.finish(&mut resp, index);
        resp
    }

    /// Encodes a response body (pretty or compact, as asked).
    pub fn encode<T: serde::Serialize + ?Sized>(&self, value: &T) -> Vec<u8> {
        encode_json(value, self.pretty)
    }

    /// Adds the index, leader and consistency headers.
    pub fn finish(&self, resp: &mut Response<Body>, index: u64) {
        add_query_meta(resp, index, self.meta);
        mark_filtered(resp, self.filtered.load(Ordering::Relaxed));
        let value = match self.mode {
            Consistency::Default => "leader",
            Consistency::Stale => "stale",
            Consistency::Consistent => "consistent",
        };
        resp.headers_mut()
            .insert(EFFECTIVE_CONSISTENCY.clone(), HeaderValue::from_static(value));
    }
}
