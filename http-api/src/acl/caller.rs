//! The caller of a request: its resolved token, and the checks endpoints make with it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Response, StatusCode};
use rconsul_state::acl::{Global, Kind, Need, Resolved, Resolver, ANONYMOUS_TOKEN_ID};
use rconsul_state::store::State;

use crate::response::ApiError;
use crate::{ApiState, SharedState};

/// `X-Consul-Results-Filtered-By-ACLs`, set when a list lost entries to ACLs.
pub static FILTERED_BY_ACLS: axum::http::HeaderName =
    axum::http::HeaderName::from_static("x-consul-results-filtered-by-acls");

/// Now, in Unix nanoseconds (token expiry).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Who is asking. With ACLs disabled it allows everything without any lookup.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The resolved token; None when ACLs are disabled.
    resolved: Option<Arc<Resolved>>,
    /// The secret presented (after the agent's default token), to resolve again.
    secret: String,
    /// The resolver it came from (None when ACLs are disabled).
    resolver: Option<Arc<Resolver>>,
}

impl Caller {
    /// A caller that may do everything (ACLs disabled, or the agent itself).
    pub fn unrestricted() -> Self {
        Caller {
            resolved: None,
            secret: String::new(),
            resolver: None,
        }
    }

    /// A caller that may do nothing (its token vanished while a query waited).
    pub fn nothing() -> Self {
        Caller {
            resolved: Some(Arc::new(Resolved::nothing())),
            secret: String::new(),
            resolver: None,
        }
    }

    /// Resolves the token of a request (`?token`, `X-Consul-Token`, bearer; else the
    /// agent's default token; else anonymous). An unknown or expired token is Consul's
    /// 403 `ACL not found`.
    pub fn from_request(
        api: &ApiState,
        headers: &axum::http::HeaderMap,
        query: Option<&str>,
    ) -> Result<Self, ApiError> {
        if !api.acl.enabled {
            return Ok(Caller::unrestricted());
        }
        let mut secret = super::token::from_request(headers, query);
        if secret.is_empty() {
            secret = api.acl.tokens.default_token();
        }
        Caller::resolve(api, secret)
    }

    /// Resolves `secret` against the local ACL tables.
    pub fn resolve(api: &ApiState, secret: String) -> Result<Self, ApiError> {
        if !api.acl.enabled {
            return Ok(Caller::unrestricted());
        }
        let resolved = {
            let state = api.store.read();
            api.acl.resolver.resolve(&state.acl, &secret, now_ns())
        };
        match resolved {
            Ok(r) => Ok(Caller {
                resolved: Some(r),
                secret,
                resolver: Some(api.acl.resolver.clone()),
            }),
            Err(_) => Err(acl_not_found()),
        }
    }

    /// The caller as of `state`, for a blocking query's re-check on every wake; None
    /// once its token is gone or expired.
    pub fn at(&self, state: &State) -> Option<Caller> {
        let Some(resolver) = &self.resolver else {
            return Some(self.clone());
        };
        resolver
            .resolve(&state.acl, &self.secret, now_ns())
            .ok()
            .map(|r| Caller {
                resolved: Some(r),
                secret: self.secret.clone(),
                resolver: Some(resolver.clone()),
            })
    }

    /// Whether ACLs apply to this caller at all.
    pub fn is_restricted(&self) -> bool {
        self.resolved.as_ref().is_some_and(|r| !r.authz.is_management())
    }

    /// The token's AccessorID, if ACLs are on.
    pub fn accessor_id(&self) -> Option<&str> {
        self.resolved.as_ref().map(|r| r.accessor_id.as_str())
    }

    /// The SecretID presented.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether `need` on `kind` `name` is allowed.
    pub fn allows(&self, kind: Kind, name: &str, need: Need) -> bool {
        self.resolved
            .as_ref()
            .is_none_or(|r| r.authz.allows(kind, name, need))
    }

    /// Whether `need` on a global resource is allowed.
    pub fn allows_global(&self, global: Global, need: Need) -> bool {
        self.resolved
            .as_ref()
            .is_none_or(|r| r.authz.allows_global(global, need))
    }

    /// Whether the caller holds the management policy (or ACLs are off).
    pub fn is_management(&self) -> bool {
        self.resolved.as_ref().is_none_or(|r| r.authz.is_management())
    }

    /// Requires `need` on `kind` `name`, else Consul's 403.
    pub fn require(&self, kind: Kind, name: &str, need: Need) -> Result<(), ApiError> {
        if self.allows(kind, name, need) {
            return Ok(());
        }
        Err(self.denied(kind.word(), need, Some(name)))
    }

    /// Requires write on everything under `prefix` (recursive KV delete).
    pub fn require_write_prefix(&self, kind: Kind, prefix: &str) -> Result<(), ApiError> {
        if self
            .resolved
            .as_ref()
            .is_none_or(|r| r.authz.allows_write_prefix(kind, prefix))
        {
            return Ok(());
        }
        Err(self.denied(kind.word(), Need::Write, Some(prefix)))
    }

    /// Requires `need` on a global resource, else Consul's 403.
    pub fn require_global(&self, global: Global, need: Need) -> Result<(), ApiError> {
        if self.allows_global(global, need) {
            return Ok(());
        }
        Err(self.denied(global.word(), need, None))
    }

    /// Consul's permission-denied error for this caller.
    pub fn denied(&self, resource: &str, need: Need, name: Option<&str>) -> ApiError {
        let accessor = self.accessor_id().unwrap_or(ANONYMOUS_TOKEN_ID);
        let mut msg = if accessor == ANONYMOUS_TOKEN_ID {
            String::from("Permission denied: anonymous token")
        } else {
            format!("Permission denied: token with AccessorID '{accessor}'")
        };
        msg.push_str(&format!(" lacks permission '{resource}:{}'", need.word()));
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            msg.push_str(&format!(" on {n:?}"));
        }
        if accessor == ANONYMOUS_TOKEN_ID {
            msg.push_str(". The anonymous token is used implicitly when a request does not specify a token.");
        }
        ApiError::new(StatusCode::FORBIDDEN, msg)
    }
}

/// Consul's answer to an unknown or expired token.
pub fn acl_not_found() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "ACL not found")
}

/// Marks a list answer as filtered by ACLs.
pub fn mark_filtered(resp: &mut Response<Body>, filtered: bool) {
    if filtered {
        resp.headers_mut()
            .insert(FILTERED_BY_ACLS.clone(), HeaderValue::from_static("true"));
    }
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &SharedState) -> Result<Self, Self::Rejection> {
        Caller::from_request(api, &parts.headers, parts.uri.query())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_read_as_consuls() {
        let c = Caller::unrestricted();
        let e = c.denied("key", Need::Read, Some("x"));
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(
            e.message,
            "Permission denied: anonymous token lacks permission 'key:read' on \"x\". The anonymous token is used implicitly when a request does not specify a token."
        );
        assert_eq!(
            c.denied("operator", Need::Write, None).message,
            "Permission denied: anonymous token lacks permission 'operator:write'. The anonymous token is used implicitly when a request does not specify a token."
        );
    }
}
