//! `/v1/acl/templated-policies`, `/v1/acl/templated-policy/name/:name`,
//! `/v1/acl/templated-policy/preview/:name`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Response, StatusCode};
use rconsul_state::acl::templated::{self, Template};
use rconsul_state::acl::Need;
use serde::Serialize;

use super::{begin, ok_json, read_fields};
use crate::acl::Caller;
use crate::response::ApiError;
use crate::SharedState;

/// A built-in template as Consul lists it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TemplateJson {
    template_name: &'static str,
    schema: &'static str,
    template: &'static str,
    description: &'static str,
}

fn view(t: &'static Template) -> TemplateJson {
    TemplateJson {
        template_name: t.name,
        schema: templated::schema(t),
        template: t.template,
        description: t.description,
    }
}

fn find(name: &str) -> Result<&'static Template, ApiError> {
    templated::find(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Invalid templated policy Name: {name}"),
        )
    })
}

/// `GET /v1/acl/templated-policies`: every built-in template, by name.
pub async fn list(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let all: BTreeMap<&str, TemplateJson> = templated::BUILTIN.iter().map(|t| (t.name, view(t))).collect();
    Ok(ok_json(&all, pretty))
}

/// `GET /v1/acl/templated-policy/name/:name`.
pub async fn read(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    Ok(ok_json(&view(find(&name)?), pretty))
}

/// The policy a preview renders.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PreviewJson {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    description: String,
    rules: String,
    hash: String,
    create_index: u64,
    modify_index: u64,
}

/// `POST /v1/acl/templated-policy/preview/:name`: the policy the template gives for the
/// variables in the body (`{"Name": "api"}`).
pub async fn preview(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let pretty = begin(&api, &caller, Need::Read, &q)?;
    let template = find(&name)?;
    let mut f = read_fields(&headers, body, "ACLTemplatedPolicyVariables").await?;
    let var = f.string("Name")?;
    f.finish()?;
    let rules =
        templated::render(template.name, var.as_deref()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let policy_name = match (template.name.strip_prefix("builtin/"), var.as_deref()) {
        (Some(short), Some(v)) => format!("templated-policy-{short}-{v}"),
        (Some(short), None) => format!("templated-policy-{short}"),
        _ => template.name.to_string(),
    };
    let hash = super::views::hash_of(&[&policy_name, &rules]);
    Ok(ok_json(
        &PreviewJson {
            id: String::new(),
            name: policy_name,
            description: format!(
                "synthetic policy generated from templated policy: {}",
                template.name
            ),
            rules,
            hash,
            create_index: 0,
            modify_index: 0,
        },
        pretty,
    ))
}
