//! From verified claims to an [`Identity`]: `ClaimMappings` and `ListClaimMappings`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::config::JwtConfig;
use super::LoginError;

/// What a successful login knows about its bearer: the mapped claims.
///
/// Binding rule selectors see it as `value.<attribute>` (one string per `ClaimMappings` target)
/// and `list.<attribute>` (a list of strings per `ListClaimMappings` target); every configured
/// attribute is present, as `""` or an empty list when the token lacks the claim, so that
/// `value.x == ""` and `list.x is empty` work. Bind names can interpolate `${value.<attribute>}`
/// only: Consul projects no `list.*` variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `value.*`: attribute → claim text.
    pub values: BTreeMap<String, String>,
    /// `list.*`: attribute → claim texts (empty strings dropped).
    pub lists: BTreeMap<String, Vec<String>>,
}

impl Identity {
    /// The blank identity of a method: every mapped attribute present and empty (Consul's
    /// `NewIdentity`, also what binding rules are validated against on create).
    pub fn blank(config: &JwtConfig) -> Identity {
        Identity {
            values: config
                .claim_mappings
                .values()
                .map(|t| (t.clone(), String::new()))
                .collect(),
            lists: config
                .list_claim_mappings
                .values()
                .map(|t| (t.clone(), Vec::new()))
                .collect(),
        }
    }

    /// The fields binding rule selectors are evaluated against:
    /// `{"value": {attr: text, ...}, "list": {attr: [text, ...], ...}}`.
    pub fn selectable_fields(&self) -> Value {
        let values: Map<String, Value> = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let lists: Map<String, Value> = self
            .lists
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::Array(v.iter().cloned().map(Value::String).collect()),
                )
            })
            .collect();
        let mut out = Map::new();
        out.insert("value".into(), Value::Object(values));
        out.insert("list".into(), Value::Object(lists));
        Value::Object(out)
    }

    /// The variables bind names may interpolate: `value.<attribute>` → text.
    pub fn projected_vars(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .map(|(k, v)| (format!("value.{k}"), v.clone()))
            .collect()
    }
}

/// Applies the method's claim mappings to verified claims (Consul's `extractClaims`).
pub(crate) fn extract(claims: &Map<String, Value>, config: &JwtConfig) -> Result<Identity, LoginError> {
    let mut identity = Identity::blank(config);
    for (source, target) in &config.claim_mappings {
        let Some(raw) = get_claim(claims, source) else {
            continue;
        };
        let text = stringify(raw).ok_or_else(|| {
            LoginError::ClaimMapping(format!(
                "error converting claim '{source}' to string from unknown type {}",
                go_type(raw)
            ))
        })?;
        identity.values.insert(target.clone(), text);
    }
    for (source, target) in &config.list_claim_mappings {
        let Some(raw) = get_claim(claims, source) else {
            continue;
        };
        let items: Vec<&Value> = match raw {
            Value::Array(items) => items.iter().collect(),
            Value::Object(_) => {
                return Err(LoginError::ClaimMapping(format!(
                    "{source:?} list claim could not be converted to string list"
                )))
            }
            scalar => vec![scalar],
        };
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            let text = stringify(item).ok_or_else(|| {
                LoginError::ClaimMapping(format!(
                    "value {} in {source:?} list claim could not be parsed as string",
                    go_value(item)
                ))
            })?;
            if !text.is_empty() {
                list.push(text);
            }
        }
        identity.lists.insert(target.clone(), list);
    }
    Ok(identity)
}

/// A claim by name, or by JSON pointer when it starts with `/`; `null` counts as absent.
fn get_claim<'a>(claims: &'a Map<String, Value>, claim: &str) -> Option<&'a Value> {
    let found = if claim.starts_with('/') {
        let mut current: &Value = claims.get(pointer_token(claim.split('/').nth(1)?).as_str())?;
        for token in claim.split('/').skip(2) {
            let token = pointer_token(token);
            current = match current {
                Value::Object(m) => m.get(token.as_str())?,
                Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        current
    } else {
        claims.get(claim)?
    };
    (!found.is_null()).then_some(found)
}

/// One JSON pointer reference token with `~1` and `~0` unescaped.
fn pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Consul's `stringifyMetadataValue`: strings as they are, booleans as `true`/`false`, numbers
/// truncated to an integer (claims are decoded as float64). Anything else has no text.
fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => {
            let f = n.as_f64()?;
            // Go's int64(float64) saturates on amd64 the other way; keep it defined here.
            Some((f as i64).to_string())
        }
        _ => None,
    }
}

/// Go's `%T` of a decoded JSON value.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Roughly Go's `%v` of a decoded JSON value (used in error texts only).
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> JwtConfig {
        JwtConfig::from_json(&json!({
            "JWTValidationPubKeys": ["pem"],
            "ClaimMappings": {"name": "name", "/deep/role": "role", "admin": "admin",
                              "uid": "uid", "missing": "missing", "/a~1b/c~0d": "escaped"},
            "ListClaimMappings": {"groups": "groups", "single": "single", "/deep/teams": "teams",
                                  "none": "none"},
        }))
        .expect("config")
    }

    #[test]
    fn claims_mapping_rules() {
        let claims = json!({
            "name": "Jane", "deep": {"role": "admin", "teams": ["a", "", "b"]}, "admin": true,
            "uid": 1234.9, "groups": ["dev", 7, false], "single": "solo", "a/b": {"c~d": "x"},
        });
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        let id = extract(&claims, &config()).expect("identity");
        assert_eq!(id.values["name"], "Jane");
        assert_eq!(id.values["role"], "admin");
        assert_eq!(id.values["admin"], "true");
        assert_eq!(id.values["uid"], "1234");
        assert_eq!(id.values["missing"], "");
        assert_eq!(id.values["escaped"], "x");
        assert_eq!(id.lists["groups"], vec!["dev", "7", "false"]);
        assert_eq!(id.lists["single"], vec!["solo"]);
        assert_eq!(id.lists["teams"], vec!["a", "b"]);
        assert!(id.lists["none"].is_empty());
        assert_eq!(id.projected_vars()["value.name"], "Jane");
        assert_eq!(id.selectable_fields()["list"]["groups"][0], "dev");
    }

    #[test]
    fn claims_mapping_type_errors() {
        let Value::Object(claims) = json!({"name": {"x": 1}}) else {
            unreachable!()
        };
        let e = extract(&claims, &config()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error converting claim 'name' to string from unknown type map[string]interface {}"
        );
        let Value::Object(claims) = json!({"groups": {"x": 1}}) else {
            unreachable!()
        };
        assert_eq!(
            extract(&claims, &config()).unwrap_err().to_string(),
            "\"groups\" list claim could not be converted to string list"
        );
        let Value::Object(claims) = json!({"groups": ["a", ["b"]]}) else {
            unreachable!()
        };
        assert!(extract(&claims, &config())
            .unwrap_err()
            .to_string()
            .contains("in \"groups\" list claim could not be parsed as string"));
    }
}
