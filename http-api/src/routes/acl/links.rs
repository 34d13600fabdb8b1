//! The parts tokens and roles share in request bodies: policy and role links (by ID or
//! name), service and node identities, templated policies; decoded and checked against
//! the ACL tables.

use rconsul_state::acl::{
    templated, AclTables, NodeIdentity, PolicyLink, RoleLink, ServiceIdentity, TemplatedPolicyLink,
};

use crate::decode::Fields;
use crate::response::ApiError;

/// Consul's rule for service and node identity names.
fn valid_identity_name(name: &str) -> bool {
    let b = name.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && ok(&b[0]) && ok(&b[b.len() - 1]) && b.iter().all(|c| ok(c) || *c == b'-' || *c == b'_')
}

/// Decodes `Policies` and resolves each link (by ID, else by name) to an existing policy.
pub fn policies(f: &mut Fields, tables: &AclTables) -> Result<Vec<PolicyLink>, ApiError> {
    let mut out: Vec<PolicyLink> = Vec::new();
    for mut link in f
        .object_list("Policies", "ACLTokenPolicyLink")?
        .unwrap_or_default()
    {
        let id = link.string("ID")?.unwrap_or_default();
        let name = link.string("Name")?.unwrap_or_default();
        link.finish()?;
        let policy = if !id.is_empty() {
            tables
                .policy(&id)
                .ok_or_else(|| ApiError::bad_request(format!("No such ACL policy with ID {id:?}")))?
        } else if !name.is_empty() {
            tables
                .policy_by_name(&name)
                .ok_or_else(|| ApiError::bad_request(format!("No such ACL policy with name {name:?}")))?
        } else {
            return Err(ApiError::bad_request("Policy link must have an ID or Name"));
        };
        if !out.iter().any(|l| l.id == policy.id) {
            out.push(PolicyLink {
                id: policy.id.clone(),
                name: policy.name.clone(),
            });
        }
    }
    Ok(out)
}

/// Decodes `Roles` and resolves each link to an existing role.
pub fn roles(f: &mut Fields, tables: &AclTables) -> Result<Vec<RoleLink>, ApiError> {
    let mut out: Vec<RoleLink> = Vec::new();
    for mut link in f.object_list("Roles", "ACLTokenRoleLink")?.unwrap_or_default() {
        let id = link.string("ID")?.unwrap_or_default();
        let name = link.string("Name")?.unwrap_or_default();
        link.finish()?;
        let role = if !id.is_empty() {
            tables
                .role(&id)
                .ok_or_else(|| ApiError::bad_request(format!("No such ACL role with ID {id:?}")))?
        } else if !name.is_empty() {
            tables
                .role_by_name(&name)
                .ok_or_else(|| ApiError::bad_request(format!("No such ACL role with name {name:?}")))?
        } else {
            return Err(ApiError::bad_request("Role link must have an ID or Name"));
        };
        if !out.iter().any(|l| l.id == role.id) {
            out.push(RoleLink {
                id: role.id.clone(),
                name: role.name.clone(),
            });
        }
    }
    Ok(out)
}

/// Decodes and checks `ServiceIdentities`.
pub fn service_identities(f: &mut Fields) -> Result<Vec<ServiceIdentity>, ApiError> {
    let mut out = Vec::new();
    for mut s in f
        .object_list("ServiceIdentities", "ACLServiceIdentity")?
        .unwrap_or_default()
    {
        let service_name = s.string("ServiceName")?.unwrap_or_default();
        let datacenters = s.string_list("Datacenters")?.unwrap_or_default();
        s.finish()?;
        if service_name.is_empty() {
            return Err(ApiError::bad_request(
                "Service identity is missing the service name field on this token",
            ));
        }
        if !valid_identity_name(&service_name) {
            return Err(ApiError::bad_request(format!(
                "Service identity {service_name:?} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed"
            )));
        }
        out.push(ServiceIdentity {
            service_name,
            datacenters,
        });
    }
    Ok(out)
}

/// Decodes and checks `NodeIdentities`.
pub fn node_identities(f: &mut Fields) -> Result<Vec<NodeIdentity>, ApiError> {
    let mut out = Vec::new();
    for mut n in f
        .object_list("NodeIdentities", "ACLNodeIdentity")?
        .unwrap_or_default()
    {
        let node_name = n.string("NodeName")?.unwrap_or_default();
        let datacenter = n.string("Datacenter")?.unwrap_or_default();
        n.finish()?;
        if node_name.is_empty() {
            return Err(ApiError::bad_request(
                "Node identity is missing the node name field on this token",
            ));
        }
        if datacenter.is_empty() {
            return Err(ApiError::bad_request(
                "Node identity is missing the datacenter field on this token",
            ));
        }
        if !valid_identity_name(&node_name) {
            return Err(ApiError::bad_request(format!(
                "Node identity has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed: {node_name:?}"
            )));
        }
        out.push(NodeIdentity {
            node_name,
            datacenter,
        });
    }
    Ok(out)
}

/// Decodes and checks `TemplatedPolicies` against the built-in templates.
pub fn templated_policies(f: &mut Fields) -> Result<Vec<TemplatedPolicyLink>, ApiError> {
    let mut out = Vec::new();
    for mut t in f
        .object_list("TemplatedPolicies", "ACLTemplatedPolicy")?
        .unwrap_or_default()
    {
        let template_name = t.string("TemplateName")?.unwrap_or_default();
        let name = match t.object("TemplateVariables", "ACLTemplatedPolicyVariables")? {
            Some(mut vars) => {
                let n = vars.string("Name")?;
                vars.finish()?;
                n
            }
            None => None,
        };
        let datacenters = t.string_list("Datacenters")?.unwrap_or_default();
        t.ignore(&["TemplateID"]);
        t.finish()?;
        templated::render(&template_name, name.as_deref())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        out.push(TemplatedPolicyLink {
            template_name,
            name,
            datacenters,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_names_follow_consuls_rule() {
        for ok in ["web", "a", "web-1", "web_1", "9x"] {
            assert!(valid_identity_name(ok), "{ok}");
        }
        for bad in ["", "Web", "-web", "web-", "web.1", "wéb"] {
            assert!(!valid_identity_name(bad), "{bad}");
        }
    }
}
