//! The Go `api` package's ACL types (Consul 1.17+), field for field in Go's order with Go's
//! `omitempty` rules, so `-format=json` prints what Consul's CLI prints and request bodies
//! are what Consul's CLI sends. `[]T` that Go does not omit is `Option<Vec<T>>` (`null`
//! when nil); `[]byte` is its base64 text.

use serde::{Deserialize, Deserializer, Serialize};

/// `omitempty` for a slice.
fn empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

fn zero(n: &i64) -> bool {
    *n == 0
}

fn no_string(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
}

/// A `time.Time` as RFC 3339 text, re-printed as Go marshals it; the zero time when absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct GoTime(pub(crate) String);

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<String>::deserialize(d)? {
            Some(s) => Self(super::format::go_time_json(&s)),
            None => Self::default(),
        })
    }
}

/// A `*time.Time`: absent or `null` is `None`, a time is re-printed as Go marshals it.
fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| super::format::go_time_json(&s)))
}

impl Default for GoTime {
    fn default() -> Self {
        Self("0001-01-01T00:00:00Z".into())
    }
}

/// A `time.Duration` in JSON: Go writes nanoseconds; accept Go duration text too.
fn nanos<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(i64),
        S(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(0),
        Some(Raw::N(n)) => Ok(n),
        Some(Raw::S(s)) => rconsul_compat::duration::parse(&s).map_err(serde::de::Error::custom),
    }
}

/// `ACLAuthMethod.MaxTokenTTL`: Go text on the wire (`"1h0m0s"`), re-printed by
/// `Duration.String()` and left out when zero.
fn ttl_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    match raw.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => {
            let n = rconsul_compat::duration::parse(s).map_err(serde::de::Error::custom)?;
            Ok(ttl_string(n))
        }
    }
}

/// `Duration.String()` of `nanos`, or `None` for zero.
pub(crate) fn ttl_string(nanos: i64) -> Option<String> {
    if nanos == 0 {
        return None;
    }
    let text = rconsul_compat::duration::format(std::time::Duration::from_nanos(nanos.unsigned_abs()));
    Some(if nanos < 0 { format!("-{text}") } else { text })
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `ACLLink`: a policy or role by ID and/or name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Link {
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub(crate) id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub(crate) name: String,
}

/// `ACLServiceIdentity`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ServiceIdentity {
    pub(crate) service_name: String,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) datacenters: Option<Vec<String>>,
}

/// `ACLNodeIdentity`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct NodeIdentity {
    pub(crate) node_name: String,
    pub(crate) datacenter: String,
}

/// `ACLTemplatedPolicyVariables`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TemplatedPolicyVariables {
    pub(crate) name: String,
}

/// `ACLTemplatedPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TemplatedPolicy {
    pub(crate) template_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) template_variables: Option<TemplatedPolicyVariables>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) datacenters: Option<Vec<String>>,
}

/// `ACLTemplatedPolicyResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TemplatedPolicyResponse {
    pub(crate) template_name: String,
    pub(crate) schema: String,
    pub(crate) template: String,
    pub(crate) description: String,
}

/// `ACLToken`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Token {
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(rename = "AccessorID")]
    pub(crate) accessor_id: String,
    #[serde(rename = "SecretID")]
    pub(crate) secret_id: String,
    pub(crate) description: String,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) policies: Option<Vec<Link>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) roles: Option<Vec<Link>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) service_identities: Option<Vec<ServiceIdentity>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) node_identities: Option<Vec<NodeIdentity>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) templated_policies: Option<Vec<TemplatedPolicy>>,
    pub(crate) local: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) auth_method: String,
    #[serde(
        rename = "ExpirationTTL",
        skip_serializing_if = "zero",
        deserialize_with = "nanos"
    )]
    pub(crate) expiration_ttl: i64,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "opt_time")]
    pub(crate) expiration_time: Option<String>,
    pub(crate) create_time: GoTime,
    #[serde(skip_serializing_if = "no_string")]
    pub(crate) hash: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) auth_method_namespace: String,
}

/// `ACLTokenListEntry` (no `ExpirationTTL`; `Hash` is not omitted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TokenListEntry {
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(rename = "AccessorID")]
    pub(crate) accessor_id: String,
    #[serde(rename = "SecretID")]
    pub(crate) secret_id: String,
    pub(crate) description: String,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) policies: Option<Vec<Link>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) roles: Option<Vec<Link>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) service_identities: Option<Vec<ServiceIdentity>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) node_identities: Option<Vec<NodeIdentity>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) templated_policies: Option<Vec<TemplatedPolicy>>,
    pub(crate) local: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) auth_method: String,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "opt_time")]
    pub(crate) expiration_time: Option<String>,
    pub(crate) create_time: GoTime,
    pub(crate) hash: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) auth_method_namespace: String,
}

