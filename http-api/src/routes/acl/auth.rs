//! `/v1/acl/auth-method[/:name]`, `/v1/acl/auth-methods`, `/v1/acl/binding-rule[/:id]`,
//! `/v1/acl/binding-rules`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Response};
use rconsul_state::acl::{AclCommand, AuthMethod, BindingRule, Need};

use super::tokens::reword;
use super::{
    begin, delete_object, ensure_enabled, new_uuid, not_found, read_fields, read_json, require_read, views,
    write_then_show,
};
use crate::acl::Caller;
use crate::decode::Fields;
use crate::filter::Filter;
use crate::query::Params;
use crate::response::{encode_json, ApiError};
use crate::SharedState;

/// Auth method types rconsul can log in with.
const SUPPORTED_TYPES: &[&str] = &["jwt"];
/// Binding types Consul knows.
const BIND_TYPES: &[&str] = &["service", "node", "role", "policy", "templated-policy"];

fn decode_method(f: &mut Fields, mut m: AuthMethod) -> Result<AuthMethod, ApiError> {
    let r = reword("AuthMethod");
    if let Some(t) = f.string("Type").map_err(&r)? {
        m.method_type = t;
    }
    m.display_name = f.string("DisplayName").map_err(&r)?.unwrap_or_default();
    m.description = f.string("Description").map_err(&r)?.unwrap_or_default();
    m.max_token_ttl_ns = f
        .duration("MaxTokenTTL")
        .map_err(&r)?
        .map_or(0, |d| d.as_nanos() as u64);
    m.token_locality = f.string("TokenLocality").map_err(&r)?.unwrap_or_default();
    if let Some(config) = f.take(&["Config"]) {
        m.config_json = config.to_string();
    }
    f.ignore(&[
        "CreateIndex",
        "ModifyIndex",
        "Namespace",
        "Partition",
        "NamespaceRules",
    ]);
    if !matches!(m.token_locality.as_str(), "" | "local" | "global") {
        return Err(ApiError::bad_request(format!(
            "Invalid Auth Method: TokenLocality should be one of 'local' or 'global'; got {:?}",
            m.token_locality
        )));
    }
    if m.method_type.is_empty() {
        return Err(ApiError::bad_request("Invalid Auth Method: Type is required"));
    }
    if !SUPPORTED_TYPES.contains(&m.method_type.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Invalid Auth Method: Type should be one of: {}; rconsul has no {:?} auth method",
            SUPPORTED_TYPES.join(", "),
            m.method_type
        )));
    }
    let config: serde_json::Value = serde_json::from_str(&m.config_json).unwrap_or_default();
    crate::login::validate_config(&config)
        .map_err(|e| ApiError::bad_request(format!("Invalid Auth Method: {e}")))?;
    Ok(m)
}

async fn write_method(api: &SharedState, m: AuthMethod, pretty: bool) -> Result<Response<Body>, ApiError> {
    let name = m.name.clone();
    write_then_show(api, AclCommand::AuthMethodSet(m), "auth method", |t| {
        t.auth_method(&name)
            .map(|m| encode_json(&views::auth_method(m, true), pretty))
    })
    .await
}

/// `PUT /v1/acl/auth-method`.
pub async fn create_method(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLAuthMethod")
        .await
        .map_err(reword("AuthMethod"))?;
    let name = f.string("Name")?.unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::bad_request("Invalid Auth Method: no Name is set"));
    }
    if !super::policies::valid_name(&name) {
        return Err(ApiError::bad_request(
            "Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
        ));
    }
    if api.store.read().acl.auth_method(&name).is_some() {
        return Err(ApiError::bad_request(format!(
            "Invalid Auth Method: An Auth Method with Name {name:?} already exists"
        )));
    }
    let blank = AuthMethod {
        name,
        method_type: String::new(),
        display_name: String::new(),
        description: String::new(),
        max_token_ttl_ns: 0,
        token_locality: String::new(),
        config_json: "{}".into(),
        create_index: 0,
        modify_index: 0,
    };
    let m = decode_method(&mut f, blank)?;
    f.finish().map_err(reword("AuthMethod"))?;
    write_method(&api, m, pretty).await
}

