//! Go-syntax regular expressions (`consul members -status`, user event filters) on the
//! `regex` crate, which implements RE2's syntax and linear-time matching as Go's `regexp`
//! does, with errors worded as Go's `regexp/syntax` words them:
//! ``error parsing regexp: missing closing ): `(` ``.
//!
//! Two rules of Go's grammar differ from `regex`'s and are applied here before compiling:
//! a `{` that does not start a repeat count (`x{`, `a{,2}`) is a literal, and a repeat
//! count above 1000 or a repetition of a repetition (`a**`) is an error.
//! Matching is unanchored, like Go's `MatchString`.

use regex_syntax::ast::{self, Ast, RepetitionKind, RepetitionRange};

/// Go's limit on `{n,m}` counts.
const MAX_REPEAT: u32 = 1000;

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Regexp(regex::Regex);

/// Why an expression did not compile, shown as Go's `*syntax.Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing regexp: {code}: `{expr}`")]
pub struct Error {
    /// Go's `ErrorCode` text (`missing closing )`).
    code: &'static str,
    /// The part of the expression Go quotes.
    expr: String,
}

impl Regexp {
    /// Compiles `expr` with Go's syntax rules.
    pub fn new(expr: &str) -> Result<Self, Error> {
        let pattern = escape_literal_braces(expr);
        let tree = ast::parse::Parser::new()
            .parse(&pattern)
            .map_err(|e| go_error(expr, &pattern, &e))?;
        check_repeats(&tree, &pattern)?;
        regex::Regex::new(&pattern).map(Regexp).map_err(|e| Error {
            code: match e {
                regex::Error::CompiledTooBig(_) => "expression too large",
                _ => "invalid or unsupported Perl syntax",
            },
            expr: expr.to_string(),
        })
    }

    /// Whether the expression matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// Escapes each `{` outside a character class that does not begin a Go repeat count
/// (`{n}`, `{n,}`, `{n,m}`): Go reads such a brace as a literal, `regex` as an error.
fn escape_literal_braces(expr: &str) -> String {
    let bytes = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 2);
    let mut in_class = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\\' => {
                // An escape: copy it and the character it escapes whole.
                let next = expr[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&expr[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                out.push('[');
                i += 1;
                // `[]` and `[^]` start with a literal `]`.
                if bytes.get(i) == Some(&b'^') {
                    out.push('^');
                    i += 1;
                }
                if bytes.get(i) == Some(&b']') {
                    out.push(']');
                    i += 1;
                }
                continue;
            }
            b'[' if bytes.get(i + 1) == Some(&b':') => {
                // `[:alpha:]` inside a class.
                if let Some(end) = expr[i + 2..].find(":]") {
                    out.push_str(&expr[i..i + 2 + end + 2]);
                    i += 2 + end + 2;
                    continue;
                }
            }
            b']' if in_class => in_class = false,
            b'{' if !in_class && !starts_repeat(&bytes[i..]) => {
                out.push_str("\\{");
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = expr[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&expr[i..i + len]);
        i += len;
    }
    out
}

/// Whether `s` (starting at a `{`) is a Go repeat count: `{` digits [`,` [digits]] `}`.
fn starts_repeat(s: &[u8]) -> bool {
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let min = digits(1);
    if min == 0 {
        return false;
    }
    let mut i = 1 + min;
    if s.get(i) == Some(&b',') {
        i += 1 + digits(i + 1);
    }
    s.get(i) == Some(&b'}')
}

/// Refuses what Go's parser refuses and `regex`'s accepts: counts above [`MAX_REPEAT`] and
/// a repetition operator applied directly to another (`a**`, `a+*`).
fn check_repeats(tree: &Ast, pattern: &str) -> Result<(), Error> {
    let text = |span: &ast::Span| pattern[span.start.offset..span.end.offset].to_string();
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        match node {
            Ast::Repetition(rep) => {
                if let RepetitionKind::Range(range) = &rep.op.kind {
                    let too_big = match *range {
                        RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => n > MAX_REPEAT,
                        RepetitionRange::Bounded(n, m) => n > MAX_REPEAT || m > MAX_REPEAT,
                    };
                    if too_big {
                        return Err(Error {
                            code: "invalid repeat count",
                            expr: text(&rep.op.span),
                        });
                    }
                }
                if let Ast::Repetition(inner) = rep.ast.as_ref() {
                    let span = ast::Span::new(inner.op.span.start, rep.op.span.end);
                    return Err(Error {
                        code: "invalid nested repetition operator",
                        expr: text(&span),
                    });
                }
                stack.push(&rep.ast);
            }
            Ast::Group(group) => stack.push(&group.ast),
            Ast::Alternation(alt) => stack.extend(alt.asts.iter()),
            Ast::Concat(concat) => stack.extend(concat.asts.iter()),
            _ => {}
        }
    }
    Ok(())
}

