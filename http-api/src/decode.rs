//! Lenient JSON request decoding, as Consul's: field names match case-insensitively and
//! snake_case is accepted (`EnableTagOverride`, `enabletagoverride`,
//! `enable_tag_override`), unknown fields are refused by name, and user-keyed maps
//! (`Meta`, `TaggedAddresses`, `Header`) keep their keys exactly.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::response::ApiError;

/// Normalises a field name: lower-case, underscores dropped.
fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `Request decode failed: ...` (400).
pub fn decode_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Request decode failed: {detail}"))
}

/// Parses a request body as JSON, with Go-like messages for empty and truncated input.
pub fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(decode_error("EOF"));
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            decode_error("unexpected EOF")
        } else {
            decode_error(e)
        }
    })
}

/// The fields of one JSON object, looked up case-insensitively, with unknown-field
/// detection.
#[derive(Debug)]
pub struct Fields {
    context: String,
    entries: Vec<(String, String, Value)>,
    used: HashSet<usize>,
}

impl Fields {
    /// Wraps an object; `context` names it in error messages (e.g. `RegisterRequest`).
    pub fn new(value: Value, context: &str) -> Result<Fields, ApiError> {
        match value {
            Value::Object(map) => Ok(Self::from_map(map, context)),
            Value::Null => Ok(Self::from_map(Map::new(), context)),
            other => Err(decode_error(format!(
                "json: cannot unmarshal {} into Go value of type structs.{context}",
                json_type(&other)
            ))),
        }
    }

    fn from_map(map: Map<String, Value>, context: &str) -> Fields {
        Fields {
            context: context.to_string(),
            entries: map.into_iter().map(|(k, v)| (norm(&k), k, v)).collect(),
            used: HashSet::new(),
        }
    }

    /// Takes the raw value of a field (any of `names`, compared normalised).
    pub fn take(&mut self, names: &[&str]) -> Option<Value> {
        let wanted: Vec<String> = names.iter().map(|n| norm(n)).collect();
        let mut found = None;
        for (i, (n, _, v)) in self.entries.iter().enumerate() {
            if wanted.contains(n) && !self.used.contains(&i) {
                self.used.insert(i);
                if found.is_none() && !v.is_null() {
                    found = Some(v.clone());
                }
            }
        }
        found
    }

    fn type_error(&self, field: &str, value: &Value, want: &str) -> ApiError {
        decode_error(format!(
            "json: cannot unmarshal {} into Go struct field {}.{field} of type {want}",
            json_type(value),
            self.context
        ))
    }

    /// A string field.
    pub fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        self.string_any(&[name])
    }

    /// A string field known by several names (e.g. `CheckID` and `ID`).
    pub fn string_any(&mut self, names: &[&str]) -> Result<Option<String>, ApiError> {
        match self.take(names) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.type_error(names[0], &v, "string")),
        }
    }

    /// A boolean field.
    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.take(&[name]) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(v) => Err(self.type_error(name, &v, "bool")),
        }
    }

    /// An integer field.
    pub fn integer(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.take(&[name]) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(self.type_error(name, &Value::Number(n), "int")),
            },
            Some(v) => Err(self.type_error(name, &v, "int")),
        }
    }

    /// A duration: a Go duration string (`"10s"`) or a number of nanoseconds.
    pub fn duration(&mut self, name: &str) -> Result<Option<Duration>, ApiError> {
        match self.take(&[name]) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => rconsul_compat::duration::parse_std(&s)
                .ok()
                .map(Some)
                .ok_or_else(|| decode_error(format!("time: invalid duration \"{s}\""))),
            Some(Value::Number(n)) => Ok(n.as_u64().map(Duration::from_nanos)),
            Some(v) => Err(self.type_error(name, &v, "time.Duration")),
        }
    }

    /// A list of strings.
    pub fn string_list(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        self.string_list_any(&[name])
    }

    /// A list of strings known by several names.
    pub fn string_list_any(&mut self, names: &[&str]) -> Result<Option<Vec<String>>, ApiError> {
        match self.take(names) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(self.type_error(names[0], &other, "[]string")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.type_error(names[0], &v, "[]string")),
        }
    }

    /// A map of strings whose keys are kept exactly.
    pub fn string_map(&mut self, name: &str) -> Result<Option<BTreeMap<String, String>>, ApiError> {
        match self.take(&[name]) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    other => Err(self.type_error(name, &other, "map[string]string")),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Some),
            Some(v) => Err(self.type_error(name, &v, "map[string]string")),
        }
    }

    /// A nested object.
    pub fn object(&mut self, name: &str, context: &str) -> Result<Option<Fields>, ApiError> {
        match self.take(&[name]) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields::from_map(map, context))),
            Some(v) => Err(self.type_error(name, &v, context)),
        }
    }

    /// A list of objects.
    pub fn object_list(&mut self, name: &str, context: &str) -> Result<Option<Vec<Fields>>, ApiError> {
        match self.take(&[name]) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::Object(map) => Ok(Fields::from_map(map, context)),
                    other => Err(self.type_error(name, &other, context)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.type_error(name, &v, context)),
        }
    }

    /// Marks fields as accepted but ignored (features rconsul does not implement,
    /// such as Connect proxies); they are neither errors nor stored.
    pub fn ignore(&mut self, names: &[&str]) {
        let _ = self.take(names);
    }

    /// Fails on the first field nobody took: `json: unknown field "Bogus"`.
    pub fn finish(self) -> Result<(), ApiError> {
        for (i, (_, original, _)) in self.entries.iter().enumerate() {
            if !self.used.contains(&i) {
                return Err(decode_error(format!("json: unknown field \"{original}\"")));
            }
        }
        Ok(())
    }
}

/// The JSON type name of `v`, as decode errors say it.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_snake_case() {
        let v: Value = serde_json::json!({"node": "a", "enable_tag_override": true, "Meta": {"Key_X": "v"}});
        let mut f = Fields::new(v, "X").expect("object");
        assert_eq!(f.string("Node").ok().flatten().as_deref(), Some("a"));
        assert_eq!(f.boolean("EnableTagOverride").ok().flatten(), Some(true));
        let meta = f.string_map("Meta").ok().flatten().unwrap_or_default();
        assert!(meta.contains_key("Key_X"));
        assert!(f.finish().is_ok());
    }

    #[test]
    fn unknown_field_and_type_errors() {
        let mut f =
            Fields::new(serde_json::json!({"Node": "x", "Bogus": 1}), "RegisterRequest").expect("object");
        let _ = f.string("Node");
        assert_eq!(
            f.finish().map_err(|e| e.message),
            Err("Request decode failed: json: unknown field \"Bogus\"".to_string())
        );
        let mut f = Fields::new(serde_json::json!({"Port": "x"}), "NodeService").expect("object");
        assert!(f.integer("Port").is_err());
        assert_eq!(
            parse_body(b"").map_err(|e| e.message),
            Err("Request decode failed: EOF".into())
        );
        assert_eq!(
            parse_body(b"{\"a\":").map_err(|e| e.message),
            Err("Request decode failed: unexpected EOF".into())
        );
    }
}
