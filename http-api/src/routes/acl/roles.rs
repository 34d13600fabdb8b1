//! `/v1/acl/role[/:id]`, `/v1/acl/role/name/:name`, `/v1/acl/roles`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Response};
use rconsul_state::acl::{AclCommand, Need, Role};

use super::policies::valid_name;
use super::tokens::reword;
use super::{
    begin, delete_object, ensure_enabled, links, new_uuid, not_found, read_fields, read_json, require_read,
    views, write_then_show,
};
use crate::acl::Caller;
use crate::decode::Fields;
use crate::query::Params;
use crate::response::{encode_json, ApiError};
use crate::SharedState;

fn decode(api: &SharedState, f: &mut Fields, mut role: Role) -> Result<Role, ApiError> {
    let state = api.store.read();
    if let Some(name) = f.string("Name").map_err(reword("Role"))? {
        role.name = name;
    }
    role.description = f
        .string("Description")
        .map_err(reword("Role"))?
        .unwrap_or_default();
    role.policies = links::policies(f, &state.acl).map_err(reword("Role"))?;
    role.service_identities = links::service_identities(f).map_err(reword("Role"))?;
    role.node_identities = links::node_identities(f).map_err(reword("Role"))?;
    role.templated_policies = links::templated_policies(f).map_err(reword("Role"))?;
    f.ignore(&["CreateIndex", "ModifyIndex", "Hash", "Namespace", "Partition"]);
    if !valid_name(&role.name) {
        return Err(ApiError::bad_request(
            "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
        ));
    }
    if let Some(other) = state.acl.role_by_name(&role.name) {
        if other.id != role.id {
            return Err(ApiError::bad_request(format!(
                "Invalid Role: A Role with Name {:?} already exists",
                role.name
            )));
        }
    }
    Ok(role)
}

async fn write(api: &SharedState, role: Role, pretty: bool) -> Result<Response<Body>, ApiError> {
    let id = role.id.clone();
    write_then_show(api, AclCommand::RoleSet(role), "role", |t| {
        t.role(&id).map(|r| encode_json(&views::role(t, r), pretty))
    })
    .await
}

/// `PUT /v1/acl/role`.
pub async fn create(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLRole")
        .await
        .map_err(reword("Role"))?;
    if f.string("ID")?.is_some_and(|id| !id.is_empty()) {
        return Err(ApiError::bad_request(
            "Cannot specify the ID when creating a new role",
        ));
    }
    let blank = Role {
        id: new_uuid(),
        name: String::new(),
        description: String::new(),
        policies: vec![],
        service_identities: vec![],
        node_identities: vec![],
        templated_policies: vec![],
        create_index: 0,
        modify_index: 0,
    };
    let role = decode(&api, &mut f, blank)?;
    f.finish().map_err(reword("Role"))?;
    write(&api, role, pretty).await
}

/// `PUT /v1/acl/role/:id`.
pub async fn update(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let mut f = read_fields(&headers, body, "ACLRole")
        .await
        .map_err(reword("Role"))?;
    if f.string("ID")?
        .is_some_and(|given| !given.is_empty() && given != id)
    {
        return Err(ApiError::bad_request("Role ID in URL and payload do not match"));
    }
    let existing = api.store.read().acl.role(&id).cloned();
    let Some(existing) = existing else {
        return Err(ApiError::bad_request(format!("Cannot find role {id:?}")));
    };
    let role = decode(&api, &mut f, existing)?;
    f.finish().map_err(reword("Role"))?;
    write(&api, role, pretty).await
}

/// `GET /v1/acl/role/:id`.
pub async fn read(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let r = state.acl.role(&id).ok_or_else(|| not_found("role"))?;
    Ok(read_json(
        &api,
        &views::role(&state.acl, r),
        pretty,
        state.acl.index(),
    ))
}

/// `GET /v1/acl/role/name/:name`.
pub async fn read_by_name(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let state = api.store.read();
    let r = state.acl.role_by_name(&name).ok_or_else(|| not_found("role"))?;
    Ok(read_json(
        &api,
        &views::role(&state.acl, r),
        pretty,
        state.acl.index(),
    ))
}

/// `DELETE /v1/acl/role/:id`.
pub async fn delete(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Write, &q)?;
    let exists = api.store.read().acl.role(&id).is_some();
    delete_object(
        &api,
        exists,
        "Cannot find role to delete",
        AclCommand::RoleDelete(id),
        pretty,
    )
    .await
}

/// `GET /v1/acl/roles` (`?policy`).
pub async fn list(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    require_read(&caller)?;
    let params = Params::parse(q.as_deref());
    let policy = params.get("policy").filter(|p| !p.is_empty());
    let state = api.store.read();
    let list: Vec<_> = state
        .acl
        .roles()
        .filter(|r| policy.is_none_or(|p| r.policies.iter().any(|l| l.id == p)))
        .map(|r| views::role(&state.acl, r))
        .collect();
    Ok(read_json(
        &api,
        &list,
        params.pretty(&api.config),
        state.acl.index(),
    ))
}
