//! Go `flag`-package compatible parsing of command-line flags, and Consul's two ways of
//! describing them: the `Usage:` dump Go prints after a bad flag (`FlagSet.PrintDefaults`)
//! and the `-help` text built by Consul's `command/flags/usage.go`.
//!
//! Parsing follows `flag.FlagSet.parseOne`: `-f`, `--f`, `-f=v` and `-f v` are all accepted,
//! boolean flags never take the next argument, `--` ends the flags, and parsing stops at the
//! first argument that is not a flag (a lone `-` is an argument).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How a flag takes and shows its value (Go's `flag.Value` types that matter here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Go `flag.BoolVar`: needs no argument, `-f=false` allowed.
    Bool,
    /// Consul's `flags.BoolValue` (`-stale`): like [`Kind::Bool`], but a bad value is
    /// reported with the raw `strconv.ParseBool` error.
    ConsulBool,
    /// Go `flag.Uint64Var` (`strconv.ParseUint(s, 0, 64)`: `0x`, `0o`, `0b` and `0` prefixes).
    Uint,
    /// Go `flag.IntVar` (`strconv.ParseInt(s, 0, 64)`, sign allowed).
    Int,
    /// Go `flag.StringVar`.
    Str,
    /// Consul's `flags.StringValue` (the HTTP flags): shown as `value` in usage texts.
    ConsulStr,
    /// Consul's `flags.AppendSliceValue`: repeatable, every value is kept in order.
    List,
    /// Consul's `flags.FlagMapValue`: repeatable `key=value`; a later key replaces an
    /// earlier one.
    Map,
    /// Go `flag.DurationVar` (`time.ParseDuration`).
    Duration,
}

/// One flag definition.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flag {
    /// Name without the dash.
    pub(crate) name: &'static str,
    /// Value type.
    pub(crate) kind: Kind,
    /// Default value as Go would print it (`""`, `"false"`, `"0"`, `"/"`).
    pub(crate) default: &'static str,
    /// Usage text; a back-quoted word names the value in usage output, as in Go.
    pub(crate) usage: &'static str,
    /// Listed under "HTTP API Options" rather than "Command Options" in help.
    pub(crate) http: bool,
}

/// A parsed flag value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Bool(bool),
    Uint(u64),
    Int(i64),
    Str(String),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

/// Why parsing stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// `-h` or `-help` was given and is not a defined flag (Go's `flag.ErrHelp`).
    Help,
    /// Any other problem, with Go's message (`flag provided but not defined: -x`).
    Invalid(String),
}

/// A set of flag definitions, kept sorted by name like Go's `VisitAll`.
#[derive(Debug)]
pub(crate) struct FlagSet {
    flags: Vec<Flag>,
}

/// The result of a successful parse: the flags that were set and the remaining arguments.
#[derive(Debug)]
pub(crate) struct Parsed {
    values: BTreeMap<&'static str, Value>,
    /// Arguments left after the flags (Go's `FlagSet.Args()`).
    pub(crate) args: Vec<String>,
}

