//! Consul's `?filter=` expression language (HashiCorp's go-bexpr), evaluated against JSON.
//!
//! Consul's list endpoints accept `?filter=<expression>` and keep only the items for which the
//! expression holds. [`Filter::parse`] reads an expression once per request; [`Filter::matches`]
//! then tests each item (the JSON form of what the endpoint returns).
//!
//! # Syntax (go-bexpr v0.1.2, the version Consul uses)
//!
//! - Match expressions: `<Selector> == <Value>`, `!=`, `<Selector> contains <Value>`,
//!   `<Selector> not contains <Value>`, `<Value> in <Selector>`, `<Value> not in <Selector>`,
//!   `<Selector> is empty`, `<Selector> is not empty`, `<Selector> matches <Value>`,
//!   `<Selector> not matches <Value>` (a regular expression).
//! - Logic: `not` binds tighter than `and`, which binds tighter than `or`; parentheses group.
//!   Keywords need whitespace around them (`not(x == 1)` is rejected, as in Consul).
//! - Selectors: an identifier `[a-zA-Z][a-zA-Z0-9_]*`, then any number of `.identifier` or
//!   `["any key"]` components: `Service.Meta.env`, `NodeMeta["rack id"]`.
//! - Values: `"double quoted"` (Go escapes), `` `raw` ``, numbers (`9001`, `-1`, `1.5`), or a
//!   bareword with selector syntax (`web`, `true`, `v1.beta`). So `ID == web-1` is a parse error,
//!   exactly as in Consul: quote such values.
//!
//! Parentheses and `not` may nest at most 128 levels deep (go-bexpr has no limit; this one keeps
//! a hostile filter from exhausting the stack). `and`/`or` chains have no length limit.
//!
//! Parse errors carry pigeon's (go-bexpr's parser generator) position and message, e.g.
//! `Failed to create boolean expression evaluator: 1:10 (9): no match found, expected: ".", "[",
//! [ \t\r\n], [a-zA-Z0-9_] or EOF` (`line:column (byte offset)`).
//!
//! # Semantics
//!
//! Consul checks selectors against the Go type of the listed items; here there is no schema, only
//! the JSON, so:
//!
//! - Selector components are object keys, matched exactly (Consul's JSON field names are its Go
//!   field names: `ServiceName`, `Service.Port`, `Node.Meta.rack`). A missing key, a `null`, or a
//!   scalar in the middle of the path behaves like a missing map key in go-bexpr: `==`, `in`,
//!   `is not empty` and `matches` are false; `!=`, `not in`, `is empty` and `not matches` true.
//! - An array met *before* the end of the selector is crossed with go-bexpr's implicit ANY: the
//!   test, negation included, holds when it holds for some element. `Checks.Status == passing`
//!   means "some check passes"; `Checks.Status != passing` means "some check does not pass"; both
//!   are false when there are no checks.
//! - At the end of the selector, the value is coerced to the JSON value's type: strings compare
//!   as text, booleans with Go's `ParseBool` (`true`, `T`, `1`, ...), integers with `ParseInt`
//!   base 0 (`9001`, `"0x2329"`), other numbers as floats. Arrays, objects and `null` equal
//!   nothing.
//! - `in`/`contains`: on an array, membership (elements compared as `==`); on an object, whether
//!   the key exists; on a string, substring. On anything else false.
//! - `is empty`: true for `null`, `""`, `[]` and `{}`; false for numbers and booleans.
//! - `matches`: the pattern is compiled once (Rust's `regex`, RE2 syntax like Go's `regexp`);
//!   unanchored search on strings, false on anything else.
//!
//! Where Consul would refuse a filter for type reasons (say `Port matches x`, or an unknown
//! field), this evaluates it with the rules above instead. One deliberate difference: go-bexpr
//! answers `matches` *true* on a missing map key (a quirk of its missing-key shortcut); here it
//! is false (and `not matches` true).

mod eval;
mod parser;

use serde_json::Value;

use eval::Expr;

/// The prefix Consul puts before every filter error.
const ERROR_PREFIX: &str = "Failed to create boolean expression evaluator: ";

/// A parsed `?filter=` expression, ready to be evaluated against many items.
///
/// Parse once per request with [`Filter::parse`], then call [`Filter::matches`] per item.
/// Evaluation allocates nothing. The type is `Send + Sync` and cheap to clone.
#[derive(Debug, Clone)]
pub struct Filter {
    /// `None` for the empty expression, which keeps everything.
    expr: Option<Expr>,
}

