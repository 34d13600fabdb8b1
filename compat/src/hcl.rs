//! HCL config files: parsed with `hcl-rs` and converted to the `serde_json::Value` that the
//! JSON decoder (`file.rs`) consumes, so both formats share one validation path.
//!
//! Consul reads HCL with HCL v1 semantics: every block becomes a list of objects, and when
//! the config is decoded a list holding one object is unwrapped wherever the target is a
//! single object (`ports { ... }`, `meta { ... }`, `service { check { ... } }`), while
//! list-typed keys (`services`, `checks`, ...) stay lists. This module applies the same rule
//! by key name: blocks of a [`LIST_KEYS`] key always form an array, a block written once is
//! an object, and a block written several times is an array (the decoder then accepts it for
//! `service`/`check` and rejects it, naming the key, wherever an object is required).

use hcl::expr::{Expression, ObjectKey, TemplateExpr, UnaryOperator};
use hcl::{Body, Structure};
use serde_json::{Map, Number, Value};

/// Keys whose values are lists of objects in Consul's config (slice-typed fields): their
/// blocks form an array even when written once, and an object assigned to them is wrapped
/// in a one-element array.
pub const LIST_KEYS: &[&str] = &["services", "checks", "watches", "segments", "upstreams", "paths"];

/// Why an HCL config file could not be converted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HclError {
    /// The text is not valid HCL (the parser's message, with line and column).
    #[error("HCL syntax error at {0}")]
    Syntax(String),
    /// An expression that has no literal value (variables, function calls, ...).
    #[error("'{key}': {what} is not allowed in a config file, only literal values")]
    Unsupported {
        /// Dotted path of the attribute holding the expression.
        key: String,
        /// What kind of expression it is.
        what: &'static str,
    },
}

/// Parses HCL text and returns the equivalent JSON object.
pub fn to_json(text: &str) -> Result<Value, HclError> {
    let body = hcl::parse(text).map_err(syntax_error)?;
    body_to_json(body, "").map(Value::Object)
}

/// One line: `line L, column C: <what the parser expected>`.
fn syntax_error(e: hcl::Error) -> HclError {
    match e {
        hcl::Error::Parse(p) => HclError::Syntax(format!(
            "line {}, column {}: {}",
            p.location().line(),
            p.location().column(),
            p.message()
        )),
        other => HclError::Syntax(other.to_string()),
    }
}

/// What one body holds under a key so far.
enum Slot {
    /// An attribute's value (`key = ...`).
    Attr(Value),
    /// The objects of the blocks named `key`, in order.
    Blocks(Vec<Value>),
}

