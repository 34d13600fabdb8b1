//! `/v1/acl/policy[/:id]`, `/v1/acl/policy/name/:name`, `/v1/acl/policies`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Response};
use rconsul_state::acl::{rules, AclCommand, Need, Policy, GLOBAL_MANAGEMENT_POLICY_ID};

use super::tokens::reword;
use super::{begin, delete_object, new_uuid, not_found, read_fields, read_json, views, write_then_show};
use crate::acl::Caller;
use crate::decode::Fields;
use crate::response::{encode_json, ApiError};
use crate::SharedState;

/// Consul's rule for policy and role names.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Decodes a policy body over `base` (an existing policy, or a new one).
fn decode(f: &mut Fields, mut base: Policy) -> Result<Policy, ApiError> {
    if let Some(name) = f.string("Name").map_err(reword("Policy"))? {
        base.name = name;
    }
    base.description = f
        .string("Description")
        .map_err(reword("Policy"))?
        .unwrap_or_default();
    base.rules = f.string("Rules").map_err(reword("Policy"))?.unwrap_or_default();
    base.datacenters = f
        .string_list("Datacenters")
        .map_err(reword("Policy"))?
        .unwrap_or_default();
    f.ignore(&["CreateIndex", "ModifyIndex", "Hash", "Namespace", "Partition"]);
    Ok(base)
}

/// Consul's validation of a policy about to be written.
fn validate(api: &SharedState, policy: &Policy) -> Result<(), ApiError> {
    if !valid_name(&policy.name) {
        return Err(ApiError::bad_request(
            "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
        ));
    }
    rules::parse(&policy.rules).map_err(|e| ApiError::bad_request(format!("Invalid Policy: {e}")))?;
    let state = api.store.read();
    if let Some(other) = state.acl.policy_by_name(&policy.name) {
        if other.id != policy.id {
            return Err(ApiError::bad_request(format!(
                "Invalid Policy: A Policy with Name {:?} already exists",
                policy.name
            )));
        }
    }
    if policy.id == GLOBAL_MANAGEMENT_POLICY_ID {
        if let Some(existing) = state.acl.policy(&policy.id) {
            if existing.rules != policy.rules {
                return Err(ApiError::bad_request(
                    "Changing the Rules for the builtin global-management policy is not permitted",
                ));
            }
            if !policy.datacenters.is_empty() {
                return Err(ApiError::bad_request(
                    "Changing the Datacenters of the builtin global-management policy is not permitted",
                ));
            }
        }
    }
    Ok(())
}

async fn write(api: &SharedState, policy: Policy, pretty: bool) -> Result<Response<Body>, ApiError> {
    validate(api, &policy)?;
    let id = policy.id.clone();
    write_then_show(api, AclCommand::PolicySet(policy), "policy", |t| {
        t.policy(&id)
            .map(|p| encode_json(&views::policy(p, true), pretty))
    })
    .await
}

/// `PUT /v1/acl/policy`: create a policy.
pub async fn create(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLPolicy")
        .await
        .map_err(reword("Policy"))?;
    if f.string("ID")?.is_some_and(|id| !id.is_empty()) {
        return Err(ApiError::bad_request(
            "Cannot specify the ID when creating a new policy",
        ));
    }
    let policy = decode(
        &mut f,
        Policy {
            id: new_uuid(),
            name: String::new(),
            description: String::new(),
            rules: String::new(),
            datacenters: vec![],
            create_index: 0,
            modify_index: 0,
        },
    )?;
    f.finish().map_err(reword("Policy"))?;
    write(&api, policy, pretty).await
}

/// `PUT /v1/acl/policy/:id`: update a policy.
pub async fn update(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLPolicy")
        .await
        .map_err(reword("Policy"))?;
    if f.string("ID")?
        .is_some_and(|given| !given.is_empty() && given != id)
    {
        return Err(ApiError::bad_request("Policy ID in URL and payload do not match"));
    }
    let existing = api.store.read().acl.policy(&id).cloned();
    let Some(existing) = existing else {
        return Err(ApiError::bad_request(format!("Cannot find policy {id:?}")));
    };
    let policy = decode(&mut f, existing)?;
    f.finish().map_err(reword("Policy"))?;
    write(&api, policy, pretty).await
}

/// `GET /v1/acl/policy/:id`.
pub async fn read(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let p = state.acl.policy(&id).ok_or_else(|| not_found("policy"))?;
    Ok(read_json(
        &api,
        &views::policy(p, true),
        pretty,
        state.acl.index(),
    ))
}

/// `GET /v1/acl/policy/name/:name`.
pub async fn read_by_name(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let p = state
        .acl
        .policy_by_name(&name)
        .ok_or_else(|| not_found("policy"))?;
    Ok(read_json(
        &api,
        &views::policy(p, true),
        pretty,
        state.acl.index(),
    ))
}

/// `DELETE /v1/acl/policy/:id`.
pub async fn delete(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    if id == GLOBAL_MANAGEMENT_POLICY_ID {
        return Err(ApiError::bad_request(
            "Delete operation not permitted on the builtin global-management policy",
        ));
    }
    let exists = api.store.read().acl.policy(&id).is_some();
    delete_object(
        &api,
        exists,
        "Cannot find policy to delete",
        AclCommand::PolicyDelete(id),
        pretty,
    )
    .await
}

/// `GET /v1/acl/policies`.
pub async fn list(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let list: Vec<_> = state.acl.policies().map(|p| views::policy(p, false)).collect();
    Ok(read_json(&api, &list, pretty, state.acl.index()))
}
