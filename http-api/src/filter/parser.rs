//! The PEG parser behind [`Filter::parse`](super::Filter::parse).
//!
//! This is a hand-written transliteration of go-bexpr v0.1.2's `grammar.peg` (the version Consul
//! vendors), run the way the pigeon parser generator runs it, so that both what is accepted and
//! where a rejection is reported match Consul:
//!
//! - ordered choice with backtracking, `!`/`&` predicates;
//! - every matcher records its failures at its *start* offset, and only the records at the farthest
//!   offset are kept: they form the `expected: ...` list of a `no match found` error;
//! - inside a `!` predicate the recording is inverted (successes are recorded, prefixed with `!`);
//! - semantic predicates (`&{ ... }`) and failing actions add "custom" errors, which win over the
//!   `no match found` error, are de-duplicated and are prefixed with `rule <display name>`.
//!
//! The recursive rules are restructured without changing their language or their error records:
//! `A _ "or" _ Or / A` becomes a loop (`A (_ "or" _ A)*`, trying the same matchers in the same
//! places), and the third alternative of `ParenthesizedExpression` reuses the work of the first
//! instead of re-parsing it. That keeps parsing linear where a naive PEG would be exponential in
//! the nesting depth. Nesting (parentheses and `not`) is capped at [`MAX_NESTING`] so a hostile
//! filter cannot overflow the stack.

/// Deepest nesting of parentheses and `not` operators accepted.
pub(super) const MAX_NESTING: usize = 128;

/// A match operator as written (the negated forms are kept distinct until lowering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `in`, `contains`
    In,
    /// `not in`, `not contains`
    NotIn,
    /// `is empty`
    IsEmpty,
    /// `is not empty`
    IsNotEmpty,
    /// `matches`
    Matches,
    /// `not matches`
    NotMatches,
}

/// The parse tree, before values are coerced and regular expressions compiled.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// Every operand must hold (at least two operands).
    And(Vec<Node>),
    /// Any operand must hold (at least two operands).
    Or(Vec<Node>),
    /// Negation.
    Not(Box<Node>),
    /// A match expression.
    Match {
        /// Selector components (`Meta["a b"].x` is `["Meta", "a b", "x"]`).
        path: Vec<String>,
        /// The operator.
        op: Op,
        /// The raw value; `None` for `is empty` / `is not empty`.
        value: Option<String>,
    },
}

/// A literal matcher: the text and how pigeon names it in an expected-list (Go's `%q`).
#[derive(Clone, Copy)]
struct Lit {
    text: &'static str,
    want: &'static str,
}

const fn lit(text: &'static str, want: &'static str) -> Lit {
    Lit { text, want }
}

const L_OPEN: Lit = lit("(", "\"(\"");
const L_CLOSE: Lit = lit(")", "\")\"");
const L_OR: Lit = lit("or", "\"or\"");
const L_AND: Lit = lit("and", "\"and\"");
const L_NOT: Lit = lit("not", "\"not\"");
const L_EQ: Lit = lit("==", "\"==\"");
const L_NE: Lit = lit("!=", "\"!=\"");
const L_IS: Lit = lit("is", "\"is\"");
const L_EMPTY: Lit = lit("empty", "\"empty\"");
const L_IN: Lit = lit("in", "\"in\"");
const L_CONTAINS: Lit = lit("contains", "\"contains\"");
const L_MATCHES: Lit = lit("matches", "\"matches\"");
const L_DOT: Lit = lit(".", "\".\"");
const L_LBRACKET: Lit = lit("[", "\"[\"");
const L_RBRACKET: Lit = lit("]", "\"]\"");
const L_MINUS: Lit = lit("-", "\"-\"");
const L_ZERO: Lit = lit("0", "\"0\"");
const L_BACKTICK: Lit = lit("`", "\"`\"");
const L_DQUOTE: Lit = lit("\"", "\"\\\"\"");

/// A character-class matcher: the predicate and its grammar spelling.
#[derive(Clone, Copy)]
struct Class {
    test: fn(char) -> bool,
    want: &'static str,
}