impl TokenListEntry {
    /// The same fields as a [`Token`], for the shared pretty printer.
    pub(crate) fn as_token(&self) -> Token {
        Token {
            create_index: self.create_index,
            modify_index: self.modify_index,
            accessor_id: self.accessor_id.clone(),
            secret_id: self.secret_id.clone(),
            description: self.description.clone(),
            policies: self.policies.clone(),
            roles: self.roles.clone(),
            service_identities: self.service_identities.clone(),
            node_identities: self.node_identities.clone(),
            templated_policies: self.templated_policies.clone(),
            local: self.local,
            auth_method: self.auth_method.clone(),
            expiration_ttl: 0,
            expiration_time: self.expiration_time.clone(),
            create_time: self.create_time.clone(),
            hash: self.hash.clone(),
            namespace: self.namespace.clone(),
            partition: self.partition.clone(),
            auth_method_namespace: self.auth_method_namespace.clone(),
        }
    }
}

/// `ACLPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Policy {
    #[serde(rename = "ID")]
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) rules: String,
    pub(crate) datacenters: Option<Vec<String>>,
    pub(crate) hash: Option<String>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
}

/// `ACLPolicyListEntry`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct PolicyListEntry {
    #[serde(rename = "ID")]
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) datacenters: Option<Vec<String>>,
    pub(crate) hash: Option<String>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
}

/// `ACLRole`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Role {
    #[serde(rename = "ID")]
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) policies: Option<Vec<Link>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) service_identities: Option<Vec<ServiceIdentity>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) node_identities: Option<Vec<NodeIdentity>>,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) templated_policies: Option<Vec<TemplatedPolicy>>,
    pub(crate) hash: Option<String>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
}

/// `ACLBindingRule`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct BindingRule {
    #[serde(rename = "ID")]
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) auth_method: String,
    pub(crate) selector: String,
    pub(crate) bind_type: String,
    pub(crate) bind_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bind_vars: Option<TemplatedPolicyVariables>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
}

/// `ACLAuthMethodNamespaceRule`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct NamespaceRule {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) selector: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) bind_namespace: String,
}

/// `ACLAuthMethod`, as its `MarshalJSON` writes it: `MaxTokenTTL` as duration text, first.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct AuthMethod {
    #[serde(
        rename = "MaxTokenTTL",
        skip_serializing_if = "no_string",
        deserialize_with = "ttl_text"
    )]
    pub(crate) max_token_ttl: Option<String>,
    pub(crate) name: String,
    #[serde(rename = "Type")]
    pub(crate) kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) token_locality: String,
    pub(crate) config: Option<serde_json::Map<String, serde_json::Value>>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(skip_serializing_if = "empty")]
    pub(crate) namespace_rules: Option<Vec<NamespaceRule>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
}

/// `ACLAuthMethodListEntry`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct AuthMethodListEntry {
    #[serde(
        rename = "MaxTokenTTL",
        skip_serializing_if = "no_string",
        deserialize_with = "ttl_text"
    )]
    pub(crate) max_token_ttl: Option<String>,
    pub(crate) name: String,
    #[serde(rename = "Type")]
    pub(crate) kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) token_locality: String,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) partition: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_request_body_is_what_go_sends() {
        let token = Token {
            description: "d".into(),
            policies: Some(vec![Link {
                id: String::new(),
                name: "p".into(),
            }]),
            ..Token::default()
        };
        assert_eq!(
            serde_json::to_string(&token).expect("json"),
            r#"{"CreateIndex":0,"ModifyIndex":0,"AccessorID":"","SecretID":"","Description":"d","Policies":[{"ID":"","Name":"p"}],"Local":false,"CreateTime":"0001-01-01T00:00:00Z"}"#
        );
    }

    #[test]
    fn durations_decode_from_nanos_or_text() {
        let t: Token = serde_json::from_str(r#"{"ExpirationTTL":3600000000000}"#).expect("json");
        assert_eq!(t.expiration_ttl, 3_600_000_000_000);
        let t: Token = serde_json::from_str(r#"{"ExpirationTTL":"1h"}"#).expect("json");
        assert_eq!(t.expiration_ttl, 3_600_000_000_000);
        let m: AuthMethod = serde_json::from_str(r#"{"MaxTokenTTL":"60m","Name":"x"}"#).expect("json");
        assert_eq!(m.max_token_ttl.as_deref(), Some("1h0m0s"));
        let m: AuthMethod = serde_json::from_str(r#"{"MaxTokenTTL":"0s"}"#).expect("json");
        assert_eq!(m.max_token_ttl, None);
        assert_eq!(
            serde_json::to_string(&AuthMethod {
                name: "m".into(),
                kind: "jwt".into(),
                max_token_ttl: Some("1h0m0s".into()),
                ..AuthMethod::default()
            })
            .expect("json"),
            r#"{"MaxTokenTTL":"1h0m0s","Name":"m","Type":"jwt","Config":null,"CreateIndex":0,"ModifyIndex":0}"#
        );
    }
}
