//! The HIL subset binding rules use: `${value.name}` interpolation in `BindName` and `BindVars`.
//!
//! Consul evaluates these with HashiCorp's HIL against string variables only, so what can be
//! written usefully is literal text, `${variable}` (whitespace inside the braces allowed), and
//! `$${` for a literal `${`. HIL's function calls, arithmetic and string literals inside `${}`
//! are refused here with an error (Consul would evaluate them; nobody writes them in bind names).

use std::collections::BTreeMap;

/// Interpolates `${var}` references with `vars`, lowercasing the variables' values first when
/// `lowercase` is set (Consul's `InterpolateHIL`). A reference to an unknown variable is an error.
pub(crate) fn interpolate(
    template: &str,
    vars: &BTreeMap<String, String>,
    lowercase: bool,
) -> Result<String, String> {
    if !template.contains("${") {
        return Ok(template.to_string());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(format!("parse error: unterminated interpolation in {template:?}"));
            };
            let name = tail[..end].trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            {
                return Err(format!(
                    "unsupported expression in interpolation: ${{{}}}",
                    &tail[..end]
                ));
            }
            let Some(value) = vars.get(name) else {
                return Err(format!("unknown variable accessed: {name}"));
            };
            if lowercase {
                out.push_str(&value.to_lowercase());
            } else {
                out.push_str(value);
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("value.name".to_string(), "Web".to_string()),
            ("value.ns".to_string(), "prod".to_string()),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn template_interpolation() {
        let v = vars();
        assert_eq!(interpolate("plain", &v, true).as_deref(), Ok("plain"));
        assert_eq!(
            interpolate("svc-${value.name}", &v, true).as_deref(),
            Ok("svc-web")
        );
        assert_eq!(
            interpolate("svc-${ value.name }", &v, false).as_deref(),
            Ok("svc-Web")
        );
        assert_eq!(
            interpolate("${value.ns}-${value.name}", &v, true).as_deref(),
            Ok("prod-web")
        );
        assert_eq!(
            interpolate("$${value.ns} $5", &v, true).as_deref(),
            Ok("${value.ns} $5")
        );
        assert_eq!(
            interpolate("${value.nope}", &v, true).unwrap_err(),
            "unknown variable accessed: value.nope"
        );
        assert!(interpolate("${value.name", &v, true).is_err());
        assert!(interpolate("${upper(value.name)}", &v, true).is_err());
    }
}
