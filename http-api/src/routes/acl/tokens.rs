//! `/v1/acl/bootstrap`, `/v1/acl/token[/:id[/clone]]`, `/v1/acl/token/self`, `/v1/acl/tokens`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Response, StatusCode};
use rconsul_state::acl::{
    AclCommand, AclTables, Need, PolicyLink, Token, ANONYMOUS_TOKEN_ID, GLOBAL_MANAGEMENT_POLICY_ID,
    GLOBAL_MANAGEMENT_POLICY_NAME,
};
use rconsul_state::clock::parse_rfc3339_ns;

use super::{
    begin, delete_object, ensure_enabled, is_uuid, links, new_uuid, not_found, ok_json, read_fields,
    read_json, require_read, views, write_then_show,
};
use crate::acl::caller::now_ns;
use crate::acl::Caller;
use crate::decode::Fields;
use crate::query::Params;
use crate::response::{encode_json, ApiError};
use crate::SharedState;

/// The reserved prefix of built-in IDs.
const RESERVED_PREFIX: &str = "00000000-0000-0000-0000-0000000000";

/// Renders the stored token `accessor` after a write.
/// Writes `token` and answers it as stored (with its secret: the writer holds `acl:write`).
pub(super) async fn set_and_show(
    api: &SharedState,
    token: Token,
    pretty: bool,
) -> Result<Response<Body>, ApiError> {
    let accessor = token.accessor_id.clone();
    write_then_show(api, AclCommand::TokenSet(token), "token", |t| {
        t.token(&accessor)
            .map(|tok| encode_json(&views::token(t, tok, true), pretty))
    })
    .await
}

/// Replaces "Request decode failed" with Consul's per-object wording.
pub(super) fn reword(what: &str) -> impl Fn(ApiError) -> ApiError + '_ {
    move |mut e| {
        if let Some(rest) = e.message.strip_prefix("Request decode failed: ") {
            e.message = format!("{what} decoding failed: {rest}");
        }
        e
    }
}

/// `PUT /v1/acl/bootstrap`: the first management token, once.
pub async fn bootstrap(
    State(api): State<SharedState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    let pretty = Params::parse(q.as_deref()).pretty(&api.config);
    let has_body = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0");
    let mut secret = new_uuid();
    if has_body {
        let mut f = read_fields(&headers, body, "ACLInitialTokenBootstrapParams").await?;
        if let Some(s) = f.string("BootstrapSecret")?.filter(|s| !s.is_empty()) {
            if !is_uuid(&s) {
                return Err(ApiError::bad_request("BootstrapSecret is not a valid UUID"));
            }
            secret = s;
        }
        f.finish()?;
    }
    let bootstrapped = api.store.read().acl.bootstrap_index();
    if bootstrapped != 0 {
        return Err(bootstrap_refused(bootstrapped));
    }
    let token = Token {
        accessor_id: new_uuid(),
        secret_id: secret,
        description: "Bootstrap Token (Global Management)".into(),
        policies: vec![PolicyLink {
            id: GLOBAL_MANAGEMENT_POLICY_ID.into(),
            name: GLOBAL_MANAGEMENT_POLICY_NAME.into(),
        }],
        create_time_ns: now_ns(),
        ..blank_token()
    };
    let accessor = token.accessor_id.clone();
    match api
        .consensus
        .write(rconsul_state::Command::Acl(Box::new(AclCommand::Bootstrap(
            token,
        ))))
        .await?
    {
        rconsul_state::CommandResult::Failed(_) => {
            Err(bootstrap_refused(api.store.read().acl.bootstrap_index()))
        }
        _ => {
            let state = api.store.read();
            let token = state
                .acl
                .token(&accessor)
                .ok_or_else(|| ApiError::internal("token vanished after it was written"))?;
            // Consul's answer leads with the secret as `ID` (the legacy field).
            #[derive(serde::Serialize)]
            struct Bootstrapped<'a> {
                #[serde(rename = "ID")]
                id: &'a str,
                #[serde(flatten)]
                token: views::TokenJson<'a>,
            }
            let body = Bootstrapped {
                id: &token.secret_id,
                token: views::token(&state.acl, token, true),
            };
            Ok(ok_json(&body, pretty))
        }
    }
}

fn bootstrap_refused(index: u64) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!("Permission denied: ACL bootstrap no longer allowed (reset index: {index})"),
    )
}

/// An empty token, to fill in.
pub fn blank_token() -> Token {
    Token {
        accessor_id: String::new(),
        secret_id: String::new(),
        description: String::new(),
        policies: vec![],
        roles: vec![],
        service_identities: vec![],
        node_identities: vec![],
        templated_policies: vec![],
        local: false,
        auth_method: String::new(),
        expiration_time_ns: None,
        expiration_ttl_ns: 0,
        create_time_ns: 0,
        create_index: 0,
        modify_index: 0,
    }
}

