//! `POST /v1/acl/login` and `POST /v1/acl/logout`: trade a JWT for a token minted by an
//! auth method's binding rules, and delete such a token again.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Response, StatusCode};
use rconsul_state::acl::{
    AclCommand, NodeIdentity, PolicyLink, RoleLink, ServiceIdentity, TemplatedPolicyLink, Token,
};

use super::tokens::blank_token;
use super::{ensure_enabled, new_uuid, ok_json, propose, read_fields};
use crate::acl::caller::{acl_not_found, now_ns};
use crate::acl::Caller;
use crate::login::{bind, BindingRuleSpec, JwtValidator, LoginError};
use crate::query::Params;
use crate::response::ApiError;
use crate::SharedState;

fn permission_denied() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "Permission denied")
}

/// A refused login. Consul answers a bad bearer token with 500 and its text; a failed
/// login is the caller's credentials, not the server, so rconsul says 403 (400 for a
/// request without a token) with the same text.
fn login_error(e: LoginError) -> ApiError {
    match e {
        LoginError::PermissionDenied => permission_denied(),
        LoginError::MissingToken => ApiError::bad_request(e.to_string()),
        other => ApiError::new(StatusCode::FORBIDDEN, other.to_string()),
    }
}

/// `POST /v1/acl/login` (`{"AuthMethod", "BearerToken", "Meta"}`).
pub async fn login(
    State(api): State<SharedState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    let pretty = Params::parse(q.as_deref()).pretty(&api.config);
    let mut f = read_fields(&headers, body, "ACLLoginParams").await?;
    let method_name = f.string("AuthMethod")?.unwrap_or_default();
    let bearer = f.string("BearerToken")?.unwrap_or_default();
    let meta = f.string_map("Meta")?.unwrap_or_default();
    f.ignore(&["Token", "Namespace", "Partition"]);
    f.finish()?;
    if bearer.is_empty() {
        return Err(ApiError::bad_request("Missing auth method bearer token"));
    }
    let token = {
        let state = api.store.read();
        let tables = &state.acl;
        let method = tables.auth_method(&method_name).ok_or_else(acl_not_found)?;
        let config: serde_json::Value = serde_json::from_str(&method.config_json).unwrap_or_default();
        let validator = JwtValidator::new(&config).map_err(|e| ApiError::internal(e.to_string()))?;
        let identity = validator
            .validate(&bearer, SystemTime::now())
            .map_err(login_error)?;
        let rules: Vec<_> = tables
            .binding_rules()
            .filter(|r| r.auth_method == method.name)
            .collect();
        let vars: Vec<Option<serde_json::Value>> = rules
            .iter()
            .map(|r| serde_json::from_str(&r.bind_vars_json).ok())
            .collect();
        let specs: Vec<BindingRuleSpec<'_>> = rules
            .iter()
            .zip(&vars)
            .map(|(r, v)| BindingRuleSpec {
                selector: &r.selector,
                bind_type: &r.bind_type,
                bind_name: &r.bind_name,
                bind_vars: v.as_ref(),
            })
            .collect();
        let bindings = bind(&specs, &identity).map_err(login_error)?;
        let mut token = Token {
            accessor_id: new_uuid(),
            secret_id: new_uuid(),
            description: if meta.is_empty() {
                "token created via login".into()
            } else {
                format!(
                    "token created via login: {}",
                    serde_json::to_string(&meta).unwrap_or_default()
                )
            },
            local: method.token_locality != "global",
            auth_method: method.name.clone(),
            create_time_ns: now_ns(),
            ..blank_token()
        };
        if method.max_token_ttl_ns > 0 {
            token.expiration_ttl_ns = method.max_token_ttl_ns;
            token.expiration_time_ns = Some(token.create_time_ns + method.max_token_ttl_ns);
        }
        token.service_identities = bindings
            .service_identities
            .iter()
            .map(|name| ServiceIdentity {
                service_name: name.clone(),
                datacenters: vec![],
            })
            .collect();
        token.node_identities = bindings
            .node_identities
            .iter()
            .map(|name| NodeIdentity {
                node_name: name.clone(),
                datacenter: api.config.datacenter.clone(),
            })
            .collect();
        // Consul drops bound roles and policies that do not exist.
        token.roles = bindings
            .roles
            .iter()
            .filter_map(|n| tables.role_by_name(n))
            .map(|r| RoleLink {
                id: r.id.clone(),
                name: r.name.clone(),
            })
            .collect();
        token.policies = bindings
            .policies
            .iter()
            .filter_map(|n| tables.policy_by_name(n))
            .map(|p| PolicyLink {
                id: p.id.clone(),
                name: p.name.clone(),
            })
            .collect();
        token.templated_policies = bindings
            .templated_policies
            .iter()
            .map(|t| TemplatedPolicyLink {
                template_name: t.template_name.clone(),
                name: t.name.clone(),
                datacenters: vec![],
            })
            .collect();
        let grants_nothing = token.service_identities.is_empty()
            && token.node_identities.is_empty()
            && token.roles.is_empty()
            && token.policies.is_empty()
            && token.templated_policies.is_empty();
        if grants_nothing {
            return Err(permission_denied());
        }
        token
    };
    super::tokens::set_and_show(&api, token, pretty).await
}

/// `POST /v1/acl/logout`: deletes the caller's token, if an auth method minted it.
pub async fn logout(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    let pretty = Params::parse(q.as_deref()).pretty(&api.config);
    let accessor = {
        let state = api.store.read();
        let token = caller
            .accessor_id()
            .and_then(|a| state.acl.token(a))
            .filter(|t| !caller.secret().is_empty() && t.secret_id == caller.secret())
            .ok_or_else(acl_not_found)?;
        if token.auth_method.is_empty() {
            return Err(permission_denied());
        }
        token.accessor_id.clone()
    };
    propose(&api, AclCommand::TokenDelete(accessor)).await?;
    Ok(ok_json(&true, pretty))
}
