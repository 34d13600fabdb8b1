//! A small regular-expression engine for Go-syntax patterns (`consul members -status`,
//! user event filters), accepting the commonly used part of Go's RE2 syntax and reporting
//! errors with Go's `regexp` wording (`error parsing regexp: missing closing ): `(``).
//!
//! Supported: literals, `.`, `^`, `$`, `|`, groups (`(...)`, `(?:...)`, `(?P<name>...)`,
//! `(?<name>...)`), flags `i`, `m`, `s`, `U` (`(?i)`, `(?i:...)`), the repetitions `*`,
//! `+`, `?`, `{n}`, `{n,}`, `{n,m}` (lazy forms too), bracket classes with ranges, negation
//! and `[:alpha:]`-style names, the escapes `\d \D \w \W \s \S \b \B \A \z`, `\n \t \r \f
//! \v \a`, `\xHH`, `\x{H...}` and escaped punctuation. Unicode classes (`\pL`) are not.
//!
//! Matching is unanchored, like Go's `MatchString`, and runs as a Pike VM, so it takes
//! time linear in the input whatever the pattern.

use std::fmt;

/// Go's limit on `{n,m}` counts.
const MAX_REPEAT: u32 = 1000;

/// A compiled expression.
#[derive(Debug)]
pub(crate) struct Regexp {
    prog: Vec<Inst>,
}

/// Why an expression did not compile, shown as Go's `*syntax.Error`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Error {
    code: &'static str,
    expr: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

/// A set of characters: inclusive ranges, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
    fold: bool,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let hit = |c: char| self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        let found = hit(c) || (self.fold && (c.to_lowercase().any(hit) || c.to_uppercase().any(hit)));
        found != self.negated
    }
}

/// Zero-width assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assert {
    BeginText,
    EndText,
    BeginLine,
    EndLine,
    WordBoundary,
    NotWordBoundary,
}

/// The parsed expression.
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Class(Class),
    Assert(Assert),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

/// Parser flags (`(?imsU)`).
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    fold: bool,
    multi_line: bool,
    dot_nl: bool,
}

/// One VM instruction.
#[derive(Debug)]
enum Inst {
    Class(Class),
    Assert(Assert),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

impl Regexp {
    /// Compiles `expr` (Go's `regexp.Compile`).
    pub(crate) fn new(expr: &str) -> Result<Self, Error> {
        let mut parser = Parser {
            chars: expr.chars().collect(),
            pos: 0,
            expr,
        };
        let node = parser.parse_alt(Flags::default(), 0)?;
        if parser.pos < parser.chars.len() {
            // Only an unbalanced ')' stops the top level early.
            return Err(parser.error("unexpected )", expr.to_string()));
        }
        let mut prog = Vec::new();
        compile(&node, &mut prog);
        prog.push(Inst::Match);
        Ok(Self { prog })
    }

