//! Binding rules: which rules select an [`Identity`], and what each matching rule grants
//! (Consul's `auth.Binder.Bind` and `IsValidBindingRule`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::claims::Identity;
use super::template::interpolate;
use super::LoginError;
use crate::filter::Filter;

/// One binding rule, as the caller's state holds it (fields named as in Consul's API).
#[derive(Debug, Clone, Copy)]
pub struct BindingRuleSpec<'a> {
    /// `Selector`: a bexpr filter over [`Identity::selectable_fields`]; empty matches all.
    pub selector: &'a str,
    /// `BindType`: `service`, `node`, `role`, `policy` or `templated-policy`.
    pub bind_type: &'a str,
    /// `BindName`, with `${value.<attribute>}` references.
    pub bind_name: &'a str,
    /// `BindVars` (templated policies only): `{"Name": "..."}`, also interpolated.
    pub bind_vars: Option<&'a Value>,
}

/// A templated policy a login grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplatedPolicyBinding {
    /// `TemplateName`, e.g. `builtin/service`.
    pub template_name: String,
    /// `TemplateID` of the builtin template.
    pub template_id: &'static str,
    /// `TemplateVariables.Name`, interpolated; `None` when the rule has no `BindVars`.
    pub name: Option<String>,
}

/// What the matching binding rules grant, in rule order (duplicates kept, as Consul's binder
/// does).
///
/// Role and policy names are not resolved here: Consul looks each up by name and silently
/// drops the ones that do not exist, then answers 403 `Permission denied` if nothing at all is
/// left. The caller must do both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bindings {
    /// Service identities (`ServiceName`).
    pub service_identities: Vec<String>,
    /// Node identities (`NodeName`; Consul gives each this datacenter).
    pub node_identities: Vec<String>,
    /// Role names to link, if they exist.
    pub roles: Vec<String>,
    /// Policy names to link, if they exist.
    pub policies: Vec<String>,
    /// Templated policies.
    pub templated_policies: Vec<TemplatedPolicyBinding>,
}

impl Bindings {
    /// Whether nothing is granted (Consul's `Bindings.None`).
    pub fn is_empty(&self) -> bool {
        self.service_identities.is_empty()
            && self.node_identities.is_empty()
            && self.roles.is_empty()
            && self.policies.is_empty()
            && self.templated_policies.is_empty()
    }
}