/// The grants and description of a token body, checked against the tables.
fn decode_grants(f: &mut Fields, tables: &AclTables, token: &mut Token) -> Result<(), ApiError> {
    token.description = f.string("Description")?.unwrap_or_default();
    token.policies = links::policies(f, tables)?;
    token.roles = links::roles(f, tables)?;
    token.service_identities = links::service_identities(f)?;
    token.node_identities = links::node_identities(f)?;
    token.templated_policies = links::templated_policies(f)?;
    Ok(())
}

/// Checks and applies `ExpirationTTL`/`ExpirationTime` of a new token.
fn expiration(api: &SharedState, f: &mut Fields, token: &mut Token) -> Result<(), ApiError> {
    let ttl = f.duration("ExpirationTTL")?;
    let time = f.string("ExpirationTime")?.filter(|s| !s.is_empty());
    let now = token.create_time_ns;
    let (min, max) = (api.acl.token_min_expiration_ttl, api.acl.token_max_expiration_ttl);
    let bounds = |d: Duration| -> Result<(), ApiError> {
        if d < min || d > max {
            return Err(ApiError::bad_request(format!(
                "Token Expiration TTL '{}' should be between {} and {}",
                rconsul_compat::duration::format(d),
                rconsul_compat::duration::format(min),
                rconsul_compat::duration::format(max)
            )));
        }
        Ok(())
    };
    match (ttl, time) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "Expiration TTL and Expiration Time cannot both be set",
        )),
        (Some(ttl), None) => {
            if ttl.is_zero() {
                return Ok(());
            }
            bounds(ttl)?;
            token.expiration_ttl_ns = ttl.as_nanos() as u64;
            token.expiration_time_ns = Some(now.saturating_add(token.expiration_ttl_ns));
            Ok(())
        }
        (None, Some(text)) => {
            let at = parse_rfc3339_ns(&text).ok_or_else(|| {
                ApiError::bad_request(format!("Token decoding failed: invalid ExpirationTime {text:?}"))
            })?;
            if at <= now {
                return Err(ApiError::bad_request("ExpirationTime cannot be in the past"));
            }
            bounds(Duration::from_nanos(at - now))?;
            token.expiration_time_ns = Some(at);
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

/// `PUT /v1/acl/token`: create a token.
pub async fn create(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLToken")
        .await
        .map_err(reword("Token"))?;
    let token = {
        let state = api.store.read();
        let tables = &state.acl;
        let mut token = Token {
            create_time_ns: now_ns(),
            ..blank_token()
        };
        token.accessor_id = new_id(
            f.string("AccessorID").map_err(reword("Token"))?,
            "AccessorID",
            |id| tables.token(id).is_some(),
        )?;
        token.secret_id = new_id(f.string("SecretID").map_err(reword("Token"))?, "SecretID", |id| {
            tables.token_by_secret(id).is_some()
        })?;
        decode_grants(&mut f, tables, &mut token).map_err(reword("Token"))?;
        token.local = f.boolean("Local")?.unwrap_or(false);
        expiration(&api, &mut f, &mut token)?;
        f.ignore(&[
            "CreateIndex",
            "ModifyIndex",
            "Hash",
            "CreateTime",
            "Namespace",
            "Partition",
            "Legacy",
            "Rules",
            "Type",
        ]);
        f.finish().map_err(reword("Token"))?;
        token
    };
    set_and_show(&api, token, pretty).await
}

/// A caller-chosen ID (checked) or a fresh one.
fn new_id(given: Option<String>, field: &str, in_use: impl Fn(&str) -> bool) -> Result<String, ApiError> {
    match given.filter(|s| !s.is_empty()) {
        None => Ok(new_uuid()),
        Some(id) if !is_uuid(&id) => Err(ApiError::bad_request(format!(
            "Invalid Token: {field} is not a valid UUID"
        ))),
        Some(id) if id.starts_with(RESERVED_PREFIX) => Err(ApiError::bad_request(format!(
            "Invalid Token: {field} uses a reserved UUID (prefix {RESERVED_PREFIX:?})"
        ))),
        Some(id) if in_use(&id) => Err(ApiError::bad_request(format!(
            "Invalid Token: {field} is already in use"
        ))),
        Some(id) => Ok(id),
    }
}

/// `GET /v1/acl/token/:id`.
pub async fn read(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    require_read(&caller)?;
    let params = Params::parse(q.as_deref());
    let show_secret = caller.allows_global(rconsul_state::acl::Global::Acl, rconsul_state::acl::Need::Write);
    let state = api.store.read();
    let token = state
        .acl
        .token(&id)
        .filter(|t| !t.is_expired(now_ns()))
        .ok_or_else(|| not_found("token"))?;
    Ok(read_json(
        &api,
        &views::token(&state.acl, token, show_secret),
        params.pretty(&api.config),
        state.acl.index(),
    ))
}

/// `GET /v1/acl/token/self`: the caller's own token.
pub async fn read_self(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    let params = Params::parse(q.as_deref());
    let state = api.store.read();
    let token = caller
        .accessor_id()
        .and_then(|a| state.acl.token(a))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Supplied token does not exist"))?;
    Ok(read_json(
        &api,
        &views::token(&state.acl, token, true),
        params.pretty(&api.config),
        state.acl.index(),
    ))
}

/// `PUT /v1/acl/token/:id`: update a token's description and grants.
pub async fn update(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLToken")
        .await
        .map_err(reword("Token"))?;
    let token = {
        let state = api.store.read();
        let tables = &state.acl;
        if let Some(given) = f
            .string("AccessorID")
            .map_err(reword("Token"))?
            .filter(|s| !s.is_empty())
        {
            if given != id {
                return Err(ApiError::bad_request(
                    "Token Accessor ID in URL and payload do not match",
                ));
            }
        }
        let mut token = tables
            .token(&id)
            .filter(|t| !t.is_expired(now_ns()))
            .cloned()
            .ok_or_else(|| ApiError::bad_request(format!("Cannot find token {id:?}")))?;
        if let Some(secret) = f.string("SecretID")?.filter(|s| !s.is_empty()) {
            if secret != token.secret_id {
                return Err(ApiError::bad_request(
                    "Changing a token's SecretID is not permitted",
                ));
            }
        }
        if let Some(local) = f.boolean("Local")? {
            if local != token.local {
                return Err(ApiError::bad_request(format!("Cannot toggle local mode of {id}")));
            }
        }
        decode_grants(&mut f, tables, &mut token).map_err(reword("Token"))?;
        let ttl = f.duration("ExpirationTTL")?;
        let time = f.string("ExpirationTime")?.filter(|s| !s.is_empty());
        if ttl.is_some_and(|d| d.as_nanos() as u64 != token.expiration_ttl_ns)
            || time.is_some_and(|t| parse_rfc3339_ns(&t) != token.expiration_time_ns)
        {
            return Err(ApiError::bad_request("Cannot change expiration time of a token"));
        }
        f.ignore(&[
            "CreateIndex",
            "ModifyIndex",
            "Hash",
            "CreateTime",
            "Namespace",
            "Partition",
            "AuthMethod",
            "Legacy",
        ]);
        f.finish().map_err(reword("Token"))?;
        token
    };
    set_and_show(&api, token, pretty).await
}

/// `PUT /v1/acl/token/:id/clone`: a new token with the same grants.
pub async fn clone(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let has_body = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0");
    let description = if has_body {
        let mut f = read_fields(&headers, body, "ACLToken")
            .await
            .map_err(reword("Token"))?;
        let d = f.string("Description")?;
        f.ignore(&["AccessorID", "Namespace", "Partition"]);
        f.finish().map_err(reword("Token"))?;
        d.filter(|d| !d.is_empty())
    } else {
        None
    };
    let token = {
        let state = api.store.read();
        let original = state
            .acl
            .token(&id)
            .filter(|t| !t.is_expired(now_ns()))
            .ok_or_else(|| ApiError::bad_request(format!("Cannot find token {id:?}")))?;
        if !original.auth_method.is_empty() {
            return Err(ApiError::bad_request(
                "Cannot clone a token created from an auth method",
            ));
        }
        Token {
            accessor_id: new_uuid(),
            secret_id: new_uuid(),
            description: description.unwrap_or_else(|| original.description.clone()),
            create_time_ns: now_ns(),
            create_index: 0,
            modify_index: 0,
            ..original.clone()
        }
    };
    set_and_show(&api, token, pretty).await
}

/// `DELETE /v1/acl/token/:id`.
pub async fn delete(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    if id == ANONYMOUS_TOKEN_ID {
        return Err(ApiError::bad_request(
            "Delete operation not permitted on the anonymous token",
        ));
    }
    if caller.accessor_id() == Some(id.as_str()) {
        return Err(ApiError::bad_request(
            "Deletion of the request's authorization token is not permitted",
        ));
    }
    let exists = api.store.read().acl.token(&id).is_some();
    delete_object(
        &api,
        exists,
        "Cannot find token to delete",
        AclCommand::TokenDelete(id),
        pretty,
    )
    .await
}

/// `GET /v1/acl/tokens` (`?policy`, `?role`, `?authmethod`, `?servicename`).
pub async fn list(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    require_read(&caller)?;
    let params = Params::parse(q.as_deref());
    let show_secret = caller.allows_global(rconsul_state::acl::Global::Acl, rconsul_state::acl::Need::Write);
    let now = now_ns();
    let state = api.store.read();
    let tables = &state.acl;
    let policy = params.get("policy").filter(|s| !s.is_empty());
    let role = params.get("role").filter(|s| !s.is_empty());
    let method = params.get("authmethod").filter(|s| !s.is_empty());
    let service = params.get("servicename").filter(|s| !s.is_empty());
    let list: Vec<_> = tables
        .tokens()
        .filter(|t| !t.is_expired(now))
        .filter(|t| policy.is_none_or(|p| t.policies.iter().any(|l| l.id == p)))
        .filter(|t| role.is_none_or(|r| t.roles.iter().any(|l| l.id == r)))
        .filter(|t| method.is_none_or(|m| t.auth_method == m))
        .filter(|t| service.is_none_or(|s| t.service_identities.iter().any(|i| i.service_name == s)))
        .map(|t| views::token(tables, t, show_secret))
        .collect();
    Ok(read_json(&api, &list, params.pretty(&api.config), tables.index()))
}