impl Parsed {
    /// The value of a boolean flag (false when not given).
    pub(crate) fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }

    /// The value of an unsigned flag (0 when not given; every flag defined here defaults to 0).
    pub(crate) fn uint(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(Value::Uint(n)) => *n,
            _ => 0,
        }
    }

    /// The value of a signed flag (0 when not given; every flag defined here defaults to 0).
    pub(crate) fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        }
    }

    /// The value of a boolean flag, or `default` when it was not given.
    pub(crate) fn bool_or(&self, name: &str, default: bool) -> bool {
        match self.values.get(name) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    /// The value of a signed flag, or `default` when it was not given.
    pub(crate) fn int_or(&self, name: &str, default: i64) -> i64 {
        match self.values.get(name) {
            Some(Value::Int(n)) => *n,
            _ => default,
        }
    }

    /// The value of a duration flag if it was given.
    pub(crate) fn duration(&self, name: &str) -> Option<std::time::Duration> {
        match self.values.get(name) {
            Some(Value::Str(s)) => rconsul_compat::duration::parse_std(s).ok(),
            _ => None,
        }
    }

    /// The value of a string flag if it was given on the command line (even if empty).
    pub(crate) fn string(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The values of a repeatable flag, in command-line order (empty when not given).
    pub(crate) fn list(&self, name: &str) -> &[String] {
        match self.values.get(name) {
            Some(Value::List(v)) => v,
            _ => &[],
        }
    }

    /// The `key=value` pairs of a map flag, sorted by key (empty when not given).
    pub(crate) fn map(&self, name: &str) -> BTreeMap<String, String> {
        match self.values.get(name) {
            Some(Value::Map(m)) => m.clone(),
            _ => BTreeMap::new(),
        }
    }
}

impl FlagSet {
    /// Builds a set from definitions in any order.
    pub(crate) fn new(mut flags: Vec<Flag>) -> Self {
        flags.sort_by(|a, b| a.name.cmp(b.name));
        Self { flags }
    }

    fn lookup(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// Parses `args` the way Go's `FlagSet.Parse` does.
    pub(crate) fn parse(&self, args: &[String]) -> Result<Parsed, ParseError> {
        let mut values = BTreeMap::new();
        let mut i = 0;
        while i < args.len() {
            let s = args[i].as_str();
            let bytes = s.as_bytes();
            if bytes.len() < 2 || bytes[0] != b'-' {
                break;
            }
            let mut minuses = 1;
            if bytes[1] == b'-' {
                minuses = 2;
                if bytes.len() == 2 {
                    // "--" terminates the flags.
                    i += 1;
                    break;
                }
            }
            let body = &s[minuses..];
            if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
                return Err(ParseError::Invalid(format!("bad flag syntax: {s}")));
            }
            i += 1;
            // '=' cannot be first; it is ASCII, so slicing around it is safe.
            let (name, inline) = match body.bytes().skip(1).position(|b| b == b'=') {
                Some(p) => (&body[..p + 1], Some(&body[p + 2..])),
                None => (body, None),
            };
            let Some(flag) = self.lookup(name) else {
                if name == "help" || name == "h" {
                    return Err(ParseError::Help);
                }
                return Err(ParseError::Invalid(format!(
                    "flag provided but not defined: -{name}"
                )));
            };
            let value = match flag.kind {
                Kind::Bool | Kind::ConsulBool => {
                    let raw = inline.unwrap_or("true");
                    match parse_go_bool(raw) {
                        Some(b) => Value::Bool(b),
                        None => {
                            let why = if flag.kind == Kind::Bool {
                                "parse error".to_string()
                            } else {
                                format!("strconv.ParseBool: parsing {raw:?}: invalid syntax")
                            };
                            return Err(ParseError::Invalid(format!(
                                "invalid boolean value {raw:?} for -{name}: {why}"
                            )));
                        }
                    }
                }
                Kind::Uint
                | Kind::Int
                | Kind::Str
                | Kind::ConsulStr
                | Kind::List
                | Kind::Map
                | Kind::Duration => {
                    let raw = match inline {
                        Some(v) => v.to_string(),
                        None if i < args.len() => {
                            i += 1;
                            args[i - 1].clone()
                        }
                        None => return Err(ParseError::Invalid(format!("flag needs an argument: -{name}"))),
                    };
                    let invalid = |why: &str| {
                        ParseError::Invalid(format!("invalid value {raw:?} for flag -{name}: {why}"))
                    };
                    match flag.kind {
                        Kind::Uint => Value::Uint(parse_go_uint(&raw).map_err(invalid)?),
                        Kind::Int => Value::Int(parse_go_int(&raw).map_err(invalid)?),
                        Kind::Duration => match rconsul_compat::duration::parse_std(&raw) {
                            Ok(_) => Value::Str(raw),
                            Err(_) => return Err(invalid("parse error")),
                        },
                        Kind::List => {
                            let mut list = match values.remove(flag.name) {
                                Some(Value::List(list)) => list,
                                _ => Vec::new(),
                            };
                            list.push(raw);
                            Value::List(list)
                        }
                        Kind::Map => {
                            let Some((key, value)) = raw.split_once('=') else {
                                return Err(invalid(&format!("Missing \"=\" value in argument: {raw}")));
                            };
                            let (key, value) = (key.to_string(), value.to_string());
                            let mut map = match values.remove(flag.name) {
                                Some(Value::Map(map)) => map,
                                _ => BTreeMap::new(),
                            };
                            map.insert(key, value);
                            Value::Map(map)
                        }
                        _ => Value::Str(raw),
                    }
                }
            };
            values.insert(flag.name, value);
        }
        Ok(Parsed {
            values,
            args: args[i..].to_vec(),
        })
    }

    /// Go's `FlagSet.PrintDefaults` output (what follows `Usage:` after a bad flag).
    pub(crate) fn defaults(&self) -> String {
        let mut out = String::new();
        for f in &self.flags {
            let (example, usage) = unquote_usage(f);
            let mut line = format!("  -{}", f.name);
            if !example.is_empty() {
                line.push(' ');
                line.push_str(&example);
            }
            if line.len() <= 4 {
                line.push('\t');
            } else {
                line.push_str("\n    \t");
            }
            line.push_str(&usage.replace('\n', "\n    \t"));
            let zero = matches!(f.default, "" | "false" | "0" | "0s");
            if !zero {
                if f.kind == Kind::Str {
                    let _ = write!(line, " (default {:?})", f.default);
                } else {
                    let _ = write!(line, " (default {})", f.default);
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// Consul's `flags.Usage(help, flags)`: the trimmed help text followed by the
    /// "HTTP API Options" and "Command Options" sections, without trailing newlines.
    pub(crate) fn usage(&self, help: &str) -> String {
        let mut out = String::new();
        out.push_str(help.trim());
        out.push_str("\n\n");
        for (title, http) in [("HTTP API Options", true), ("Command Options", false)] {
            let flags: Vec<&Flag> = self.flags.iter().filter(|f| f.http == http).collect();
            if flags.is_empty() {
                continue;
            }
            out.push_str(title);
            out.push_str("\n\n");
            for f in flags {
                let (example, usage) = unquote_usage(f);
                if example.is_empty() {
                    let _ = writeln!(out, "  -{}", f.name);
                } else {
                    let _ = writeln!(out, "  -{}=<{}>", f.name, example);
                }
                out.push_str(&wrap_at_length(&usage, 5));
                out.push_str("\n\n");
            }
        }
        out.trim_end_matches('\n').to_string()
    }
}

/// Go's `flag.UnquoteUsage`: the value name (a back-quoted word, else one from the type)
/// and the usage text with the back quotes removed.
fn unquote_usage(f: &Flag) -> (String, String) {
    let usage = f.usage;
    if let Some(start) = usage.find('`') {
        if let Some(len) = usage[start + 1..].find('`') {
            let name = &usage[start + 1..start + 1 + len];
            let text = format!("{}{}{}", &usage[..start], name, &usage[start + 2 + len..]);
            return (name.to_string(), text);
        }
    }
    let name = match f.kind {
        Kind::Bool | Kind::ConsulBool => "",
        Kind::Uint => "uint",
        Kind::Int => "int",
        Kind::Str => "string",
        Kind::ConsulStr | Kind::List | Kind::Map => "value",
        Kind::Duration => "duration",
    };
    (name.to_string(), usage.to_string())
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`, with the error text Go's `flag` package prints.
fn parse_go_uint(s: &str) -> Result<u64, &'static str> {
    const SYNTAX: &str = "parse error";
    let lower = s.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest, true)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest, true)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.contains('_')
        && ((digits.starts_with('_') && !prefixed) || digits.ends_with('_') || digits.contains("__"))
    {
        return Err(SYNTAX);
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(SYNTAX);
    }
    u64::from_str_radix(&digits, radix).map_err(|_| "value out of range")
}

/// Go's `strconv.ParseInt(s, 0, 64)`, with the error text Go's `flag` package prints.
fn parse_go_int(s: &str) -> Result<i64, &'static str> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.starts_with(['+', '-']) {
        return Err("parse error");
    }
    let magnitude = parse_go_uint(digits)?;
    if negative {
        if magnitude == i64::MIN.unsigned_abs() {
            return Ok(i64::MIN);
        }
        i64::try_from(magnitude)
            .map(|m| -m)
            .map_err(|_| "value out of range")
    } else {
        i64::try_from(magnitude).map_err(|_| "value out of range")
    }
}

/// Consul's `wrapAtLength`: wraps to 72 columns including `pad` leading spaces.
fn wrap_at_length(s: &str, pad: usize) -> String {
    let indent = " ".repeat(pad);
    wrap(s, 72 - pad)
        .split('\n')
        .map(|line| format!("{indent}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `github.com/kr/text.Wrap`: breaks `s` into lines of at most `lim` bytes with minimal
/// raggedness (sum of squared shortfalls), as Consul's help texts are wrapped.
fn wrap(s: &str, lim: usize) -> String {
    const PENALTY: i64 = 100_000;
    let flat = s.trim().replace('\n', " ");
    let words: Vec<&str> = flat.split(' ').collect();
    let n = words.len();
    // prefix[i] = total length of words[..i]; a line of words i..=j is
    // prefix[j+1] - prefix[i] bytes plus (j - i) separating spaces.
    let mut prefix = vec![0usize; n + 1];
    for (i, w) in words.iter().enumerate() {
        prefix[i + 1] = prefix[i] + w.len();
    }
    let length = |i: usize, j: usize| (prefix[j + 1] - prefix[i] + (j - i)) as i64;
    let lim = lim as i64;
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut next_break = vec![n; n];
    for i in (0..n).rev() {
        if length(i, n - 1) <= lim || i == n - 1 {
            cost[i] = 0;
            next_break[i] = n;
        } else {
            for j in i + 1..n {
                let d = lim - length(i, j - 1);
                let mut c = d * d + cost[j];
                if length(i, j - 1) > lim {
                    c += PENALTY;
                }
                if c < cost[i] {
                    cost[i] = c;
                    next_break[i] = j;
                }
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..next_break[i]].join(" "));
        i = next_break[i];
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        FlagSet::new(vec![
            Flag {
                name: "recurse",
                kind: Kind::Bool,
                default: "false",
                usage: "Recurse.",
                http: false,
            },
            Flag {
                name: "separator",
                kind: Kind::Str,
                default: "/",
                usage: "Separator.",
                http: false,
            },
            Flag {
                name: "modify-index",
                kind: Kind::Uint,
                default: "0",
                usage: "Index.",
                http: false,
            },
            Flag {
                name: "stale",
                kind: Kind::ConsulBool,
                default: "false",
                usage: "Stale.",
                http: true,
            },
            Flag {
                name: "http-addr",
                kind: Kind::ConsulStr,
                default: "",
                usage: "The `address` to use.",
                http: true,
            },
        ])
    }

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_go_flag_forms() {
        let p = set()
            .parse(&args(&[
                "--recurse",
                "-separator=:",
                "-modify-index",
                "0x10",
                "-http-addr",
                "h:1",
                "key",
                "-stale",
            ]))
            .expect("parses");
        assert!(p.bool("recurse"));
        assert_eq!(p.string("separator"), Some(":"));
        assert_eq!(p.uint("modify-index"), 16);
        assert_eq!(p.string("http-addr"), Some("h:1"));
        assert!(!p.bool("stale"), "parsing stops at the first non-flag");
        assert_eq!(p.args, args(&["key", "-stale"]));
    }

    #[test]
    fn bool_flags_do_not_take_the_next_argument() {
        let p = set().parse(&args(&["-recurse", "false"])).expect("parses");
        assert!(p.bool("recurse"));
        assert_eq!(p.args, args(&["false"]));
        let p = set().parse(&args(&["-recurse=false", "x"])).expect("parses");
        assert!(!p.bool("recurse"));
    }

    #[test]
    fn double_dash_and_lone_dash_end_flags() {
        let p = set().parse(&args(&["--", "-recurse"])).expect("parses");
        assert_eq!(p.args, args(&["-recurse"]));
        let p = set().parse(&args(&["-", "-recurse"])).expect("parses");
        assert_eq!(p.args, args(&["-", "-recurse"]));
        let p = set().parse(&args(&["-separator="])).expect("parses");
        assert_eq!(p.string("separator"), Some(""));
    }

    #[test]
    fn reports_errors_like_go() {
        let err = |v: &[&str]| set().parse(&args(v)).expect_err("must fail");
        assert_eq!(
            err(&["-bogus"]),
            ParseError::Invalid("flag provided but not defined: -bogus".into())
        );
        assert_eq!(err(&["-h"]), ParseError::Help);
        assert_eq!(err(&["--help"]), ParseError::Help);
        assert_eq!(
            err(&["-separator"]),
            ParseError::Invalid("flag needs an argument: -separator".into())
        );
        assert_eq!(
            err(&["-modify-index=abc"]),
            ParseError::Invalid("invalid value \"abc\" for flag -modify-index: parse error".into())
        );
        assert_eq!(
            err(&["-modify-index=99999999999999999999"]),
            ParseError::Invalid(
                "invalid value \"99999999999999999999\" for flag -modify-index: value out of range".into()
            )
        );
        assert_eq!(
            err(&["-recurse=yes"]),
            ParseError::Invalid("invalid boolean value \"yes\" for -recurse: parse error".into())
        );
        assert_eq!(
            err(&["-stale=yes"]),
            ParseError::Invalid(
                "invalid boolean value \"yes\" for -stale: strconv.ParseBool: parsing \"yes\": invalid syntax"
                    .into()
            )
        );
        assert_eq!(
            err(&["---x"]),
            ParseError::Invalid("bad flag syntax: ---x".into())
        );
        assert_eq!(err(&["-=x"]), ParseError::Invalid("bad flag syntax: -=x".into()));
        // Multi-byte names must not panic.
        assert_eq!(
            err(&["-é=1"]),
            ParseError::Invalid("flag provided but not defined: -é".into())
        );
    }

    #[test]
    fn int_list_and_map_flags() {
        let set = FlagSet::new(vec![
            Flag {
                name: "port",
                kind: Kind::Int,
                default: "0",
                usage: "Port.",
                http: false,
            },
            Flag {
                name: "tag",
                kind: Kind::List,
                default: "",
                usage: "Tag.",
                http: false,
            },
            Flag {
                name: "meta",
                kind: Kind::Map,
                default: "",
                usage: "Meta `key=value`.",
                http: false,
            },
        ]);
        let p = set
            .parse(&args(&[
                "-port=-0x10",
                "-tag",
                "a",
                "-tag=b",
                "-meta",
                "k=v=w",
                "-meta=k=x",
                "-meta=e=",
            ]))
            .expect("parses");
        assert_eq!(p.int("port"), -16);
        assert_eq!(p.list("tag"), ["a", "b"]);
        let meta: Vec<(String, String)> = p.map("meta").into_iter().collect();
        assert_eq!(meta, [("e".into(), "".into()), ("k".into(), "x".into())]);
        assert!(p.list("nope").is_empty());
        assert_eq!(
            set.parse(&args(&["-meta=novalue"])).expect_err("no ="),
            ParseError::Invalid(
                "invalid value \"novalue\" for flag -meta: Missing \"=\" value in argument: novalue".into()
            )
        );
        assert_eq!(
            set.parse(&args(&["-port=9223372036854775808"]))
                .expect_err("too big"),
            ParseError::Invalid(
                "invalid value \"9223372036854775808\" for flag -port: value out of range".into()
            )
        );
        assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_go_int("+7"), Ok(7));
        assert_eq!(parse_go_int("--7"), Err("parse error"));
        assert_eq!(
            set.defaults(),
            "  -meta key=value\n    \tMeta key=value.\n  -port int\n    \tPort.\n  -tag value\n    \tTag.\n"
        );
    }

    #[test]
    fn go_uint_prefixes() {
        assert_eq!(parse_go_uint("0"), Ok(0));
        assert_eq!(parse_go_uint("017"), Ok(15));
        assert_eq!(parse_go_uint("0o17"), Ok(15));
        assert_eq!(parse_go_uint("0b101"), Ok(5));
        assert_eq!(parse_go_uint("1_000"), Ok(1000));
        assert_eq!(parse_go_uint("+1"), Err("parse error"));
        assert_eq!(parse_go_uint("-1"), Err("parse error"));
        assert_eq!(parse_go_uint("0x"), Err("parse error"));
        assert_eq!(parse_go_uint(""), Err("parse error"));
    }

    #[test]
    fn defaults_match_go_print_defaults() {
        let want = "  -http-addr address\n    \tThe address to use.\n  \
                    -modify-index uint\n    \tIndex.\n  \
                    -recurse\n    \tRecurse.\n  \
                    -separator string\n    \tSeparator. (default \"/\")\n  \
                    -stale\n    \tStale.\n";
        assert_eq!(set().defaults(), want);
    }

    #[test]
    fn usage_has_consul_sections() {
        let want = "Usage: x\n\n\
                    HTTP API Options\n\n  \
                    -http-addr=<address>\n     The address to use.\n\n  \
                    -stale\n     Stale.\n\n\
                    Command Options\n\n  \
                    -modify-index=<uint>\n     Index.\n\n  \
                    -recurse\n     Recurse.\n\n  \
                    -separator=<string>\n     Separator.";
        assert_eq!(set().usage("\nUsage: x\n"), want);
    }

    #[test]
    fn wrap_minimises_raggedness() {
        // Greedy filling gives "aaa bb" / "cc" / "ddddd" (cost 16); kr/text finds cost 10.
        assert_eq!(wrap("aaa bb cc ddddd", 6), "aaa\nbb cc\nddddd");
        // The last line costs nothing.
        assert_eq!(wrap("aaa bb cc dddd", 9), "aaa bb cc\ndddd");
        assert_eq!(wrap("short", 10), "short");
        assert_eq!(wrap("  averyveryverylongword x", 5), "averyveryverylongword\nx");
    }

    #[test]
    fn wraps_consul_usage_like_consul() {
        // From `consul kv get -h` (Consul 1.10): the -stale option.
        let text = "Permit any Consul server (non-leader) to respond to this request. This \
                    allows for lower latency and higher throughput, but can result in \
                    stale data. This option has no effect on non-read operations. The \
                    default value is false.";
        let want = "     Permit any Consul server (non-leader) to respond to this request.\n     \
                    This allows for lower latency and higher throughput, but can result\n     \
                    in stale data. This option has no effect on non-read operations.\n     \
                    The default value is false.";
        assert_eq!(wrap_at_length(text, 5), want);
    }
}
