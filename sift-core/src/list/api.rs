//! The JSON bodies of the lists API (`sift_api`): request objects of
//! string keys to string values (null deletes, in PATCH), responses, and
//! errors `{"error": {"status": N, "code": "...", "text": "..."}}`.
//!
//! Parsing is serde_json's; a body is capped at [`BODY_MAX`] bytes and
//! [`ENTRIES_MAX`] entries, and a key given twice (in any spelling of the
//! same range, for `type=ip`) is refused rather than silently merged.

use core::fmt;
use std::cell::Cell;
use std::collections::HashSet;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{canonical_key, Entry, ListError, ListKind, VALUE_MAX};

/// The largest request body, in bytes.
pub const BODY_MAX: usize = 1 << 20;
/// The most entries in one request body.
pub const ENTRIES_MAX: usize = 10_000;

/// A refused request: its HTTP status, a stable code and a text naming
/// the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub text: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, text: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            text: text.into(),
        }
    }

    /// The JSON body for this error.
    pub fn render(&self) -> String {
        render_error(self.status, self.code, &self.text)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.text)
    }
}

impl std::error::Error for ApiError {}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        ApiError::new(error.status(), error.code(), error.to_string())
    }
}

/// The top-level object's members in order, duplicates kept; stops at
/// [`ENTRIES_MAX`] + 1 (flagging `too_many`).
struct Members<'f> {
    too_many: &'f Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = Vec<(String, Value)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of keys to string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.len() == ENTRIES_MAX {
                self.too_many.set(true);
                return Err(serde::de::Error::custom("too many entries"));
            }
            let value: Value = map.next_value()?;
            members.push((key, value));
        }
        Ok(members)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a POST (`patch` false) or PATCH (`patch` true) body: a JSON
/// object of keys to string values; in PATCH a null value deletes the key.
/// Keys come back canonical (`type=ip`), in body order.
pub fn parse_object(
    body: &[u8],
    kind: ListKind,
    patch: bool,
) -> Result<Vec<(String, Option<String>)>, ApiError> {
    if body.len() > BODY_MAX {
        return Err(ApiError::new(
            413,
            "BodyTooLarge",
            format!("request body larger than {BODY_MAX} bytes"),
        ));
    }
    let too_many = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let members = Members {
        too_many: &too_many,
    }
    .deserialize(&mut deserializer)
    .and_then(|members| deserializer.end().map(|()| members))
    .map_err(|error| {
        if too_many.get() {
            ApiError::new(
                400,
                "TooManyEntries",
                format!("more than {ENTRIES_MAX} entries in one request"),
            )
        } else if error.is_data() {
            ApiError::new(
                400,
                "NotAnObject",
                "the body must be a JSON object of keys to string values",
            )
        } else {
            ApiError::new(400, "BadJson", format!("bad JSON: {error}"))
        }
    })?;
    let mut seen = HashSet::with_capacity(members.len());
    let mut out = Vec::with_capacity(members.len());
    for (key, value) in members {
        let canonical = canonical_key(kind, key.as_bytes())?;
        let value = match value {
            Value::String(text) if text.len() > VALUE_MAX => {
                return Err(ListError::ValueTooLong.into());
            }
            Value::String(text) => Some(text),
            Value::Null if patch => None,
            Value::Null => {
                return Err(ApiError::new(
                    400,
                    "BadValue",
                    format!("the value of \"{canonical}\" is null: only PATCH deletes with null"),
                ));
            }
            other => {
                return Err(ApiError::new(
                    400,
                    "BadValue",
                    format!(
                        "the value of \"{canonical}\" is {}: values are strings",
                        type_name(&other)
                    ),
                ));
            }
        };
        if !seen.insert(canonical.clone()) {
            return Err(ApiError::new(
                400,
                "DuplicateKey",
                format!("key \"{canonical}\" appears more than once"),
            ));
        }
        out.push((canonical, value));
    }
    Ok(out)
}

fn push_json_string(out: &mut String, text: &str) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\"")));
}

/// `{"key": "value", ...}` in the entries' order.
pub fn render_entries(entries: &[Entry]) -> String {
    let mut out = String::from("{");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, &entry.key);
        out.push(':');
        push_json_string(&mut out, &entry.value);
    }
    out.push('}');
    out
}