/// `PUT /v1/acl/auth-method/:name`.
pub async fn update_method(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLAuthMethod")
        .await
        .map_err(reword("AuthMethod"))?;
    if f.string("Name")?.is_some_and(|n| !n.is_empty() && n != name) {
        return Err(ApiError::bad_request(
            "Auth Method Name in URL and payload do not match",
        ));
    }
    let existing = api.store.read().acl.auth_method(&name).cloned();
    let Some(existing) = existing else {
        return Err(ApiError::bad_request(format!("Cannot find auth method {name:?}")));
    };
    let previous_type = existing.method_type.clone();
    let m = decode_method(&mut f, existing)?;
    if m.method_type != previous_type {
        return Err(ApiError::bad_request(
            "Invalid Auth Method: Type cannot be changed",
        ));
    }
    f.finish().map_err(reword("AuthMethod"))?;
    write_method(&api, m, pretty).await
}

/// `GET /v1/acl/auth-method/:name`.
pub async fn read_method(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let m = state
        .acl
        .auth_method(&name)
        .ok_or_else(|| not_found("auth method"))?;
    Ok(read_json(
        &api,
        &views::auth_method(m, true),
        pretty,
        state.acl.index(),
    ))
}

/// `DELETE /v1/acl/auth-method/:name` (its binding rules and tokens go with it).
pub async fn delete_method(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let exists = api.store.read().acl.auth_method(&name).is_some();
    delete_object(
        &api,
        exists,
        "Cannot find auth method to delete",
        AclCommand::AuthMethodDelete(name),
        pretty,
    )
    .await
}

/// `GET /v1/acl/auth-methods`.
pub async fn list_methods(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let list: Vec<_> = state
        .acl
        .auth_methods()
        .map(|m| views::auth_method(m, false))
        .collect();
    Ok(read_json(&api, &list, pretty, state.acl.index()))
}

fn decode_rule(api: &SharedState, f: &mut Fields, mut r: BindingRule) -> Result<BindingRule, ApiError> {
    let w = reword("BindingRule");
    r.description = f.string("Description").map_err(&w)?.unwrap_or_default();
    if let Some(m) = f.string("AuthMethod").map_err(&w)? {
        r.auth_method = m;
    }
    r.selector = f.string("Selector").map_err(&w)?.unwrap_or_default();
    r.bind_type = f.string("BindType").map_err(&w)?.unwrap_or_default();
    r.bind_name = f.string("BindName").map_err(&w)?.unwrap_or_default();
    r.bind_vars_json = f.take(&["BindVars"]).map(|v| v.to_string()).unwrap_or_default();
    f.ignore(&["CreateIndex", "ModifyIndex", "Namespace", "Partition"]);
    if r.auth_method.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid Binding Rule: no AuthMethod is set",
        ));
    }
    if api.store.read().acl.auth_method(&r.auth_method).is_none() {
        return Err(ApiError::bad_request(format!(
            "Invalid Binding Rule: AuthMethod {:?} not found",
            r.auth_method
        )));
    }
    if !BIND_TYPES.contains(&r.bind_type.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Invalid Binding Rule: unknown BindType {:?}",
            r.bind_type
        )));
    }
    if r.bind_name.is_empty() {
        return Err(ApiError::bad_request("Invalid Binding Rule: no BindName is set"));
    }
    if !r.selector.trim().is_empty() {
        Filter::parse(&r.selector)
            .map_err(|e| ApiError::bad_request(format!("invalid Binding Rule: Selector is invalid: {e}")))?;
    }
    let config_json = api
        .store
        .read()
        .acl
        .auth_method(&r.auth_method)
        .map(|m| m.config_json.clone())
        .unwrap_or_default();
    let config: serde_json::Value = serde_json::from_str(&config_json).unwrap_or_default();
    let vars = crate::login::JwtConfig::from_json(&config)
        .map(|c| c.projected_var_names())
        .unwrap_or_default();
    let bind_vars: Option<serde_json::Value> = serde_json::from_str(&r.bind_vars_json).ok();
    let spec = crate::login::BindingRuleSpec {
        selector: &r.selector,
        bind_type: &r.bind_type,
        bind_name: &r.bind_name,
        bind_vars: bind_vars.as_ref(),
    };
    crate::login::validate_binding_rule(&spec, &vars)
        .map_err(|e| ApiError::bad_request(format!("Invalid Binding Rule: {e}")))?;
    Ok(r)
}