fn body_to_json(body: Body, path: &str) -> Result<Map<String, Value>, HclError> {
    let mut slots: Vec<(String, Slot)> = Vec::new();
    for structure in body {
        match structure {
            Structure::Attribute(attr) => {
                let key = attr.key.into_inner();
                let value = expr_to_json(attr.expr, &join(path, &key))?;
                let value = match value {
                    Value::Object(m) if LIST_KEYS.contains(&key.as_str()) => {
                        Value::Array(vec![Value::Object(m)])
                    }
                    other => other,
                };
                match slots.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, slot)) => *slot = Slot::Attr(value),
                    None => slots.push((key, Slot::Attr(value))),
                }
            }
            Structure::Block(block) => {
                let key = block.identifier.into_inner();
                let mut value = Value::Object(body_to_json(block.body, &join(path, &key))?);
                // `key "a" "b" { ... }` is `key { a { b { ... } } }`.
                for label in block.labels.into_iter().rev() {
                    let mut m = Map::new();
                    m.insert(label.into_inner(), value);
                    value = Value::Object(m);
                }
                match slots.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, Slot::Blocks(items))) => items.push(value),
                    Some((_, slot)) => {
                        let items = match std::mem::replace(slot, Slot::Blocks(Vec::new())) {
                            Slot::Attr(Value::Array(mut items)) => {
                                items.push(value);
                                items
                            }
                            Slot::Attr(Value::Object(m)) => vec![Value::Object(m), value],
                            _ => vec![value],
                        };
                        *slot = Slot::Blocks(items);
                    }
                    None => slots.push((key, Slot::Blocks(vec![value]))),
                }
            }
        }
    }
    let mut out = Map::new();
    for (key, slot) in slots {
        let value = match slot {
            Slot::Attr(v) => v,
            Slot::Blocks(mut items) => {
                if items.len() == 1 && !LIST_KEYS.contains(&key.as_str()) {
                    items.remove(0)
                } else {
                    Value::Array(items)
                }
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn expr_to_json(expr: Expression, key: &str) -> Result<Value, HclError> {
    let unsupported = |what| HclError::Unsupported {
        key: key.to_string(),
        what,
    };
    Ok(match expr {
        Expression::Null => Value::Null,
        Expression::Bool(b) => Value::Bool(b),
        Expression::Number(n) => number(&n),
        Expression::String(s) => Value::String(s),
        // HCL v1 has no interpolation: `${...}` in a config string is literal text.
        Expression::TemplateExpr(t) => Value::String(match *t {
            TemplateExpr::QuotedString(s) => s,
            TemplateExpr::Heredoc(h) => h.template,
        }),
        Expression::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| expr_to_json(item, &format!("{key}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Expression::Object(object) => {
            let mut m = Map::new();
            for (k, v) in object {
                let name = match k {
                    ObjectKey::Identifier(id) => id.into_inner(),
                    ObjectKey::Expression(e) => match expr_to_json(e, key)? {
                        Value::String(s) => s,
                        _ => return Err(unsupported("a non-string object key")),
                    },
                    _ => return Err(unsupported("this object key")),
                };
                let value = expr_to_json(v, &join(key, &name))?;
                m.insert(name, value);
            }
            Value::Object(m)
        }
        Expression::Parenthesis(inner) => expr_to_json(*inner, key)?,
        Expression::Operation(op) => match *op {
            // `-1` is a negation of the literal 1 in HCL's grammar.
            hcl::expr::Operation::Unary(u) if u.operator == UnaryOperator::Neg => {
                match expr_to_json(u.expr, key)? {
                    Value::Number(n) => negate(&n).ok_or_else(|| unsupported("this negative number"))?,
                    _ => return Err(unsupported("an operation")),
                }
            }
            _ => return Err(unsupported("an operation")),
        },
        Expression::Variable(_) => return Err(unsupported("a variable")),
        Expression::Traversal(_) => return Err(unsupported("a traversal")),
        Expression::FuncCall(_) => return Err(unsupported("a function call")),
        Expression::Conditional(_) => return Err(unsupported("a conditional")),
        Expression::ForExpr(_) => return Err(unsupported("a for expression")),
        _ => return Err(unsupported("this expression")),
    })
}

fn number(n: &hcl::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number)
    }
}

fn negate(n: &Number) -> Option<Value> {
    if let Some(i) = n.as_i64() {
        return i.checked_neg().map(|i| Value::Number(i.into()));
    }
    n.as_f64().and_then(|f| Number::from_f64(-f)).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(text: &str) -> Value {
        to_json(text).expect("valid hcl")
    }

    #[test]
    fn attributes_and_single_blocks() {
        let v = conv(
            r#"
            # comment
            server = true
            bootstrap_expect = 3
            datacenter = "dc1" // another
            retry_join = ["127.0.0.11", "127.0.0.12",]
            ports {
              http = 8500
              dns  = -1
            }
            addresses = { http = "0.0.0.0" }
            node_meta { rack = "r1" }
            performance { raft_multiplier = 1.5 }
            template = "${not_interpolated}"
            "#,
        );
        assert_eq!(
            v,
            json!({
                "server": true, "bootstrap_expect": 3, "datacenter": "dc1",
                "retry_join": ["127.0.0.11", "127.0.0.12"],
                "ports": {"http": 8500, "dns": -1},
                "addresses": {"http": "0.0.0.0"},
                "node_meta": {"rack": "r1"},
                "performance": {"raft_multiplier": 1.5},
                "template": "${not_interpolated}"
            })
        );
    }

    #[test]
    fn repeated_blocks_and_list_keys() {
        let v = conv(
            r#"
            service { name = "a" }
            service {
              name = "b"
              meta { v = "1" }
              check {
                http     = "http://x"
                interval = "10s"
              }
            }
            services {
              name = "c"
              checks { ttl = "5s" }
            }
            checks = { id = "solo" }
            check "named" { ttl = "1s" }
            "#,
        );
        assert_eq!(
            v,
            json!({
                "service": [
                    {"name": "a"},
                    {"name": "b", "meta": {"v": "1"}, "check": {"http": "http://x", "interval": "10s"}}
                ],
                "services": [{"name": "c", "checks": [{"ttl": "5s"}]}],
                "checks": [{"id": "solo"}],
                "check": {"named": {"ttl": "1s"}}
            })
        );
    }

    #[test]
    fn header_is_a_map_of_lists() {
        let v = conv(r#"check { header = { "Content-Type" = ["a", "b"] } }"#);
        assert_eq!(v, json!({"check": {"header": {"Content-Type": ["a", "b"]}}}));
    }

    #[test]
    fn errors() {
        let e = to_json("server = \n").expect_err("syntax");
        assert!(matches!(e, HclError::Syntax(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "HCL syntax error at line 1, column 10: invalid expression; expected `\"`, `[`, `{`, `-`, `!`, `(`, `_`, `<`, letter or digit"
        );
        let e = to_json("ports { http = var.port }").expect_err("traversal");
        assert_eq!(
            e.to_string(),
            "'ports.http': a traversal is not allowed in a config file, only literal values"
        );
        let e = to_json("x = upper(\"a\")").expect_err("call");
        assert!(e.to_string().starts_with("'x': a function call"), "{e}");
    }
}