/// `{"error": {"status": N, "code": "...", "text": "..."}}`.
pub fn render_error(status: u16, code: &str, text: &str) -> String {
    let mut out = format!("{{\"error\":{{\"status\":{status},\"code\":");
    push_json_string(&mut out, code);
    out.push_str(",\"text\":");
    push_json_string(&mut out, text);
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        body: &str,
        kind: ListKind,
        patch: bool,
    ) -> Result<Vec<(String, Option<String>)>, ApiError> {
        parse_object(body.as_bytes(), kind, patch)
    }

    fn code(body: &str, kind: ListKind, patch: bool) -> &'static str {
        parse(body, kind, patch).unwrap_err().code
    }

    #[test]
    fn parses_objects_in_order() {
        let got = parse(
            r#"{"b": "1", "a": "", "c\u00e9": "x\"y"}"#,
            ListKind::String,
            false,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("b".into(), Some("1".into())),
                ("a".into(), Some("".into())),
                ("cé".into(), Some("x\"y".into())),
            ]
        );
        assert_eq!(parse("{}", ListKind::String, false).unwrap(), vec![]);
        assert_eq!(
            parse(r#" {"k": null} "#, ListKind::String, true).unwrap(),
            vec![("k".into(), None)]
        );
    }

    #[test]
    fn canonicalises_ip_keys() {
        let got = parse(r#"{"10.1.2.3/8": "a", "192.0.2.1/32": "b", "::ffff:192.0.2.9": "c", "2001:DB8:0::1/32": "d"}"#, ListKind::Ip, false).unwrap();
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["10.0.0.0/8", "192.0.2.1", "192.0.2.9", "2001:db8::/32"]
        );
    }

    #[test]
    fn refuses_bad_bodies_precisely() {
        let s = ListKind::String;
        assert_eq!(code("", s, false), "BadJson");
        assert_eq!(code("{\"a\": \"b\"", s, false), "BadJson");
        assert_eq!(code("{\"a\": \"b\"} x", s, false), "BadJson");
        assert_eq!(code("{'a': 'b'}", s, false), "BadJson");
        assert_eq!(code("[\"a\"]", s, false), "NotAnObject");
        assert_eq!(code("\"a\"", s, false), "NotAnObject");
        assert_eq!(code("{\"a\": 1}", s, false), "BadValue");
        assert_eq!(code("{\"a\": {\"b\": \"c\"}}", s, false), "BadValue");
        assert_eq!(code("{\"a\": null}", s, false), "BadValue");
        assert_eq!(
            code("{\"a\": \"1\", \"a\": \"2\"}", s, false),
            "DuplicateKey"
        );
        assert_eq!(code("{\"\": \"1\"}", s, false), "BadKey");
        assert_eq!(
            code(
                "{\"10.0.0.1/8\": \"1\", \"10.0.0.0/8\": \"2\"}",
                ListKind::Ip,
                false
            ),
            "DuplicateKey"
        );
        assert_eq!(
            code("{\"10.0.0.256\": \"1\"}", ListKind::Ip, false),
            "BadKey"
        );
        assert_eq!(
            code("{\"10.0.0.0/33\": \"1\"}", ListKind::Ip, false),
            "BadKey"
        );
        assert_eq!(
            code("{\"example.com\": \"1\"}", ListKind::Ip, false),
            "BadKey"
        );
        let long_key = format!("{{\"{}\": \"1\"}}", "k".repeat(crate::list::KEY_MAX + 1));
        assert_eq!(code(&long_key, s, false), "KeyTooLong");
        let long_value = format!("{{\"k\": \"{}\"}}", "v".repeat(VALUE_MAX + 1));
        assert_eq!(code(&long_value, s, false), "ValueTooLong");
        let text = parse("{\"a\": 1}", s, false).unwrap_err().text;
        assert!(text.contains("\"a\"") && text.contains("number"), "{text}");
        let text = parse("{\"a\": tru}", s, false).unwrap_err().text;
        assert!(text.contains("line 1"), "{text}");
    }

    #[test]
    fn caps_size_and_entries() {
        let big = vec![b' '; BODY_MAX + 1];
        let error = parse_object(&big, ListKind::String, false).unwrap_err();
        assert_eq!((error.status, error.code), (413, "BodyTooLarge"));
        let mut many = String::from("{");
        for i in 0..=ENTRIES_MAX {
            if i > 0 {
                many.push(',');
            }
            many.push_str(&format!("\"k{i}\":\"v\""));
        }
        many.push('}');
        assert_eq!(code(&many, ListKind::String, false), "TooManyEntries");
        // Deep nesting is serde_json's recursion limit, not a stack overflow.
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(code(&deep, ListKind::String, false), "BadJson");
    }

    #[test]
    fn renders() {
        let entries = vec![
            Entry {
                key: "a\"b".into(),
                value: "1".into(),
                expires_at_ms: 0,
            },
            Entry {
                key: "10.0.0.0/8".into(),
                value: "\u{1}".into(),
                expires_at_ms: 5,
            },
        ];
        let text = render_entries(&entries);
        assert_eq!(text, r#"{"a\"b":"1","10.0.0.0/8":"\u0001"}"#);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["a\"b"], "1");
        assert_eq!(render_entries(&[]), "{}");
        let error = render_error(404, "ListNotFound", "no list \"x\"");
        let back: serde_json::Value = serde_json::from_str(&error).unwrap();
        assert_eq!(back["error"]["status"], 404);
        assert_eq!(back["error"]["code"], "ListNotFound");
        assert_eq!(back["error"]["text"], "no list \"x\"");
    }
}
