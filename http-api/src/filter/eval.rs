//! The compiled form of a filter and its evaluation against JSON values.
//!
//! Everything that can be decided once is decided when the filter is built: selectors are split
//! into components, literals are pre-parsed as integer, float and boolean (Go's `strconv` rules),
//! and regular expressions are compiled. Evaluating an item allocates nothing.

use regex::Regex;
use serde_json::{Number, Value};

use super::parser::{Node, Op};

/// A compiled boolean expression.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    /// Every operand holds (evaluated left to right, short-circuiting).
    And(Box<[Expr]>),
    /// Some operand holds (evaluated left to right, short-circuiting).
    Or(Box<[Expr]>),
    /// The operand does not hold.
    Not(Box<Expr>),
    /// A match expression.
    Match(Box<Matcher>),
}

/// One `<selector> <op> <value>` test.
#[derive(Debug, Clone)]
pub(super) struct Matcher {
    /// Selector components: object keys, looked up exactly.
    path: Box<[Box<str>]>,
    /// The positive form of the operator.
    test: Test,
    /// `!=`, `not in`, `not contains`, `is not empty`, `not matches`.
    negate: bool,
}

/// The positive operators.
#[derive(Debug, Clone)]
enum Test {
    /// `==`
    Equal(Literal),
    /// `in` / `contains`
    In(Literal),
    /// `is empty`
    IsEmpty,
    /// `matches`
    Matches(Regex),
}

/// A value from the expression, with its possible coercions worked out in advance.
#[derive(Debug, Clone)]
struct Literal {
    /// The text (what string fields and map keys are compared with).
    raw: Box<str>,
    /// As Go's `strconv.ParseInt(raw, 0, 64)` / `ParseUint(raw, 0, 64)` would read it.
    int: Option<i128>,
    /// As `strconv.ParseFloat(raw, 64)` would read it.
    float: Option<f64>,
    /// As `strconv.ParseBool(raw)` would read it.
    boolean: Option<bool>,
}

impl Expr {
    /// Builds the compiled form, checking the tree in order like go-bexpr's validation (the first
    /// problem, e.g. an invalid regular expression, is the one reported).
    pub(super) fn lower(node: Node) -> Result<Expr, String> {
        Ok(match node {
            Node::And(items) => Expr::And(items.into_iter().map(Expr::lower).collect::<Result<_, _>>()?),
            Node::Or(items) => Expr::Or(items.into_iter().map(Expr::lower).collect::<Result<_, _>>()?),
            Node::Not(inner) => Expr::Not(Box::new(Expr::lower(*inner)?)),
            Node::Match { path, op, value } => Expr::Match(Box::new(Matcher::new(path, op, value)?)),
        })
    }

    /// Calls `f` with each match expression's selector and test kind, left to right.
    pub(super) fn visit_selectors<'a>(&'a self, f: &mut impl FnMut(&'a [Box<str>], super::SelectorTest)) {
        match self {
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| e.visit_selectors(f)),
            Expr::Not(inner) => inner.visit_selectors(f),
            Expr::Match(m) => f(
                &m.path,
                match m.test {
                    Test::Equal(_) => super::SelectorTest::Equal,
                    Test::In(_) => super::SelectorTest::In,
                    Test::IsEmpty => super::SelectorTest::IsEmpty,
                    Test::Matches(_) => super::SelectorTest::Matches,
                },
            ),
        }
    }

    /// Evaluates the expression against one item.
    pub(super) fn eval(&self, item: &Value) -> bool {
        match self {
            Expr::And(items) => items.iter().all(|e| e.eval(item)),
            Expr::Or(items) => items.iter().any(|e| e.eval(item)),
            Expr::Not(inner) => !inner.eval(item),
            Expr::Match(m) => m.eval(item, 0),
        }
    }
}

impl Matcher {
    fn new(path: Vec<String>, op: Op, value: Option<String>) -> Result<Matcher, String> {
        let literal = || Literal::new(value.clone().unwrap_or_default());
        let (test, negate) = match op {
            Op::Equal => (Test::Equal(literal()), false),
            Op::NotEqual => (Test::Equal(literal()), true),
            Op::In => (Test::In(literal()), false),
            Op::NotIn => (Test::In(literal()), true),
            Op::IsEmpty => (Test::IsEmpty, false),
            Op::IsNotEmpty => (Test::IsEmpty, true),
            Op::Matches | Op::NotMatches => {
                let pattern = value.clone().unwrap_or_default();
                let re = Regex::new(&pattern).map_err(|e| {
                    format!(
                        "Failed to compile regular expression {pattern:?}: error parsing regexp: {}",
                        one_line(&e)
                    )
                })?;
                (Test::Matches(re), op == Op::NotMatches)
            }
        };
        Ok(Matcher {
            path: path.into_iter().map(String::into_boxed_str).collect(),
            test,
            negate,
        })
    }

    /// Follows the selector from component `depth` on.
    ///
    /// Objects are indexed by the next component. An array met before the selector's end is
    /// crossed with go-bexpr's implicit ANY: the test (negation included) holds if it holds for
    /// some element, so an empty array makes every test false. A missing key, a `null` or a scalar
    /// met before the end behave as a missing map key does in go-bexpr.
    fn eval(&self, value: &Value, depth: usize) -> bool {
        let Some(key) = self.path.get(depth) else {
            return self.leaf(value);
        };
        match value {
            Value::Object(map) => match map.get(&**key) {
                Some(next) => self.eval(next, depth + 1),
                None => self.missing(),
            },
            Value::Array(items) => items.iter().any(|item| self.eval(item, depth)),
            _ => self.missing(),
        }
    }