const C_WS: Class = Class {
    test: |c| matches!(c, ' ' | '\t' | '\r' | '\n'),
    want: "[ \\t\\r\\n]",
};
const C_ALPHA: Class = Class {
    test: |c| c.is_ascii_alphabetic(),
    want: "[a-zA-Z]",
};
const C_IDENT: Class = Class {
    test: |c| c.is_ascii_alphanumeric() || c == '_',
    want: "[a-zA-Z0-9_]",
};
const C_DIGIT19: Class = Class {
    test: |c| matches!(c, '1'..='9'),
    want: "[1-9]",
};
const C_DIGIT: Class = Class {
    test: |c| c.is_ascii_digit(),
    want: "[0-9]",
};

/// How pigeon spells the "any character" matcher; `!.` is reported as `EOF`.
const ANY_WANT: &str = ".";

/// Parses `src` (non-empty) into a tree, or returns the error text that follows Consul's
/// `Failed to create boolean expression evaluator: ` prefix.
pub(super) fn parse(src: &str) -> Result<Node, String> {
    let mut p = Parser {
        src,
        pos: 0,
        invert: false,
        max_fail: 0,
        expected: Vec::new(),
        errors: Vec::new(),
        depth: 0,
        too_deep: None,
    };
    let tree = p.input();
    if let Some(at) = p.too_deep {
        let (line, col) = line_col(src, at);
        return Err(format!(
            "{line}:{col} ({at}): expression nested too deeply (more than {MAX_NESTING} levels of parentheses or not)"
        ));
    }
    if !p.errors.is_empty() {
        return Err(p.errors.join("\n"));
    }
    match tree {
        Some(tree) => Ok(tree),
        None => Err(p.no_match_error()),
    }
}

struct Parser<'a> {
    src: &'a str,
    /// Current byte offset.
    pos: usize,
    /// Inside an odd number of `!` predicates.
    invert: bool,
    /// Farthest offset at which a failure was recorded.
    max_fail: usize,
    /// What was recorded at `max_fail`: (recorded under inversion, matcher spelling).
    expected: Vec<(bool, &'static str)>,
    /// Custom errors, formatted, de-duplicated, in order of first occurrence.
    errors: Vec<String>,
    /// Current nesting of parentheses / `not`.
    depth: usize,
    /// Where the nesting limit was exceeded.
    too_deep: Option<usize>,
}