async fn write_rule(api: &SharedState, r: BindingRule, pretty: bool) -> Result<Response<Body>, ApiError> {
    let id = r.id.clone();
    write_then_show(api, AclCommand::BindingRuleSet(r), "binding rule", |t| {
        t.binding_rule(&id)
            .map(|r| encode_json(&views::binding_rule(r), pretty))
    })
    .await
}

/// `PUT /v1/acl/binding-rule`.
pub async fn create_rule(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLBindingRule")
        .await
        .map_err(reword("BindingRule"))?;
    if f.string("ID")?.is_some_and(|id| !id.is_empty()) {
        return Err(ApiError::bad_request(
            "Cannot specify the ID when creating a new binding rule",
        ));
    }
    let blank = BindingRule {
        id: new_uuid(),
        description: String::new(),
        auth_method: String::new(),
        selector: String::new(),
        bind_type: String::new(),
        bind_name: String::new(),
        bind_vars_json: String::new(),
        create_index: 0,
        modify_index: 0,
    };
    let r = decode_rule(&api, &mut f, blank)?;
    f.finish().map_err(reword("BindingRule"))?;
    write_rule(&api, r, pretty).await
}

/// `PUT /v1/acl/binding-rule/:id`.
pub async fn update_rule(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLBindingRule")
        .await
        .map_err(reword("BindingRule"))?;
    if f.string("ID")?
        .is_some_and(|given| !given.is_empty() && given != id)
    {
        return Err(ApiError::bad_request(
            "BindingRule ID in URL and payload do not match",
        ));
    }
    let existing = api.store.read().acl.binding_rule(&id).cloned();
    let Some(existing) = existing else {
        return Err(ApiError::bad_request(format!("Cannot find binding rule {id:?}")));
    };
    let method = existing.auth_method.clone();
    let r = decode_rule(&api, &mut f, existing)?;
    if r.auth_method != method {
        return Err(ApiError::bad_request(
            "Invalid Binding Rule: AuthMethod cannot be changed",
        ));
    }
    f.finish().map_err(reword("BindingRule"))?;
    write_rule(&api, r, pretty).await
}

/// `GET /v1/acl/binding-rule/:id`.
pub async fn read_rule(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let r = state
        .acl
        .binding_rule(&id)
        .ok_or_else(|| not_found("binding rule"))?;
    Ok(read_json(
        &api,
        &views::binding_rule(r),
        pretty,
        state.acl.index(),
    ))
}

/// `DELETE /v1/acl/binding-rule/:id`.
pub async fn delete_rule(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let exists = api.store.read().acl.binding_rule(&id).is_some();
    delete_object(
        &api,
        exists,
        "Cannot find binding rule to delete",
        AclCommand::BindingRuleDelete(id),
        pretty,
    )
    .await
}

/// `GET /v1/acl/binding-rules` (`?authmethod`).
pub async fn list_rules(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    require_read(&caller)?;
    let params = Params::parse(q.as_deref());
    let method = params.get("authmethod").filter(|m| !m.is_empty());
    let state = api.store.read();
    let list: Vec<_> = state
        .acl
        .binding_rules()
        .filter(|r| method.is_none_or(|m| r.auth_method == m))
        .map(views::binding_rule)
        .collect();
    Ok(read_json(
        &api,
        &list,
        params.pretty(&api.config),
        state.acl.index(),
    ))
}