/// The kind of test a match expression makes (negated forms included: `!=` is `Equal`,
/// `not in` and `contains` are `In`, `is not empty` is `IsEmpty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorTest {
    /// `==`, `!=`
    Equal,
    /// `in`, `not in`, `contains`, `not contains`
    In,
    /// `is empty`, `is not empty`
    IsEmpty,
    /// `matches`, `not matches`
    Matches,
}

/// A filter expression Consul would refuse.
///
/// Its text is Consul's whole message, starting `Failed to create boolean expression evaluator: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

impl Filter {
    /// Parses a filter expression.
    ///
    /// The empty string is no filter at all (it matches everything), as in Consul. Anything else
    /// must be a complete expression; see the [module documentation](self) for the syntax.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        if expr.is_empty() {
            return Ok(Filter { expr: None });
        }
        let tree = parser::parse(expr).map_err(|e| FilterError(format!("{ERROR_PREFIX}{e}")))?;
        let expr = Expr::lower(tree).map_err(|e| FilterError(format!("{ERROR_PREFIX}{e}")))?;
        Ok(Filter { expr: Some(expr) })
    }

    /// Every match expression's selector (as its components: `Meta.env` is `["Meta", "env"]`)
    /// and kind of test, left to right; for callers that check selectors against a schema, as
    /// go-bexpr does when given a type.
    pub fn selectors(&self) -> Vec<(Vec<&str>, SelectorTest)> {
        let mut out = Vec::new();
        if let Some(e) = &self.expr {
            e.visit_selectors(&mut |path, test| out.push((path.iter().map(|c| &**c).collect(), test)));
        }
        out
    }

    /// Whether `item` (one element of the listed result, as JSON) passes the filter.
    pub fn matches(&self, item: &Value) -> bool {
        self.expr.as_ref().is_none_or(|e| e.eval(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(expr: &str, item: &Value) -> bool {
        match Filter::parse(expr) {
            Ok(f) => f.matches(item),
            Err(e) => panic!("{expr}: {e}"),
        }
    }

    fn service() -> Value {
        json!({
            "ID": "web-1",
            "Service": "web",
            "ServiceTags": ["prod", "v2"],
            "ServiceMeta": {},
            "Meta": {"env": "prod", "a b": "x", "version": "1.5", "path": "C:\\dir"},
            "Port": 9001,
            "Weight": -1,
            "Ratio": 1.5,
            "Big": 18446744073709551615u64,
            "Enabled": true,
            "Disabled": false,
            "Address": "",
            "Nothing": null,
            "Node": {"Node": "n1", "Meta": {"rack": "r1"}, "Port": 8301},
        })
    }

    #[test]
    fn filter_doc_examples() {
        let s = service();
        assert!(check("Node.Port == 8301", &s));
        assert!(!check("Node.Port == 8300", &s));
        assert!(check("\"prod\" in ServiceTags", &s));
        assert!(!check("\"dev\" in ServiceTags", &s));
        assert!(check(
            "Meta.env == prod and not (Service == web2 or Service == api)",
            &s
        ));
        assert!(!check(
            "Meta.env == prod and not (Service == web or Service == api)",
            &s
        ));
        assert!(check("ServiceMeta is empty", &s));
        assert!(!check("ServiceTags is empty", &s));
        assert!(check("ServiceTags is not empty", &s));
        assert!(check("Service matches \"^w.*\"", &s));
        assert!(!check("Service matches \"^a.*\"", &s));
        assert!(check("Service not matches `^a`", &s));
        assert!(check("Meta[\"a b\"] == x", &s));
        assert!(check("Meta[`a b`] != y", &s));
        assert!(check(
            "ServiceTags contains v2 and ServiceTags not contains v3",
            &s
        ));
        assert!(check("Node.Meta.rack == r1", &s));
    }

    #[test]
    fn filter_precedence_and_parentheses() {
        let item = json!({"a": 1, "b": 0, "c": 0});
        // a or (b and c)
        assert!(check("a == 1 or b == 1 and c == 1", &item));
        // (a or b) and c
        assert!(!check("(a == 1 or b == 1) and c == 1", &item));
        // (not a) and b  -- not binds tightest
        assert!(!check("not a == 1 and b == 0", &item));
        assert!(check("not (a == 1 and b == 1)", &item));
        assert!(check("not not a == 1", &item));
        assert!(check("( a == 1 )", &item));
        assert!(check("((a == 1) and (b == 0)) or c == 5", &item));
        assert!(check("b == 0 and c == 0 and a == 1", &item));
        assert!(!check("b == 0 and c == 0 and a == 2", &item));
        assert!(check("a == 2 or c == 3 or b == 0", &item));
    }

    #[test]
    fn filter_strings_and_raw_strings() {
        let s = service();
        assert!(check(r"Meta.path == `C:\dir`", &s));
        assert!(check(r#"Meta.path == "C:\\dir""#, &s));
        assert!(check("Meta.version == 1.5", &s));
        assert!(check("Meta.version == \"1.5\"", &s));
        let item = json!({"t": "a\tb"});
        assert!(check(r#"t == "a\tb""#, &item));
        assert!(check(r#"t == "a\x09b""#, &item));
        // A bareword value is its selector spelling, never a field reference.
        assert!(check("x == Meta.env", &json!({"x": "Meta.env"})));
    }

    #[test]
    fn filter_number_and_bool_coercion() {
        let s = service();
        assert!(check("Port == 9001", &s));
        assert!(check("Port == \"9001\"", &s));
        assert!(check("Port == \"0x2329\"", &s));
        assert!(check("Port == 9001.0", &s));
        assert!(!check("Port == 9001.5", &s));
        assert!(check("Port != 9000", &s));
        assert!(!check("Port == abc", &s));
        assert!(check("Port != abc", &s));
        assert!(check("Weight == -1", &s));
        assert!(check("Ratio == 1.5", &s));
        assert!(!check("Ratio == 1", &s));
        assert!(check("Big == 18446744073709551615", &s));
        assert!(check("Enabled == true", &s));
        assert!(check("Enabled == T", &s));
        assert!(check("Enabled != false", &s));
        assert!(check("Disabled == false", &s));
        assert!(check("Disabled == 0", &s));
        assert!(!check("Enabled == yes", &s));
        // Strings compare as text: "9001" is not a number here.
        assert!(!check("Service == 9001", &s));
        // Membership coerces per element.
        let item = json!({"Ports": [80, 443], "Flags": [true]});
        assert!(check("443 in Ports", &item));
        assert!(check("8080 not in Ports", &item));
        assert!(check("true in Flags", &item));
    }

    #[test]
    fn filter_in_on_strings_and_maps() {
        let s = service();
        assert!(check("\"eb\" in Service", &s));
        assert!(check("Service contains we", &s));
        assert!(!check("\"x\" in Service", &s));
        assert!(check("env in Meta", &s));
        assert!(check("\"a b\" in Meta", &s));
        assert!(check("prod not in Meta", &s));
        assert!(!check("9001 in Port", &s));
    }

    #[test]
    fn filter_emptiness() {
        let s = service();
        assert!(check("Address is empty", &s));
        assert!(check("Nothing is empty", &s));
        assert!(check("Missing is empty", &s));
        assert!(check("Meta.missing is empty", &s));
        assert!(!check("Meta is empty", &s));
        assert!(!check("Port is empty", &s));
        assert!(check("Service is not empty", &s));
    }

    #[test]
    fn filter_missing_fields() {
        let s = service();
        assert!(!check("Missing == x", &s));
        assert!(check("Missing != x", &s));
        assert!(!check("x in Missing", &s));
        assert!(check("x not in Missing", &s));
        assert!(!check("Missing is not empty", &s));
        assert!(!check("Missing matches x", &s));
        assert!(check("Missing not matches x", &s));
        assert!(!check("Nothing == x", &s));
        assert!(check("Nothing != x", &s));
        assert!(!check("Missing.Deeper == x", &s));
        assert!(check("Missing.Deeper != x", &s));
        // A scalar in the middle of a path.
        assert!(!check("Service.Deeper == x", &s));
        // The item need not be an object.
        assert!(!check("a == 1", &json!("a")));
    }

    #[test]
    fn filter_any_semantics_over_arrays() {
        let mixed = json!({"Checks": [
            {"CheckID": "serfHealth", "Status": "passing", "ServiceTags": []},
            {"CheckID": "service:web", "Status": "critical", "ServiceTags": ["a"]},
        ]});
        let passing = json!({"Checks": [{"Status": "passing"}, {"Status": "passing"}]});
        let none = json!({"Checks": []});
        assert!(check("Checks.Status == passing", &mixed));
        assert!(check("Checks.Status == critical", &mixed));
        assert!(!check("Checks.Status == warning", &mixed));
        assert!(check("Checks.Status != passing", &mixed));
        assert!(!check("Checks.Status != passing", &passing));
        assert!(check("not Checks.Status != passing", &passing));
        assert!(!check("Checks.Status == passing", &none));
        assert!(!check("Checks.Status != passing", &none));
        assert!(check("Checks is empty", &none));
        assert!(!check("Checks is empty", &mixed));
        // Per-element results, negations included.
        assert!(check("Checks.ServiceTags is empty", &mixed));
        assert!(check("Checks.ServiceTags is not empty", &mixed));
        assert!(check("a in Checks.ServiceTags", &mixed));
        assert!(check("a not in Checks.ServiceTags", &mixed));
        assert!(check("Checks.CheckID matches \"^service:\"", &mixed));
        // Nested arrays.
        let nested = json!({"A": [[{"x": 1}], [{"x": 2}]]});
        assert!(check("A.x == 2", &nested));
        assert!(!check("A.x == 3", &nested));
        // An array at the end of the selector is not ANY-compared by `==`.
        assert!(!check("ServiceTags == prod", &service()));
    }

    #[test]
    fn filter_parse_errors() {
        let err = |e: &str| match Filter::parse(e) {
            Ok(_) => panic!("{e} parsed"),
            Err(err) => err.to_string(),
        };
        assert_eq!(
            err("ID == web-1"),
            "Failed to create boolean expression evaluator: 1:10 (9): no match found, expected: \
             \".\", \"[\", [ \\t\\r\\n], [a-zA-Z0-9_] or EOF"
        );
        assert!(check("ID == \"web-1\"", &service()));
        // Trailing garbage.
        assert!(err("Service == web foo").starts_with(
            "Failed to create boolean expression evaluator: 1:16 (15): no match found, expected: "
        ));
        assert!(err("Service == web )").contains("1:16 (15): no match found"));
        assert!(err("(Service == web) (").contains("no match found"));
        assert!(err("Service == web and").contains("no match found"));
        assert_eq!(
            err("(Service == web"),
            "Failed to create boolean expression evaluator: 1:16 (15): rule grouping: Unmatched parentheses"
        );
        assert!(err("Service ==").contains("no match found"));
        assert!(err("Service").contains("no match found"));
        assert!(err("   ").contains("no match found"));
        assert!(err("_x == 1").contains("1:1 (0): no match found"));
        assert_eq!(
            err("Service matches \"(\""),
            "Failed to create boolean expression evaluator: Failed to compile regular expression \"(\": \
             error parsing regexp: unclosed group"
        );
    }

    #[test]
    fn filter_empty_expression_keeps_everything() {
        let f = Filter::parse("").map_err(|e| e.to_string());
        assert!(f.is_ok_and(|f| f.matches(&json!({})) && f.matches(&Value::Null)));
    }

    #[test]
    fn filter_deepest_nesting_fits_a_small_stack() {
        // Parsing, evaluating and dropping the deepest accepted filter on a 1 MiB stack (tokio's
        // workers have 2 MiB), even unoptimized.
        let n = parser::MAX_NESTING;
        let handle = std::thread::Builder::new().stack_size(1 << 20).spawn(move || {
            let parens = format!("{}a == 1{}", "(".repeat(n - 1), ")".repeat(n - 1));
            let nots = format!("{}a == 1", "not ".repeat(n - 1));
            let mixed = format!("{}a == 1{}", "not (".repeat(n / 2 - 1), ")".repeat(n / 2 - 1));
            let item = json!({"a": 1});
            [parens, nots, mixed]
                .iter()
                .map(|e| {
                    Filter::parse(e)
                        .map(|f| f.matches(&item))
                        .map_err(|e| e.to_string())
                })
                .collect::<Vec<_>>()
        });
        let results = handle
            .map_err(|e| e.to_string())
            .and_then(|h| h.join().map_err(|_| "panic".into()));
        let expected = vec![
            Ok(true),
            Ok((n - 1).is_multiple_of(2)),
            Ok((n / 2 - 1).is_multiple_of(2)),
        ];
        assert_eq!(results, Ok(expected));
    }

    #[test]
    fn filter_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Filter>();
        assert_send_sync::<FilterError>();
    }

    #[test]
    fn filter_lists_its_selectors() {
        let f =
            Filter::parse("a.b == 1 and not (c contains x or \"y\" not in d) or e is empty or f matches z")
                .expect("parses");
        let got: Vec<(String, SelectorTest)> =
            f.selectors().into_iter().map(|(p, t)| (p.join("."), t)).collect();
        let want = [
            ("a.b", SelectorTest::Equal),
            ("c", SelectorTest::In),
            ("d", SelectorTest::In),
            ("e", SelectorTest::IsEmpty),
            ("f", SelectorTest::Matches),
        ];
        assert_eq!(got, want.map(|(p, t)| (p.to_string(), t)));
        assert!(Filter::parse("").expect("empty").selectors().is_empty());
    }
}