impl Parser<'_> {
    // ----- primitives (pigeon's matchers) -----

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    /// pigeon's `failAt`: outside a `!` failures are recorded, inside it successes are.
    fn record(&mut self, matched: bool, at: usize, want: &'static str) {
        if matched != self.invert {
            return;
        }
        if at < self.max_fail {
            return;
        }
        if at > self.max_fail {
            self.max_fail = at;
            self.expected.clear();
        }
        let entry = (self.invert, want);
        if !self.expected.contains(&entry) {
            self.expected.push(entry);
        }
    }

    fn lit(&mut self, l: Lit) -> bool {
        let start = self.pos;
        let ok = self.src.get(start..).is_some_and(|rest| rest.starts_with(l.text));
        if ok {
            self.pos += l.text.len();
        }
        self.record(ok, start, l.want);
        ok
    }

    fn class(&mut self, c: Class) -> bool {
        let start = self.pos;
        match self.peek() {
            Some(ch) if (c.test)(ch) => {
                self.pos += ch.len_utf8();
                self.record(true, start, c.want);
                true
            }
            _ => {
                self.record(false, start, c.want);
                false
            }
        }
    }

    fn any(&mut self) -> bool {
        let start = self.pos;
        match self.peek() {
            Some(ch) => {
                self.pos += ch.len_utf8();
                self.record(true, start, ANY_WANT);
                true
            }
            None => {
                self.record(false, start, ANY_WANT);
                false
            }
        }
    }

    /// `!expr`: never consumes; succeeds when `f` fails.
    fn not_pred(&mut self, f: impl FnOnce(&mut Self) -> bool) -> bool {
        let start = self.pos;
        self.invert = !self.invert;
        let ok = f(self);
        self.invert = !self.invert;
        self.pos = start;
        !ok
    }

    /// `&expr`: never consumes; succeeds when `f` does.
    fn and_pred(&mut self, f: impl FnOnce(&mut Self) -> bool) -> bool {
        let start = self.pos;
        let ok = f(self);
        self.pos = start;
        ok
    }

    /// `_ <- [ \t\r\n]+`
    fn ws(&mut self) -> bool {
        if !self.class(C_WS) {
            return false;
        }
        while self.class(C_WS) {}
        true
    }

    /// `_?`
    fn ws_opt(&mut self) {
        self.ws();
    }

    /// `EOF <- !.`
    fn eof(&mut self) -> bool {
        self.not_pred(|p| p.any())
    }

    /// Records a custom error (semantic predicate or failing action) raised in rule `rule`.
    fn error_at(&mut self, at: usize, rule: &str, msg: &str) {
        let (line, col) = line_col(self.src, at);
        let text = format!("{line}:{col} ({at}): rule {rule}: {msg}");
        if !self.errors.contains(&text) {
            self.errors.push(text);
        }
    }

    fn no_match_error(&self) -> String {
        let mut wants: Vec<String> = Vec::with_capacity(self.expected.len());
        let mut eof = false;
        for &(inverted, want) in &self.expected {
            if inverted && want == ANY_WANT {
                eof = true;
            } else if inverted {
                wants.push(format!("!{want}"));
            } else {
                wants.push(want.to_string());
            }
        }
        wants.sort();
        wants.dedup();
        if eof {
            wants.push("EOF".to_string());
        }
        let list = match wants.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        };
        // pigeon's farthest-failure position starts at line 1, column 1, offset 0.
        let (line, col) = if self.max_fail == 0 {
            (1, 1)
        } else {
            line_col(self.src, self.max_fail)
        };
        format!(
            "{line}:{col} ({}): no match found, expected: {list}",
            self.max_fail
        )
    }

    /// Enters one nesting level; false (and parsing is abandoned) past [`MAX_NESTING`].
    fn enter(&mut self) -> bool {
        if self.too_deep.is_some() {
            return false;
        }
        if self.depth >= MAX_NESTING {
            self.too_deep = Some(self.pos);
            return false;
        }
        self.depth += 1;
        true
    }

    // ----- rules -----

    /// `Input <- _? "(" _? OrExpression _? ")" _? EOF / _? OrExpression _? EOF`
    fn input(&mut self) -> Option<Node> {
        self.ws_opt();
        if self.lit(L_OPEN) {
            self.ws_opt();
            if let Some(e) = self.or_expr() {
                self.ws_opt();
                if self.lit(L_CLOSE) {
                    self.ws_opt();
                    if self.eof() {
                        return Some(e);
                    }
                }
            }
        }
        self.pos = 0;
        self.ws_opt();
        if let Some(e) = self.or_expr() {
            self.ws_opt();
            if self.eof() {
                return Some(e);
            }
        }
        self.pos = 0;
        None
    }

    /// `OrExpression <- AndExpression _ "or" _ OrExpression / AndExpression`
    fn or_expr(&mut self) -> Option<Node> {
        self.chain(L_OR, Self::and_expr, Node::Or)
    }

    /// `AndExpression <- NotExpression _ "and" _ AndExpression / NotExpression`
    fn and_expr(&mut self) -> Option<Node> {
        self.chain(L_AND, Self::not_expr, Node::And)
    }

    /// `X <- Y _ kw _ X / Y`, as the loop `Y (_ kw _ Y)*`.
    fn chain(
        &mut self,
        kw: Lit,
        operand: fn(&mut Self) -> Option<Node>,
        build: fn(Vec<Node>) -> Node,
    ) -> Option<Node> {
        let first = operand(self)?;
        let mut rest = Vec::new();
        loop {
            let save = self.pos;
            if self.ws() && self.lit(kw) && self.ws() {
                if let Some(next) = operand(self) {
                    rest.push(next);
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        if rest.is_empty() {
            Some(first)
        } else {
            rest.insert(0, first);
            Some(build(rest))
        }
    }

    /// `NotExpression <- "not" _ NotExpression / ParenthesizedExpression`
    fn not_expr(&mut self) -> Option<Node> {
        let start = self.pos;
        if self.lit(L_NOT) && self.ws() {
            if !self.enter() {
                return None;
            }
            let inner = self.not_expr();
            self.depth -= 1;
            if let Some(inner) = inner {
                return Some(match inner {
                    // `not not x` is `x`, as in go-bexpr.
                    Node::Not(x) => *x,
                    other => Node::Not(Box::new(other)),
                });
            }
        }
        if self.too_deep.is_some() {
            return None;
        }
        self.pos = start;
        self.paren_expr()
    }

    /// `ParenthesizedExpression "grouping" <- "(" _? OrExpression _? ")" / MatchExpression
    ///     / "(" _? OrExpression _? !")" &{ Unmatched parentheses }`
    fn paren_expr(&mut self) -> Option<Node> {
        let start = self.pos;
        if self.lit(L_OPEN) {
            if !self.enter() {
                return None;
            }
            self.ws_opt();
            let inner = self.or_expr();
            self.depth -= 1;
            if let Some(e) = inner {
                self.ws_opt();
                let at = self.pos;
                if self.lit(L_CLOSE) {
                    return Some(e);
                }
                // Second alternative (cannot match at a "(", but records like pigeon), then the
                // third, whose prefix is exactly what was just parsed.
                self.pos = start;
                if let Some(m) = self.match_expr() {
                    return Some(m);
                }
                self.error_at(at, "grouping", "Unmatched parentheses");
                self.pos = start;
                return None;
            }
            if self.too_deep.is_some() {
                return None;
            }
        }
        self.pos = start;
        self.match_expr()
    }

    /// `MatchExpression "match" <- MatchSelectorOpValue / MatchSelectorOp / MatchValueOpSelector`
    fn match_expr(&mut self) -> Option<Node> {
        let start = self.pos;
        // MatchSelectorOpValue <- Selector (== / != / contains / not contains / matches / not matches) Value
        // MatchSelectorOp <- Selector (is empty / is not empty)
        if let Some(path) = self.selector() {
            let after = self.pos;
            if let Some(op) = self.op_selector_value() {
                if let Some(value) = self.value() {
                    return Some(Node::Match {
                        path,
                        op,
                        value: Some(value),
                    });
                }
            }
            self.pos = after;
            if let Some(op) = self.op_selector_only() {
                return Some(Node::Match {
                    path,
                    op,
                    value: None,
                });
            }
        }
        self.pos = start;
        // MatchValueOpSelector <- Value (in / not in) Selector
        //     / Value (in / not in) !Selector &{ Invalid selector }
        if let Some(value) = self.value() {
            if let Some(op) = self.op_value_selector() {
                if let Some(path) = self.selector() {
                    return Some(Node::Match {
                        path,
                        op,
                        value: Some(value),
                    });
                }
            }
        }
        self.pos = start;
        if self.value().is_some()
            && self.op_value_selector().is_some()
            && self.not_pred(|p| p.selector().is_some())
        {
            let at = self.pos;
            self.error_at(at, "match", "Invalid selector");
        }
        self.pos = start;
        None
    }

    /// Tries each `seq` in order, restoring the position after a failed one.
    fn first_of(&mut self, alternatives: &[(&[Step], Op)]) -> Option<Op> {
        let start = self.pos;
        for (steps, op) in alternatives {
            if steps.iter().all(|step| match step {
                Step::Ws => self.ws(),
                Step::WsOpt => {
                    self.ws_opt();
                    true
                }
                Step::Lit(l) => self.lit(*l),
            }) {
                return Some(*op);
            }
            self.pos = start;
        }
        None
    }

    fn op_selector_value(&mut self) -> Option<Op> {
        use Step::{Lit as L, Ws, WsOpt};
        self.first_of(&[
            // MatchEqual <- _? "==" _?
            (&[WsOpt, L(L_EQ), WsOpt], Op::Equal),
            // MatchNotEqual <- _? "!=" _?
            (&[WsOpt, L(L_NE), WsOpt], Op::NotEqual),
            // MatchContains <- _ "contains" _
            (&[Ws, L(L_CONTAINS), Ws], Op::In),
            // MatchNotContains <- _ "not" _ "contains" _
            (&[Ws, L(L_NOT), Ws, L(L_CONTAINS), Ws], Op::NotIn),
            // MatchMatches <- _ "matches" _
            (&[Ws, L(L_MATCHES), Ws], Op::Matches),
            // MatchNotMatches <- _ "not" _ "matches" _
            (&[Ws, L(L_NOT), Ws, L(L_MATCHES), Ws], Op::NotMatches),
        ])
    }

    fn op_selector_only(&mut self) -> Option<Op> {
        use Step::{Lit as L, Ws};
        self.first_of(&[
            // MatchIsEmpty <- _ "is" _ "empty"
            (&[Ws, L(L_IS), Ws, L(L_EMPTY)], Op::IsEmpty),
            // MatchIsNotEmpty <- _ "is" _ "not" _ "empty"
            (&[Ws, L(L_IS), Ws, L(L_NOT), Ws, L(L_EMPTY)], Op::IsNotEmpty),
        ])
    }

    fn op_value_selector(&mut self) -> Option<Op> {
        use Step::{Lit as L, Ws};
        self.first_of(&[
            // MatchIn <- _ "in" _
            (&[Ws, L(L_IN), Ws], Op::In),
            // MatchNotIn <- _ "not" _ "in" _
            (&[Ws, L(L_NOT), Ws, L(L_IN), Ws], Op::NotIn),
        ])
    }

    /// `Selector "selector" <- Identifier SelectorOrIndex*`
    /// with `SelectorOrIndex <- "." Identifier / IndexExpression`.
    fn selector(&mut self) -> Option<Vec<String>> {
        let first = self.identifier()?;
        let mut path = vec![first];
        loop {
            let save = self.pos;
            if self.lit(L_DOT) {
                if let Some(ident) = self.identifier() {
                    path.push(ident);
                    continue;
                }
            }
            self.pos = save;
            if let Some(key) = self.index_expr() {
                path.push(key);
                continue;
            }
            self.pos = save;
            break;
        }
        Some(path)
    }

    /// `Identifier <- [a-zA-Z] [a-zA-Z0-9_]*`
    fn identifier(&mut self) -> Option<String> {
        let start = self.pos;
        if !self.class(C_ALPHA) {
            return None;
        }
        while self.class(C_IDENT) {}
        self.src.get(start..self.pos).map(str::to_string)
    }

    /// `IndexExpression "index" <- "[" _? StringLiteral _? "]"
    ///     / "[" _? !StringLiteral &{ Invalid index }
    ///     / "[" _? StringLiteral _? !"]" &{ Unclosed index expression }`
    fn index_expr(&mut self) -> Option<String> {
        let start = self.pos;
        if self.lit(L_LBRACKET) {
            self.ws_opt();
            if let Some(key) = self.string_literal() {
                self.ws_opt();
                if self.lit(L_RBRACKET) {
                    return Some(key);
                }
            }
        }
        self.pos = start;
        if self.lit(L_LBRACKET) {
            self.ws_opt();
            if self.not_pred(|p| p.string_literal().is_some()) {
                let at = self.pos;
                self.error_at(at, "index", "Invalid index");
            }
        }
        self.pos = start;
        if self.lit(L_LBRACKET) {
            self.ws_opt();
            if self.string_literal().is_some() {
                self.ws_opt();
                if self.not_pred(|p| p.lit(L_RBRACKET)) {
                    let at = self.pos;
                    self.error_at(at, "index", "Unclosed index expression");
                }
            }
        }
        self.pos = start;
        None
    }

    /// `Value "value" <- Selector / NumberLiteral / StringLiteral`; a selector used as a value
    /// stands for its components joined with `.`.
    fn value(&mut self) -> Option<String> {
        let start = self.pos;
        if let Some(path) = self.selector() {
            return Some(path.join("."));
        }
        self.pos = start;
        if let Some(n) = self.number_literal() {
            return Some(n);
        }
        self.pos = start;
        let s = self.string_literal();
        if s.is_none() {
            self.pos = start;
        }
        s
    }

    /// `NumberLiteral "number" <- "-"? IntegerOrFloat &AfterNumbers
    ///     / "-"? IntegerOrFloat !AfterNumbers &{ Invalid number literal }`
    fn number_literal(&mut self) -> Option<String> {
        let start = self.pos;
        self.lit(L_MINUS);
        if self.integer_or_float() && self.and_pred(Self::after_numbers) {
            return self.src.get(start..self.pos).map(str::to_string);
        }
        self.pos = start;
        self.lit(L_MINUS);
        if self.integer_or_float() && self.not_pred(Self::after_numbers) {
            let at = self.pos;
            self.error_at(at, "number", "Invalid number literal");
        }
        self.pos = start;
        None
    }

    /// `AfterNumbers <- &(_ / EOF / ")")`
    fn after_numbers(&mut self) -> bool {
        self.and_pred(|p| {
            let start = p.pos;
            if p.ws() {
                return true;
            }
            p.pos = start;
            if p.eof() {
                return true;
            }
            p.pos = start;
            p.lit(L_CLOSE)
        })
    }

    /// `IntegerOrFloat <- ("0" / [1-9][0-9]*) ("." [0-9]+)?`
    fn integer_or_float(&mut self) -> bool {
        let start = self.pos;
        if !self.lit(L_ZERO) {
            if !self.class(C_DIGIT19) {
                self.pos = start;
                return false;
            }
            while self.class(C_DIGIT) {}
        }
        let frac = self.pos;
        if self.lit(L_DOT) && self.class(C_DIGIT) {
            while self.class(C_DIGIT) {}
        } else {
            self.pos = frac;
        }
        true
    }

    /// `StringLiteral "string" <- ('`' RawStringChar* '`' / '"' DoubleStringChar* '"') { Unquote }
    ///     / ('`' RawStringChar* / '"' DoubleStringChar*) EOF &{ Unterminated string literal }`
    fn string_literal(&mut self) -> Option<String> {
        let start = self.pos;
        let mut closed = false;
        if self.lit(L_BACKTICK) {
            self.string_chars(L_BACKTICK);
            closed = self.lit(L_BACKTICK);
        }
        if !closed {
            self.pos = start;
            if self.lit(L_DQUOTE) {
                self.string_chars(L_DQUOTE);
                closed = self.lit(L_DQUOTE);
            }
        }
        if closed {
            let text = self.src.get(start..self.pos).unwrap_or_default();
            return Some(match go_unquote(text) {
                Some(s) => s,
                None => {
                    // A failing action records the error but the match stands (value "").
                    self.error_at(start, "string", "invalid syntax");
                    String::new()
                }
            });
        }
        self.pos = start;
        let opened = if self.lit(L_BACKTICK) {
            self.string_chars(L_BACKTICK);
            true
        } else {
            self.pos = start;
            if self.lit(L_DQUOTE) {
                self.string_chars(L_DQUOTE);
                true
            } else {
                false
            }
        };
        if opened && self.eof() {
            let at = self.pos;
            self.error_at(at, "string", "Unterminated string literal");
        }
        self.pos = start;
        None
    }

    /// `(!quote .)*`
    fn string_chars(&mut self, quote: Lit) {
        loop {
            let save = self.pos;
            if self.not_pred(|p| p.lit(quote)) && self.any() {
                continue;
            }
            self.pos = save;
            break;
        }
    }
}

/// One step of an operator's sequence.
#[derive(Clone, Copy)]
enum Step {
    /// `_`
    Ws,
    /// `_?`
    WsOpt,
    /// A literal.
    Lit(Lit),
}

/// pigeon's position of byte offset `at`: line and column as its reader counts them (columns in
/// characters, from 1; a newline character itself sits at column 0 of the following line).
fn line_col(src: &str, at: usize) -> (usize, usize) {
    let (mut line, mut col) = (1, 0);
    for (i, ch) in src.char_indices() {
        if i > at {
            break;
        }
        col += 1;
        if ch == '\n' {
            line += 1;
            col = 0;
        }
    }
    if at >= src.len() {
        col += 1;
    }
    (line, col)
}

/// Go's `strconv.Unquote` for the two forms the grammar produces (`` `raw` `` and `"escaped"`).
fn go_unquote(text: &str) -> Option<String> {
    if let Some(raw) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        // Carriage returns are discarded from raw strings.
        return Some(raw.chars().filter(|&c| c != '\r').collect());
    }
    let body = text.strip_prefix('"')?.strip_suffix('"')?;
    if !body.contains('\\') && !body.contains('\n') {
        return Some(body.to_string());
    }
    let bytes = body.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' | b'"' => return None,
            b'\\' => {
                let esc = *bytes.get(i + 1)?;
                i += 2;
                match esc {
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(0x0b),
                    b'\\' => out.push(b'\\'),
                    b'"' => out.push(b'"'),
                    b'x' | b'u' | b'U' => {
                        let n = match esc {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let digits = bytes.get(i..i + n)?;
                        let mut v: u32 = 0;
                        for &d in digits {
                            v = (v << 4) | char::from(d).to_digit(16)?;
                        }
                        i += n;
                        if esc == b'x' {
                            // A single byte, possibly not UTF-8.
                            out.push(u8::try_from(v).ok()?);
                        } else {
                            let c = char::from_u32(v)?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                    b'0'..=b'7' => {
                        let digits = bytes.get(i..i + 2)?;
                        let mut v = u32::from(esc - b'0');
                        for &d in digits {
                            if !(b'0'..=b'7').contains(&d) {
                                return None;
                            }
                            v = (v << 3) | u32::from(d - b'0');
                        }
                        i += 2;
                        out.push(u8::try_from(v).ok()?);
                    }
                    _ => return None,
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(path: &[&str], op: Op, value: Option<&str>) -> Node {
        Node::Match {
            path: path.iter().map(|s| s.to_string()).collect(),
            op,
            value: value.map(str::to_string),
        }
    }

    #[test]
    fn filter_parses_every_operator() {
        let cases: &[(&str, Node)] = &[
            ("a == b", m(&["a"], Op::Equal, Some("b"))),
            ("a==b", m(&["a"], Op::Equal, Some("b"))),
            ("a != 1", m(&["a"], Op::NotEqual, Some("1"))),
            ("a contains x", m(&["a"], Op::In, Some("x"))),
            ("a not contains x", m(&["a"], Op::NotIn, Some("x"))),
            ("x in a", m(&["a"], Op::In, Some("x"))),
            ("\"x\" not in a", m(&["a"], Op::NotIn, Some("x"))),
            ("a is empty", m(&["a"], Op::IsEmpty, None)),
            ("a is not empty", m(&["a"], Op::IsNotEmpty, None)),
            ("a matches `^x`", m(&["a"], Op::Matches, Some("^x"))),
            ("a not matches \"^x\"", m(&["a"], Op::NotMatches, Some("^x"))),
        ];
        for (src, want) in cases {
            assert_eq!(parse(src).as_ref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn filter_selectors_and_values() {
        assert_eq!(
            parse(r#"Service.Meta["a b"].c_1 == -1.5"#),
            Ok(m(&["Service", "Meta", "a b", "c_1"], Op::Equal, Some("-1.5")))
        );
        assert_eq!(
            parse(r#"Meta[ "k" ] == x"#),
            Ok(m(&["Meta", "k"], Op::Equal, Some("x")))
        );
        // A selector in value position is its dotted spelling.
        assert_eq!(parse(r#"a == b.c["d"]"#), Ok(m(&["a"], Op::Equal, Some("b.c.d"))));
        assert_eq!(parse("a == 0"), Ok(m(&["a"], Op::Equal, Some("0"))));
        assert_eq!(parse("(a == 10)"), Ok(m(&["a"], Op::Equal, Some("10"))));
        assert_eq!(parse(" \t\na == 1 \n"), Ok(m(&["a"], Op::Equal, Some("1"))));
        // Keywords are fine as identifiers where an identifier is expected.
        assert_eq!(parse("not == in"), Ok(m(&["not"], Op::Equal, Some("in"))));
        assert_eq!(parse("notable == 1"), Ok(m(&["notable"], Op::Equal, Some("1"))));
    }

    #[test]
    fn filter_string_escapes() {
        assert_eq!(go_unquote(r#""a\tb\"""#).as_deref(), Some("a\tb\""));
        // What the grammar yields for `"a\"`: the escape eats the closing quote.
        assert_eq!(go_unquote(r#""a\""#), None);
        assert_eq!(
            go_unquote(r#""a\tb\\c\x41\101\u00e9\U0001F600""#).as_deref(),
            Some("a\tb\\cAAé😀")
        );
        assert_eq!(go_unquote("`a\\t\rb`").as_deref(), Some("a\\tb"));
        assert_eq!(go_unquote(r#""\q""#), None);
        assert_eq!(go_unquote(r#""\'""#), None);
        assert_eq!(go_unquote(r#""\ud800""#), None);
        assert_eq!(go_unquote(r#""\400""#), None);
        assert_eq!(go_unquote("\"a\nb\""), None);
        assert_eq!(go_unquote(r#""é""#).as_deref(), Some("é"));
    }

    #[test]
    fn filter_structure_and_precedence() {
        let a = || m(&["a"], Op::Equal, Some("1"));
        let b = || m(&["b"], Op::Equal, Some("1"));
        let c = || m(&["c"], Op::Equal, Some("1"));
        assert_eq!(
            parse("a == 1 or b == 1 and c == 1"),
            Ok(Node::Or(vec![a(), Node::And(vec![b(), c()])]))
        );
        assert_eq!(
            parse("not a == 1 and b == 1"),
            Ok(Node::And(vec![Node::Not(Box::new(a())), b()]))
        );
        assert_eq!(
            parse("(a == 1 or b == 1) and c == 1"),
            Ok(Node::And(vec![Node::Or(vec![a(), b()]), c()]))
        );
        assert_eq!(
            parse("a == 1 and b == 1 and c == 1"),
            Ok(Node::And(vec![a(), b(), c()]))
        );
        assert_eq!(parse("not not a == 1"), Ok(a()));
        assert_eq!(parse("not not not a == 1"), Ok(Node::Not(Box::new(a()))));
        assert_eq!(parse("((a == 1))"), Ok(a()));
    }

    #[test]
    fn filter_no_match_errors_like_pigeon() {
        assert_eq!(
            parse("ID == web-1").unwrap_err(),
            r#"1:10 (9): no match found, expected: ".", "[", [ \t\r\n], [a-zA-Z0-9_] or EOF"#
        );
        assert_eq!(
            parse("Service == web foo").unwrap_err(),
            r#"1:16 (15): no match found, expected: "and", "or", [ \t\r\n] or EOF"#
        );
        assert_eq!(
            parse("== x").unwrap_err(),
            r#"1:1 (0): no match found, expected: "(", "-", "0", "\"", "`", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#
        );
        assert_eq!(
            parse("a ==").unwrap_err(),
            r#"1:5 (4): no match found, expected: "-", "0", "\"", "`", [ \t\r\n], [1-9] or [a-zA-Z]"#
        );
        // Line/column of a position on a later line.
        assert_eq!(
            parse("a == 1\n  and b - 1").unwrap_err(),
            r#"2:9 (15): no match found, expected: "!=", "==", "contains", "in", "is", "matches", "not" or [ \t\r\n]"#
        );
        // `not` needs whitespace after it.
        assert!(parse("not(a == 1)").is_err());
    }

    #[test]
    fn filter_custom_errors_like_pigeon() {
        assert_eq!(
            parse("(a == 1").unwrap_err(),
            "1:8 (7): rule grouping: Unmatched parentheses"
        );
        assert_eq!(
            parse("a == \"abc").unwrap_err(),
            "1:10 (9): rule string: Unterminated string literal"
        );
        assert_eq!(
            parse("a == 1x").unwrap_err(),
            "1:7 (6): rule number: Invalid number literal"
        );
        assert_eq!(
            parse("a[b] == 1").unwrap_err(),
            "1:3 (2): rule index: Invalid index"
        );
        assert_eq!(
            parse("a[\"b\" == 1").unwrap_err(),
            "1:7 (6): rule index: Unclosed index expression"
        );
        assert_eq!(
            parse("x in 1").unwrap_err(),
            "1:6 (5): rule match: Invalid selector"
        );
        assert_eq!(
            parse("a == \"\\q\"").unwrap_err(),
            "1:6 (5): rule string: invalid syntax"
        );
    }

    #[test]
    fn filter_nesting_is_bounded() {
        let ok = format!(
            "{}a == 1{}",
            "(".repeat(MAX_NESTING - 1),
            ")".repeat(MAX_NESTING - 1)
        );
        assert!(parse(&ok).is_ok());
        let deep = format!(
            "{}a == 1{}",
            "(".repeat(MAX_NESTING + 5),
            ")".repeat(MAX_NESTING + 5)
        );
        assert!(parse(&deep).unwrap_err().contains("nested too deeply"));
        let nots = format!("{}a == 1", "not ".repeat(MAX_NESTING + 5));
        assert!(parse(&nots).unwrap_err().contains("nested too deeply"));
        let unclosed = "(".repeat(10_000);
        assert!(parse(&unclosed).is_err());
        // Long chains are loops, not recursion.
        let chain = vec!["a == 1"; 20_000].join(" and ");
        assert!(matches!(parse(&chain), Ok(Node::And(v)) if v.len() == 20_000));
    }
}