    /// Whether `text` contains a match (Go's `MatchString`).
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut marks = vec![0usize; self.prog.len()];
        let mut current = Vec::new();
        let mut next = Vec::new();
        for pos in 0..=chars.len() {
            let generation = pos + 1;
            if self.add(&mut current, &mut marks, generation, 0, pos, &chars) {
                return true;
            }
            let Some(&c) = chars.get(pos) else {
                break;
            };
            next.clear();
            for &pc in &current {
                if let Inst::Class(class) = &self.prog[pc] {
                    if class.matches(c)
                        && self.add(&mut next, &mut marks, generation + 1, pc + 1, pos + 1, &chars)
                    {
                        return true;
                    }
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Adds the thread at `pc` and everything reachable from it without consuming input;
    /// returns whether a match was reached.
    fn add(
        &self,
        list: &mut Vec<usize>,
        marks: &mut [usize],
        generation: usize,
        pc: usize,
        pos: usize,
        chars: &[char],
    ) -> bool {
        if marks[pc] == generation {
            return false;
        }
        marks[pc] = generation;
        match &self.prog[pc] {
            Inst::Match => true,
            Inst::Jmp(to) => self.add(list, marks, generation, *to, pos, chars),
            Inst::Split(a, b) => {
                self.add(list, marks, generation, *a, pos, chars)
                    || self.add(list, marks, generation, *b, pos, chars)
            }
            Inst::Assert(kind) => {
                assertion_holds(*kind, pos, chars) && self.add(list, marks, generation, pc + 1, pos, chars)
            }
            Inst::Class(_) => {
                list.push(pc);
                false
            }
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn assertion_holds(kind: Assert, pos: usize, chars: &[char]) -> bool {
    let before = pos.checked_sub(1).and_then(|i| chars.get(i)).copied();
    let after = chars.get(pos).copied();
    match kind {
        Assert::BeginText => pos == 0,
        Assert::EndText => pos == chars.len(),
        Assert::BeginLine => before.is_none_or(|c| c == '\n'),
        Assert::EndLine => after.is_none_or(|c| c == '\n'),
        Assert::WordBoundary | Assert::NotWordBoundary => {
            let boundary = before.is_some_and(is_word) != after.is_some_and(is_word);
            boundary == (kind == Assert::WordBoundary)
        }
    }
}

/// Appends the code for `node` to `prog`.
fn compile(node: &Node, prog: &mut Vec<Inst>) {
    match node {
        Node::Empty => {}
        Node::Class(class) => prog.push(Inst::Class(class.clone())),
        Node::Assert(kind) => prog.push(Inst::Assert(*kind)),
        Node::Concat(nodes) => nodes.iter().for_each(|n| compile(n, prog)),
        Node::Alt(nodes) => {
            // split L1, next; L1: a; jmp end; next: split L2, ... ; last alternative plain.
            let mut jumps = Vec::new();
            for (i, n) in nodes.iter().enumerate() {
                if i + 1 == nodes.len() {
                    compile(n, prog);
                } else {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(n, prog);
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let next = prog.len();
                    prog[split] = Inst::Split(split + 1, next);
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat(inner, min, max) => {
            for _ in 0..*min {
                compile(inner, prog);
            }
            match max {
                None => {
                    // L: split body, end; body; jmp L
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(inner, prog);
                    prog.push(Inst::Jmp(split));
                    let end = prog.len();
                    prog[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    // Nested optionals: (x(x(x)?)?)?
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(0, 0));
                        compile(inner, prog);
                    }
                    let end = prog.len();
                    for s in splits {
                        prog[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    expr: &'a str,
}

impl Parser<'_> {
    fn error(&self, code: &'static str, expr: String) -> Error {
        Error { code, expr }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to.min(self.chars.len())].iter().collect()
    }

    /// `a|b|...` up to a `)` (left unconsumed) or the end.
    fn parse_alt(&mut self, mut flags: Flags, depth: usize) -> Result<Node, Error> {
        let mut alternatives = Vec::new();
        loop {
            alternatives.push(self.parse_concat(&mut flags, depth)?);
            match self.peek() {
                Some('|') => self.pos += 1,
                _ => break,
            }
        }
        Ok(if alternatives.len() == 1 {
            alternatives.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(alternatives)
        })
    }

    /// A sequence of repeated atoms. `(?i)` changes `flags` for the rest of the group.
    fn parse_concat(&mut self, flags: &mut Flags, depth: usize) -> Result<Node, Error> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '|' => break,
                ')' if depth > 0 => break,
                ')' => return Err(self.error("unexpected )", self.expr.to_string())),
                _ => {}
            }
            let Some(atom) = self.parse_atom(flags, depth)? else {
                continue;
            };
            let node = self.parse_repeats(atom)?;
            items.push(node);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    /// Applies any repetition operators after an atom.
    fn parse_repeats(&mut self, mut atom: Node) -> Result<Node, Error> {
        let mut repeated_at: Option<usize> = None;
        loop {
            let op_start = self.pos;
            let (min, max) = match self.peek() {
                Some('*') => {
                    self.pos += 1;
                    (0, None)
                }
                Some('+') => {
                    self.pos += 1;
                    (1, None)
                }
                Some('?') => {
                    self.pos += 1;
                    (0, Some(1))
                }
                Some('{') => match self.parse_count()? {
                    Some(range) => range,
                    None => return Ok(atom),
                },
                _ => return Ok(atom),
            };
            if self.peek() == Some('?') {
                self.pos += 1; // lazy: same language
            }
            if let Some(prev) = repeated_at {
                return Err(self.error("invalid nested repetition operator", self.text(prev, self.pos)));
            }
            if let Some(max) = max {
                if min > max {
                    return Err(self.error("invalid repeat count", self.text(op_start, self.pos)));
                }
            }
            repeated_at = Some(op_start);
            atom = Node::Repeat(Box::new(atom), min, max);
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor; `None` (cursor unchanged) if it is a
    /// literal `{`.
    fn parse_count(&mut self) -> Result<Option<(u32, Option<u32>)>, Error> {
        let start = self.pos;
        let mut i = self.pos + 1;
        let digits = |i: &mut usize, chars: &[char]| -> Option<String> {
            let from = *i;
            while chars.get(*i).is_some_and(char::is_ascii_digit) {
                *i += 1;
            }
            (*i > from).then(|| chars[from..*i].iter().collect())
        };
        let Some(lo) = digits(&mut i, &self.chars) else {
            return Ok(None);
        };
        let hi = match self.chars.get(i) {
            Some('}') => Some(lo.clone()),
            Some(',') => {
                i += 1;
                if self.chars.get(i) == Some(&'}') {
                    None
                } else {
                    match digits(&mut i, &self.chars) {
                        Some(hi) if self.chars.get(i) == Some(&'}') => Some(hi),
                        _ => return Ok(None),
                    }
                }
            }
            _ => return Ok(None),
        };
        if self.chars.get(i) != Some(&'}') {
            return Ok(None);
        }
        self.pos = i + 1;
        let bad = || self.error("invalid repeat count", self.text(start, i + 1));
        let lo: u32 = lo.parse().map_err(|_| bad())?;
        let hi: Option<u32> = match hi {
            Some(h) => Some(h.parse().map_err(|_| bad())?),
            None => None,
        };
        if lo > MAX_REPEAT || hi.is_some_and(|h| h > MAX_REPEAT || h < lo) {
            return Err(bad());
        }
        Ok(Some((lo, hi)))
    }

    /// One atom; `None` for a flag group like `(?i)` that matches nothing.
    fn parse_atom(&mut self, flags: &mut Flags, depth: usize) -> Result<Option<Node>, Error> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Some(Node::Empty));
        };
        self.pos += 1;
        let node = match c {
            '*' | '+' | '?' => {
                return Err(self.error("missing argument to repetition operator", c.to_string()));
            }
            '.' => {
                let mut class = Class {
                    ranges: vec![('\0', char::MAX)],
                    negated: false,
                    fold: false,
                };
                if !flags.dot_nl {
                    class = Class {
                        ranges: vec![('\n', '\n')],
                        negated: true,
                        fold: false,
                    };
                }
                Node::Class(class)
            }
            '^' => Node::Assert(if flags.multi_line {
                Assert::BeginLine
            } else {
                Assert::BeginText
            }),
            '$' => Node::Assert(if flags.multi_line {
                Assert::EndLine
            } else {
                Assert::EndText
            }),
            '[' => Node::Class(self.parse_class(*flags, start)?),
            '\\' => self.parse_escape(*flags, start)?,
            '(' => return self.parse_group(flags, depth, start),
            c => literal(c, flags.fold),
        };
        Ok(Some(node))
    }

    /// After `(`: a group, or a flag setting.
    fn parse_group(&mut self, flags: &mut Flags, depth: usize, start: usize) -> Result<Option<Node>, Error> {
        let mut inner_flags = *flags;
        if self.peek() == Some('?') {
            self.pos += 1;
            // Named capture: (?P<name>...) or (?<name>...).
            let named = if self.peek() == Some('P') && self.chars.get(self.pos + 1) == Some(&'<') {
                self.pos += 2;
                true
            } else if self.peek() == Some('<') {
                self.pos += 1;
                true
            } else {
                false
            };
            if named {
                let name_start = self.pos;
                while self.peek().is_some_and(|c| c != '>') {
                    self.pos += 1;
                }
                let name = self.text(name_start, self.pos);
                if self.peek() != Some('>') {
                    return Err(self.error("invalid named capture", self.text(start, self.pos)));
                }
                self.pos += 1;
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(self.error("invalid named capture", self.text(start, self.pos)));
                }
            } else {
                let mut negate = false;
                loop {
                    let Some(c) = self.peek() else {
                        return Err(self.error("missing closing )", self.text(start, self.pos)));
                    };
                    self.pos += 1;
                    match c {
                        'i' => inner_flags.fold = !negate,
                        'm' => inner_flags.multi_line = !negate,
                        's' => inner_flags.dot_nl = !negate,
                        'U' => {}
                        '-' if !negate => negate = true,
                        ')' => {
                            // (?flags): applies to the rest of the enclosing group.
                            *flags = inner_flags;
                            return Ok(None);
                        }
                        ':' => break,
                        _ => {
                            return Err(
                                self.error("invalid or unsupported Perl syntax", self.text(start, self.pos))
                            );
                        }
                    }
                }
            }
        }
        let node = self.parse_alt(inner_flags, depth + 1)?;
        if self.peek() != Some(')') {
            return Err(self.error("missing closing )", self.expr.to_string()));
        }
        self.pos += 1;
        Ok(Some(node))
    }

    /// After `\` outside a class.
    fn parse_escape(&mut self, flags: Flags, start: usize) -> Result<Node, Error> {
        let Some(c) = self.peek() else {
            return Err(self.error("trailing backslash at end of expression", String::new()));
        };
        self.pos += 1;
        Ok(match c {
            'A' => Node::Assert(Assert::BeginText),
            'z' => Node::Assert(Assert::EndText),
            'b' => Node::Assert(Assert::WordBoundary),
            'B' => Node::Assert(Assert::NotWordBoundary),
            _ => {
                self.pos -= 1;
                match self.parse_class_escape(start)? {
                    ClassItem::Char(c) => literal(c, flags.fold),
                    ClassItem::Set(ranges, negated) => Node::Class(Class {
                        ranges,
                        negated,
                        fold: false,
                    }),
                }
            }
        })
    }

    /// The escape after a `\` (cursor on the character after it) that may appear in a class.
    fn parse_class_escape(&mut self, start: usize) -> Result<ClassItem, Error> {
        let Some(c) = self.peek() else {
            return Err(self.error("trailing backslash at end of expression", String::new()));
        };
        self.pos += 1;
        let set = |name: &str, negated: bool| ClassItem::Set(perl_class(name), negated);
        Ok(match c {
            'd' => set("d", false),
            'D' => set("d", true),
            'w' => set("w", false),
            'W' => set("w", true),
            's' => set("s", false),
            'S' => set("s", true),
            'n' => ClassItem::Char('\n'),
            't' => ClassItem::Char('\t'),
            'r' => ClassItem::Char('\r'),
            'f' => ClassItem::Char('\x0c'),
            'v' => ClassItem::Char('\x0b'),
            'a' => ClassItem::Char('\x07'),
            'x' => ClassItem::Char(self.parse_hex(start)?),
            c if c.is_ascii_punctuation() => ClassItem::Char(c),
            _ => return Err(self.error("invalid escape sequence", self.text(start, self.pos))),
        })
    }

    /// `HH` or `{H...}` after `\x`.
    fn parse_hex(&mut self, start: usize) -> Result<char, Error> {
        let bad = |p: &Self| p.error("invalid escape sequence", p.text(start, p.pos));
        let digits: String = if self.peek() == Some('{') {
            self.pos += 1;
            let from = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let digits = self.text(from, self.pos);
            if self.peek() != Some('}') || digits.is_empty() {
                return Err(bad(self));
            }
            self.pos += 1;
            digits
        } else {
            let from = self.pos;
            for _ in 0..2 {
                if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    return Err(bad(self));
                }
                self.pos += 1;
            }
            self.text(from, self.pos)
        };
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| bad(self))
    }

    /// After `[`: a bracket class.
    fn parse_class(&mut self, flags: Flags, start: usize) -> Result<Class, Error> {
        let mut class = Class {
            ranges: Vec::new(),
            negated: false,
            fold: flags.fold,
        };
        let mut sets: Vec<(Vec<(char, char)>, bool)> = Vec::new();
        if self.peek() == Some('^') {
            self.pos += 1;
            class.negated = true;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("missing closing ]", self.text(start, self.pos)));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            let item_start = self.pos;
            // [:name:]
            if c == '[' && self.chars.get(self.pos + 1) == Some(&':') {
                let rest = self.text(self.pos + 2, self.chars.len());
                if let Some(end) = rest.find(":]") {
                    let name = &rest[..end];
                    let (negated, name) = match name.strip_prefix('^') {
                        Some(n) => (true, n),
                        None => (false, name),
                    };
                    let Some(ranges) = posix_class(name) else {
                        return Err(self.error(
                            "invalid character class range",
                            self.text(item_start, item_start + end + 4),
                        ));
                    };
                    self.pos += name.chars().count() + usize::from(negated) + 4;
                    sets.push((ranges, negated));
                    continue;
                }
            }
            let lo = match self.class_char()? {
                ClassItem::Set(ranges, negated) => {
                    sets.push((ranges, negated));
                    continue;
                }
                ClassItem::Char(c) => c,
            };
            // A range, unless '-' is followed by the closing ']'.
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&c| c != ']') {
                self.pos += 1;
                let hi = match self.class_char()? {
                    ClassItem::Char(c) => c,
                    ClassItem::Set(..) => {
                        return Err(
                            self.error("invalid character class range", self.text(item_start, self.pos))
                        );
                    }
                };
                if hi < lo {
                    return Err(self.error("invalid character class range", self.text(item_start, self.pos)));
                }
                class.ranges.push((lo, hi));
            } else {
                class.ranges.push((lo, lo));
            }
        }
        // Fold the Perl/POSIX sets into plain ranges.
        for (ranges, negated) in sets {
            if negated {
                class.ranges.extend(complement(&ranges));
            } else {
                class.ranges.extend(ranges);
            }
        }
        Ok(class)
    }

    /// One character (or escaped set) inside a bracket class.
    fn class_char(&mut self) -> Result<ClassItem, Error> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.error("missing closing ]", self.text(start, self.pos)));
        };
        self.pos += 1;
        if c == '\\' {
            return self.parse_class_escape(start);
        }
        Ok(ClassItem::Char(c))
    }
}

/// What an escape inside a class denotes.
enum ClassItem {
    Char(char),
    Set(Vec<(char, char)>, bool),
}

fn literal(c: char, fold: bool) -> Node {
    Node::Class(Class {
        ranges: vec![(c, c)],
        negated: false,
        fold,
    })
}

/// `\d`, `\w`, `\s` (ASCII, as in RE2).
fn perl_class(name: &str) -> Vec<(char, char)> {
    match name {
        "d" => vec![('0', '9')],
        "w" => vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
        _ => vec![('\t', '\n'), ('\x0c', '\r'), (' ', ' ')],
    }
}

/// `[:name:]` classes.
fn posix_class(name: &str) -> Option<Vec<(char, char)>> {
    Some(match name {
        "alnum" => vec![('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => vec![('A', 'Z'), ('a', 'z')],
        "ascii" => vec![('\0', '\x7f')],
        "blank" => vec![('\t', '\t'), (' ', ' ')],
        "cntrl" => vec![('\0', '\x1f'), ('\x7f', '\x7f')],
        "digit" => vec![('0', '9')],
        "graph" => vec![('!', '~')],
        "lower" => vec![('a', 'z')],
        "print" => vec![(' ', '~')],
        "punct" => vec![('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => vec![('\t', '\r'), (' ', ' ')],
        "upper" => vec![('A', 'Z')],
        "word" => vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
        "xdigit" => vec![('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

/// The characters not in `ranges`.
fn complement(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::new();
    // The first character not yet covered or emitted.
    let mut next = Some('\0');
    for (lo, hi) in sorted {
        let Some(n) = next else {
            break;
        };
        if lo > n {
            if let Some(before) = prev_char(lo) {
                out.push((n, before));
            }
        }
        if hi >= n {
            next = next_char(hi);
        }
    }
    if let Some(n) = next {
        out.push((n, char::MAX));
    }
    out
}

/// The `char` after `c`, skipping surrogates.
fn next_char(c: char) -> Option<char> {
    match c {
        '\u{D7FF}' => Some('\u{E000}'),
        char::MAX => None,
        c => char::from_u32(c as u32 + 1),
    }
}

/// The `char` before `c`, skipping surrogates.
fn prev_char(c: char) -> Option<char> {
    match c {
        '\0' => None,
        '\u{E000}' => Some('\u{D7FF}'),
        c => char::from_u32(c as u32 - 1),
    }
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

    #[test]
    fn complements_cover_the_rest() {
        let c = complement(&[('b', 'c')]);
        assert_eq!(c[0], ('\0', 'a'));
        assert_eq!(c[1], ('d', char::MAX));
        assert_eq!(complement(&[('\0', 'a'), ('b', 'z')]), vec![('{', char::MAX)]);
        assert!(complement(&[('\0', char::MAX)]).is_empty());
    }
}