/// Words a `regex-syntax` parse error as Go's parser words the same mistake, quoting the
/// part of the expression Go quotes. `expr` is what the user wrote, `pattern` what was
/// parsed (the same but for escaped literal braces).
fn go_error(expr: &str, pattern: &str, e: &ast::Error) -> Error {
    use ast::ErrorKind as K;
    let span = e.span();
    let (start, end) = (span.start.offset, span.end.offset);
    let quoted = |from: usize, to: usize| pattern.get(from..to).unwrap_or(expr).to_string();
    // Go quotes a flag or group error from the `(?` that opened it.
    let group_start = pattern[..start.min(pattern.len())].rfind("(?").unwrap_or(start);
    let (code, quote) = match e.kind() {
        K::GroupUnclosed => ("missing closing )", expr.to_string()),
        K::GroupUnopened => ("unexpected )", expr.to_string()),
        K::RepetitionMissing => (
            "missing argument to repetition operator",
            operator_at(pattern, start),
        ),
        K::ClassUnclosed => ("missing closing ]", quoted(start, pattern.len())),
        K::ClassRangeInvalid | K::ClassRangeLiteral => ("invalid character class range", quoted(start, end)),
        K::EscapeUnexpectedEof => ("trailing backslash at end of expression", String::new()),
        K::EscapeUnrecognized
        | K::ClassEscapeInvalid
        | K::EscapeHexEmpty
        | K::EscapeHexInvalid
        | K::EscapeHexInvalidDigit
        | K::UnsupportedBackreference => ("invalid escape sequence", quoted(start, end)),
        K::UnicodeClassInvalid => ("invalid character class range", quoted(start, end)),
        K::RepetitionCountInvalid
        | K::RepetitionCountUnclosed
        | K::RepetitionCountDecimalEmpty
        | K::DecimalEmpty
        | K::DecimalInvalid => ("invalid repeat count", quoted(start, end)),
        K::GroupNameDuplicate { .. } => ("duplicate capture group name", quoted(start, end)),
        K::GroupNameEmpty | K::GroupNameInvalid | K::GroupNameUnexpectedEof => (
            "invalid named capture",
            quoted(group_start, pattern.len().min(end + 1)),
        ),
        K::NestLimitExceeded(_) => ("expression nests too deeply", expr.to_string()),
        K::CaptureLimitExceeded => ("expression too large", expr.to_string()),
        // Unknown or repeated flags, look-around and the rest of Perl's extensions.
        _ => ("invalid or unsupported Perl syntax", quoted(group_start, end)),
    };
    Error { code, expr: quote }
}

/// The repetition operator starting at byte `at` (`*`, `+?`, `{2,3}`): `regex-syntax`
/// points at it with an empty span where Go quotes it.
fn operator_at(pattern: &str, at: usize) -> String {
    let rest = pattern.get(at..).unwrap_or("");
    let len = if rest.starts_with('{') {
        rest.find('}').map_or(rest.len(), |i| i + 1)
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    };
    let lazy = usize::from(rest[len..].starts_with('?'));
    rest[..len + lazy].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str, text: &str) -> bool {
        Regexp::new(re).expect("compiles").is_match(text)
    }

    fn err(re: &str) -> String {
        Regexp::new(re).expect_err("must not compile").to_string()
    }

    #[test]
    fn matches_like_go_match_string() {
        assert!(m(".*", ""));
        assert!(m(".*", "alive"));
        assert!(m("alive", "alive"));
        assert!(m("liv", "alive"), "unanchored");
        assert!(!m("^liv", "alive"));
        assert!(m("^(alive|failed)$", "failed"));
        assert!(!m("^(alive|failed)$", "left"));
        assert!(m("le(ft|aving)", "leaving"));
        assert!(m("^l", "left"));
        assert!(m("(?i)ALIVE", "alive"));
        assert!(!m("ALIVE", "alive"));
        assert!(m("a{2,3}", "caab"));
        assert!(!m("^a{2,3}$", "aaaa"));
        assert!(m("^a{2,}$", "aaaa"));
        assert!(m("^[a-f]+$", "faded"));
        assert!(!m("^[a-f]+$", "failed"));
        assert!(!m("^[^a-f]+$", "faded"));
        assert!(m("^[^a-f]+$", "lint"));
        assert!(m("^[[:alpha:]]+$", "left"));
        assert!(m(r"^\w+$", "left"));
        assert!(!m(r"^\d+$", "left"));
        assert!(m(r"\bleft\b", "left"));
        assert!(m("a|", "zzz"), "empty alternative matches");
        assert!(m("(a*)*$", "b"));
        assert!(m(r"^a\.b$", "a.b"));
        assert!(!m(r"^a\.b$", "axb"));
        assert!(m("x{", "x{"), "a lone brace is literal");
        assert!(m("(?:ab)+?$", "abab"));
        assert!(m(r"^\x61$", "a"));
        assert!(!m("^.$", "\n"));
        assert!(m("(?s)^.$", "\n"));
        assert!(m("(?m)^b$", "a\nb"));
        assert!(m("(?P<s>al)ive", "alive"));
    }

    #[test]
    fn braces_that_are_not_counts_are_literals() {
        assert!(m("^a{,2}$", "a{,2}"));
        assert!(m("^{$", "{"));
        assert!(m("^x{y}$", "x{y}"));
        assert!(m("^[{]$", "{"), "inside a class a brace is plain");
        assert!(m(r"^\{2\}$", "{2}"));
        assert!(m("^a{2}$", "aa"));
        assert!(m("^é{$", "é{"));
    }

    #[test]
    fn reports_errors_like_go() {
        assert_eq!(err("("), "error parsing regexp: missing closing ): `(`");
        assert_eq!(err(")"), "error parsing regexp: unexpected ): `)`");
        assert_eq!(
            err("*"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
        assert_eq!(
            err("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(err("[a"), "error parsing regexp: missing closing ]: `[a`");
        assert_eq!(
            err("[z-a]"),
            "error parsing regexp: invalid character class range: `z-a`"
        );
        assert_eq!(err(r"\q"), r"error parsing regexp: invalid escape sequence: `\q`");
        assert_eq!(
            err("\\"),
            "error parsing regexp: trailing backslash at end of expression: ``"
        );
        assert_eq!(
            err("a{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(
            err("(?z)"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?z`"
        );
    }
}