/// Evaluates `rules` against `identity`.
///
/// A rule whose selector does not parse never matches (as in Consul). When no rule matches the
/// answer is [`LoginError::PermissionDenied`]; an interpolated name that is invalid for its bind
/// type, or an unknown variable, fails the whole login with [`LoginError::Bind`].
pub fn bind(rules: &[BindingRuleSpec<'_>], identity: &Identity) -> Result<Bindings, LoginError> {
    let fields = identity.selectable_fields();
    let vars = identity.projected_vars();
    let mut bindings = Bindings::default();
    let mut matched = false;
    for rule in rules {
        if !selector_matches(rule.selector, &fields) {
            continue;
        }
        matched = true;
        match rule.bind_type {
            "service" => bindings.service_identities.push(compute_bind_name(
                rule.bind_name,
                &vars,
                is_valid_identity_name,
            )?),
            "node" => bindings.node_identities.push(compute_bind_name(
                rule.bind_name,
                &vars,
                is_valid_identity_name,
            )?),
            "templated-policy" => {
                bindings
                    .templated_policies
                    .push(templated_policy(rule.bind_name, rule.bind_vars, &vars)?)
            }
            // Consul's binder checks both with the role name rules.
            "policy" => bindings
                .policies
                .push(compute_bind_name(rule.bind_name, &vars, is_valid_role_name)?),
            "role" => bindings
                .roles
                .push(compute_bind_name(rule.bind_name, &vars, is_valid_role_name)?),
            // Rules are validated on create; an unknown type grants nothing.
            _ => {}
        }
    }
    if !matched {
        return Err(LoginError::PermissionDenied);
    }
    Ok(bindings)
}

/// Whether a selector holds for the identity's fields; an invalid one never does.
fn selector_matches(selector: &str, fields: &Value) -> bool {
    if selector.is_empty() {
        return true;
    }
    parse_selector(selector).is_ok_and(|f| f.matches(fields))
}

/// Parses a selector and checks it against the identity's shape, as go-bexpr does with
/// Consul's `{Values map[string]string; Lists map[string][]string}` type: only `value`,
/// `value.<attr>`, `list` and `list.<attr>` exist, and lists and maps only support `in` and
/// `is empty`. Without this check a typo such as `values.role != admin` would match everyone
/// (a missing field is "not equal"), where Consul matches no one.
fn parse_selector(selector: &str) -> Result<Filter, String> {
    use crate::filter::SelectorTest;
    let filter = Filter::parse(selector).map_err(|e| e.to_string())?;
    for (path, test) in filter.selectors() {
        let container_ok = matches!(test, SelectorTest::In | SelectorTest::IsEmpty);
        let ok = match path.as_slice() {
            ["value", _] => true,
            ["list", _] | ["value"] | ["list"] => container_ok,
            _ => false,
        };
        if !ok {
            let name = path.join(".");
            return Err(match path.as_slice() {
                ["value" | "list", ..] if path.len() <= 2 => {
                    format!("Invalid match operator {test:?} for selector {name:?}")
                }
                _ => format!("Selector {name:?} is not valid"),
            });
        }
    }
    Ok(filter)
}

/// Consul's checks of a binding rule on create (`IsValidBindingRule` and the selector parse):
/// `bind_name` must interpolate, with placeholder values for `projected_var_names` (see
/// [`super::JwtConfig::projected_var_names`]), to a valid name for `bind_type`.
///
/// The error is Consul's text; the endpoint prefixes it as Consul does
/// (`Invalid Binding Rule: ...`).
pub fn validate_binding_rule(
    rule: &BindingRuleSpec<'_>,
    projected_var_names: &[String],
) -> Result<(), String> {
    if !rule.selector.is_empty() {
        parse_selector(rule.selector)
            .map_err(|e| format!("invalid Binding Rule: Selector is invalid: {e}"))?;
    }
    if rule.bind_type.is_empty() || rule.bind_name.is_empty() {
        return Err("bindType and bindName must not be empty".to_string());
    }
    let fake: BTreeMap<String, String> = projected_var_names
        .iter()
        .map(|n| (n.clone(), "fake".to_string()))
        .collect();
    let wrap = |e: LoginError| format!("failed to validate bindType {:?}: {e}", rule.bind_type);
    match rule.bind_type {
        "service" | "node" => {
            compute_bind_name(rule.bind_name, &fake, is_valid_identity_name).map_err(wrap)?
        }
        "role" => compute_bind_name(rule.bind_name, &fake, is_valid_role_name).map_err(wrap)?,
        "policy" => compute_bind_name(rule.bind_name, &fake, is_valid_policy_name).map_err(wrap)?,
        "templated-policy" => {
            templated_policy(rule.bind_name, rule.bind_vars, &fake).map_err(wrap)?;
            String::new()
        }
        other => return Err(format!("invalid Binding Rule: unknown BindType {other:?}")),
    };
    Ok(())
}

/// Interpolates a bind name (values lowercased) and checks it; a value that had uppercase
/// letters is refused, as Consul does since lowercasing it would silently bind another name.
fn compute_bind_name(
    bind_name: &str,
    vars: &BTreeMap<String, String>,
    valid: fn(&str) -> bool,
) -> Result<String, LoginError> {
    let computed = interpolate(bind_name, vars, true)
        .map_err(|e| LoginError::Bind(format!("error interpreting template: {e}")))?;
    if !valid(&computed) {
        return Err(LoginError::Bind(format!("invalid bind name: {computed:?}")));
    }
    if bind_name.contains("${") {
        if let Ok(original) = interpolate(bind_name, vars, false) {
            if original != computed {
                return Err(LoginError::Bind(format!(
                    "invalid bind name: the projected variables contain uppercase characters \
                     (interpolated as {original:?} before lowercasing), but bind names for this type \
                     must be lowercase; ensure the bound service or node name is lowercase"
                )));
            }
        }
    }
    Ok(computed)
}

/// Consul's builtin templated policies: name, ID, whether `Name` is required.
const TEMPLATES: &[(&str, &str, bool)] = &[
    ("builtin/service", "00000000-0000-0000-0000-000000000003", true),
    ("builtin/node", "00000000-0000-0000-0000-000000000004", true),
    ("builtin/dns", "00000000-0000-0000-0000-000000000005", false),
    (
        "builtin/nomad-server",
        "00000000-0000-0000-0000-000000000006",
        false,
    ),
    (
        "builtin/api-gateway",
        "00000000-0000-0000-0000-000000000008",
        true,
    ),
    (
        "builtin/nomad-client",
        "00000000-0000-0000-0000-000000000009",
        true,
    ),
];

/// A `templated-policy` rule's grant (Consul's `generateTemplatedPolicies`).
fn templated_policy(
    bind_name: &str,
    bind_vars: Option<&Value>,
    vars: &BTreeMap<String, String>,
) -> Result<TemplatedPolicyBinding, LoginError> {
    let Some(&(template_name, template_id, needs_name)) = TEMPLATES.iter().find(|t| t.0 == bind_name) else {
        return Err(LoginError::Bind(format!(
            "Bind name for templated-policy bind type does not match existing template name: {bind_name}"
        )));
    };
    let raw_name = match bind_vars {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("name"))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default(),
        ),
        Some(_) => {
            return Err(LoginError::Bind(
                "failed to interpret templated policy variables: BindVars must be an object".to_string(),
            ))
        }
    };
    let name = match raw_name {
        None => None,
        Some("") => Some(String::new()),
        Some(raw) => {
            let computed = interpolate(raw, vars, true).map_err(|e| {
                LoginError::Bind(format!("failed to interpret templated policy variables: {e}"))
            })?;
            if raw.contains("${") {
                if let Ok(original) = interpolate(raw, vars, false) {
                    if original != computed {
                        return Err(LoginError::Bind(format!(
                            "failed to interpret templated policy variables: invalid bind variable: the \
                             projected variables contain uppercase characters (interpolated as \
                             {original:?} before lowercasing), but bind variables for this type must be \
                             lowercase; ensure the bound resource name is lowercase"
                        )));
                    }
                }
            }
            Some(computed)
        }
    };
    if needs_name {
        let problem = match &name {
            None => Some("Invalid type. Expected: object, given: null"),
            Some(n) if n.is_empty() => Some("name is required"),
            Some(_) => None,
        };
        if let Some(p) = problem {
            return Err(LoginError::Bind(format!(
                "templated policy failed validation: 1 error occurred:\n\t* {p}\n\n"
            )));
        }
    }
    Ok(TemplatedPolicyBinding {
        template_name: template_name.to_string(),
        template_id,
        name,
    })
}