    /// go-bexpr's answer for a selector through a missing map key: `==`, `in`, `is not empty`
    /// (and here `matches`) are false, their negations true.
    fn missing(&self) -> bool {
        matches!(self.test, Test::IsEmpty) != self.negate
    }

    /// Applies the test to the value the selector ended on.
    fn leaf(&self, value: &Value) -> bool {
        let positive = match &self.test {
            Test::Equal(lit) => lit.equals(value),
            Test::In(lit) => match value {
                // Substring test.
                Value::String(s) => s.contains(&*lit.raw),
                // Membership, each element compared as `==` would.
                Value::Array(items) => items.iter().any(|item| lit.equals(item)),
                // Key test.
                Value::Object(map) => map.contains_key(&*lit.raw),
                Value::Null | Value::Bool(_) | Value::Number(_) => false,
            },
            Test::IsEmpty => match value {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(items) => items.is_empty(),
                Value::Object(map) => map.is_empty(),
                Value::Bool(_) | Value::Number(_) => false,
            },
            Test::Matches(re) => match value {
                Value::String(s) => re.is_match(s),
                _ => false,
            },
        };
        positive != self.negate
    }
}

impl Literal {
    fn new(raw: String) -> Literal {
        Literal {
            int: go_parse_int(&raw),
            float: go_parse_float(&raw),
            boolean: go_parse_bool(&raw),
            raw: raw.into_boxed_str(),
        }
    }

    /// `==` with the literal coerced to the JSON value's type. Arrays, objects and `null` equal
    /// no literal.
    fn equals(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => *s == *self.raw,
            Value::Bool(b) => self.boolean == Some(*b),
            Value::Number(n) => self.equals_number(n),
            Value::Null | Value::Array(_) | Value::Object(_) => false,
        }
    }

    /// Integral JSON numbers compare with the literal read as an integer (falling back to its
    /// float reading, so `9001.0` equals `9001`); others compare as floats.
    fn equals_number(&self, n: &Number) -> bool {
        let int = n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
        match int {
            Some(i) => match self.int {
                Some(lit) => lit == i,
                None => self.float.is_some_and(|f| n.as_f64() == Some(f)),
            },
            None => match (n.as_f64(), self.float) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, widened to also accept `ParseUint(s, 0, 64)`'s range:
/// optional sign, `0x`/`0o`/`0b`/leading-`0` prefixes, `_` separators between digits.
fn go_parse_int(s: &str) -> Option<i128> {
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let bytes = unsigned.as_bytes();
    let (radix, digits, prefixed) = match bytes {
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (16, &bytes[2..], true),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (8, &bytes[2..], true),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (2, &bytes[2..], true),
        [b'0', _, ..] => (8, &bytes[1..], true),
        [] => return None,
        _ => (10, bytes, false),
    };
    let mut magnitude: u128 = 0;
    // Whether the previous character was a digit (a base prefix counts as one).
    let mut after_digit = prefixed;
    let mut last_underscore = false;
    for &b in digits {
        if b == b'_' {
            if !after_digit {
                return None;
            }
            after_digit = false;
            last_underscore = true;
            continue;
        }
        let d = char::from(b).to_digit(radix)?;
        magnitude = magnitude
            .checked_mul(u128::from(radix))?
            .checked_add(u128::from(d))?;
        if magnitude > u128::from(u64::MAX) + 1 {
            return None;
        }
        after_digit = true;
        last_underscore = false;
    }
    if last_underscore {
        return None;
    }
    let value = i128::try_from(magnitude).ok()?;
    let value = if negative { -value } else { value };
    (i128::from(i64::MIN)..=i128::from(u64::MAX))
        .contains(&value)
        .then_some(value)
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms (and `inf`/`nan`).
fn go_parse_float(s: &str) -> Option<f64> {
    if s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The last meaningful line of a (possibly multi-line) regex error.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.strip_prefix("error: ").unwrap_or(l).to_string())
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_go_int_parsing() {
        assert_eq!(go_parse_int("9001"), Some(9001));
        assert_eq!(go_parse_int("-1"), Some(-1));
        assert_eq!(go_parse_int("+7"), Some(7));
        assert_eq!(go_parse_int("0"), Some(0));
        assert_eq!(go_parse_int("0x2329"), Some(9001));
        assert_eq!(go_parse_int("0X_23_29"), Some(9001));
        assert_eq!(go_parse_int("010"), Some(8));
        assert_eq!(go_parse_int("0o17"), Some(15));
        assert_eq!(go_parse_int("0b101"), Some(5));
        assert_eq!(go_parse_int("1_000"), Some(1000));
        assert_eq!(go_parse_int("18446744073709551615"), Some(i128::from(u64::MAX)));
        assert_eq!(go_parse_int("-9223372036854775808"), Some(i128::from(i64::MIN)));
        for bad in [
            "",
            "-",
            "1.5",
            "abc",
            "0x",
            "08",
            "1__0",
            "_1",
            "1_",
            "18446744073709551616",
            "1e3",
        ] {
            assert_eq!(go_parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn filter_go_bool_and_float_parsing() {
        assert_eq!(go_parse_bool("true"), Some(true));
        assert_eq!(go_parse_bool("T"), Some(true));
        assert_eq!(go_parse_bool("0"), Some(false));
        assert_eq!(go_parse_bool("yes"), None);
        assert_eq!(go_parse_float("1.5"), Some(1.5));
        assert_eq!(go_parse_float("-2"), Some(-2.0));
        assert_eq!(go_parse_float("1e3"), Some(1000.0));
        assert_eq!(go_parse_float("x"), None);
    }
}