/// Consul's `IsValidServiceIdentityName` / `IsValidNodeIdentityName`:
/// `^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$`, at most 256 bytes.
fn is_valid_identity_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 256
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'-' || *c == b'_')
}

/// Consul's `IsValidRoleName`: `^[A-Za-z0-9\-_]{1,256}$`.
fn is_valid_role_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Consul's `IsValidPolicyName`: `^[A-Za-z0-9\-_]+/?[A-Za-z0-9\-_]*$`, at most 128 bytes, not
/// starting with `/` or the reserved `builtin/`.
fn is_valid_policy_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 128 || name.starts_with("builtin/") {
        return false;
    }
    let word = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    match name.split_once('/') {
        None => word(name),
        Some((head, tail)) => !head.is_empty() && word(head) && word(tail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity() -> Identity {
        Identity {
            values: [
                ("name", "web"),
                ("role", "admin"),
                ("upper", "Web"),
                ("bad", "web!"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            lists: [("groups".to_string(), vec!["dev".to_string(), "ops".to_string()])]
                .into_iter()
                .collect(),
        }
    }

    fn rule<'a>(selector: &'a str, bind_type: &'a str, bind_name: &'a str) -> BindingRuleSpec<'a> {
        BindingRuleSpec {
            selector,
            bind_type,
            bind_name,
            bind_vars: None,
        }
    }

    #[test]
    fn binding_selectors_and_types() {
        let rules = [
            rule("value.role==admin", "role", "admins"),
            rule("\"ops\" in list.groups", "service", "svc-${value.name}"),
            rule("\"qa\" in list.groups", "service", "never"),
            rule("", "node", "node-${value.name}"),
            rule(
                "value.role == admin and value.name == web",
                "policy",
                "pol-${value.name}",
            ),
            rule("not a valid selector ((", "role", "never"),
            // Fields the identity does not have, or tests its types do not support, never match.
            rule("values.role != admin", "role", "never"),
            rule("list.groups != admin", "role", "never"),
            rule("value.role.x != admin", "role", "never"),
            rule("list.groups matches x", "role", "never"),
        ];
        let b = bind(&rules, &identity()).expect("bindings");
        assert_eq!(b.roles, vec!["admins"]);
        assert_eq!(b.service_identities, vec!["svc-web"]);
        assert_eq!(b.node_identities, vec!["node-web"]);
        assert_eq!(b.policies, vec!["pol-web"]);
        assert!(b.templated_policies.is_empty());
        assert!(!b.is_empty());
    }

    #[test]
    fn binding_no_match_is_permission_denied() {
        let rules = [rule("value.role == dev", "role", "devs")];
        assert_eq!(bind(&rules, &identity()), Err(LoginError::PermissionDenied));
        assert_eq!(bind(&[], &identity()), Err(LoginError::PermissionDenied));
        assert_eq!(LoginError::PermissionDenied.http_status(), 403);
    }

    #[test]
    fn binding_invalid_interpolated_names() {
        let e = bind(&[rule("", "service", "${value.bad}")], &identity()).unwrap_err();
        assert_eq!(e, LoginError::Bind("invalid bind name: \"web!\"".into()));
        let e = bind(&[rule("", "service", "${value.upper}")], &identity()).unwrap_err();
        assert!(e.to_string().contains("contain uppercase characters"), "{e}");
        let e = bind(&[rule("", "role", "${value.nope}")], &identity()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error interpreting template: unknown variable accessed: value.nope"
        );
        // Only value.* is projected.
        assert!(bind(&[rule("", "role", "${list.groups}")], &identity()).is_err());
        // Role names allow uppercase literals; identity names do not.
        assert!(bind(&[rule("", "role", "Admins")], &identity()).is_ok());
        assert!(bind(&[rule("", "node", "Node1")], &identity()).is_err());
    }

    #[test]
    fn binding_templated_policies() {
        let vars = json!({"Name": "api-${value.name}"});
        let rules = [
            BindingRuleSpec {
                selector: "",
                bind_type: "templated-policy",
                bind_name: "builtin/service",
                bind_vars: Some(&vars),
            },
            rule("", "templated-policy", "builtin/dns"),
        ];
        let b = bind(&rules, &identity()).expect("bindings");
        assert_eq!(
            b.templated_policies,
            vec![
                TemplatedPolicyBinding {
                    template_name: "builtin/service".into(),
                    template_id: "00000000-0000-0000-0000-000000000003",
                    name: Some("api-web".into()),
                },
                TemplatedPolicyBinding {
                    template_name: "builtin/dns".into(),
                    template_id: "00000000-0000-0000-0000-000000000005",
                    name: None,
                },
            ]
        );
        let e = bind(&[rule("", "templated-policy", "builtin/service")], &identity()).unwrap_err();
        assert!(
            e.to_string().starts_with("templated policy failed validation"),
            "{e}"
        );
        let e = bind(&[rule("", "templated-policy", "builtin/nope")], &identity()).unwrap_err();
        assert!(
            e.to_string().contains("does not match existing template name"),
            "{e}"
        );
    }

    #[test]
    fn binding_rule_validation_on_create() {
        let names = vec!["value.name".to_string()];
        assert!(validate_binding_rule(&rule("value.name == x", "service", "${value.name}"), &names).is_ok());
        assert!(
            validate_binding_rule(&rule("", "service", "${value.other}"), &names)
                .unwrap_err()
                .starts_with("failed to validate bindType \"service\"")
        );
        assert_eq!(
            validate_binding_rule(&rule("", "bogus", "x"), &names).unwrap_err(),
            "invalid Binding Rule: unknown BindType \"bogus\""
        );
        assert!(validate_binding_rule(&rule("a ==", "role", "x"), &names)
            .unwrap_err()
            .starts_with("invalid Binding Rule: Selector is invalid: "));
        assert_eq!(
            validate_binding_rule(&rule("nope == x", "role", "x"), &names).unwrap_err(),
            "invalid Binding Rule: Selector is invalid: Selector \"nope\" is not valid"
        );
        assert_eq!(
            validate_binding_rule(&rule("list.groups == x", "role", "x"), &names).unwrap_err(),
            "invalid Binding Rule: Selector is invalid: Invalid match operator Equal for selector \"list.groups\""
        );
        for ok in [
            "\"dev\" in list.groups",
            "list.groups is empty",
            "value is not empty",
            "value.x matches \"^a\"",
        ] {
            assert!(
                validate_binding_rule(&rule(ok, "role", "x"), &names).is_ok(),
                "{ok}"
            );
        }
        assert!(validate_binding_rule(&rule("", "policy", "builtin/x"), &names).is_err());
        assert!(validate_binding_rule(&rule("", "policy", "team/x"), &names).is_ok());
    }

    #[test]
    fn binding_name_rules() {
        assert!(is_valid_identity_name("a"));
        assert!(is_valid_identity_name("a-b_c9"));
        assert!(!is_valid_identity_name("-a"));
        assert!(!is_valid_identity_name("a-"));
        assert!(!is_valid_identity_name("A"));
        assert!(!is_valid_identity_name(""));
        assert!(!is_valid_identity_name(&"a".repeat(257)));
        assert!(is_valid_role_name("Role_1-x"));
        assert!(!is_valid_role_name("a b"));
        assert!(!is_valid_policy_name("/x"));
        assert!(!is_valid_policy_name("a/b/c"));
    }
}
