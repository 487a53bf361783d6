//! The `state=FILE` format of a list zone: text, one JSON entry per line,
//! between a header line naming the format version and the list's type and
//! an end line carrying the entry count and a SHA-256 of everything before
//! it, so that a truncated or edited file is detected rather than half
//! loaded:
//!
//! ```text
//! sift-list-state 1 type=ip
//! {"key":"10.0.0.0/8","value":"block","expires":0}
//! {"key":"192.0.2.1","value":"x","expires":1767225600000}
//! end 2 sha256=5f1c…
//! ```
//!
//! `expires` is the entry's expiry on the writer's millisecond clock
//! (nginx's wall clock), 0 for never.

use core::fmt;
use std::collections::HashSet;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{canonical_key, Entry, ListKind, VALUE_MAX};

/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
const MAGIC: &str = "sift-list-state";

/// Why a state file was refused: the line (1-based) and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for StateError {}

fn error(line: usize, reason: impl Into<String>) -> StateError {
    StateError {
        line,
        reason: reason.into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn push_json_string(out: &mut String, text: &str) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\"")));
}

fn header_line(kind: ListKind) -> String {
    format!("{MAGIC} {VERSION} type={}\n", kind.name())
}

/// The file's bytes for `entries` of a list of `kind`.
pub fn encode(kind: ListKind, entries: &[Entry]) -> Vec<u8> {
    let mut out = header_line(kind);
    for entry in entries {
        // Written by hand for the field order; the strings are serde_json's.
        out.push_str("{\"key\":");
        push_json_string(&mut out, &entry.key);
        out.push_str(",\"value\":");
        push_json_string(&mut out, &entry.value);
        out.push_str(&format!(",\"expires\":{}}}\n", entry.expires_at_ms));
    }
    let digest = Sha256::digest(out.as_bytes());
    out.push_str(&format!("end {} sha256={}\n", entries.len(), hex(&digest)));
    out.into_bytes()
}

/// The entries of a state file written by [`encode`] for a list of `kind`,
/// or the first problem found (line-numbered): a file for another type or
/// version, a bad entry, a missing end line (truncated), a count or
/// checksum that does not match, anything after the end line.
pub fn decode(bytes: &[u8], kind: ListKind) -> Result<Vec<Entry>, StateError> {
    let mut lines = bytes
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line));
    let (_, first) = lines.next().ok_or_else(|| error(1, "empty file"))?;
    check_header(first, kind)?;
    let mut consumed = first.len();
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for (number, line) in lines.by_ref() {
        let Some(text) = line.strip_suffix(b"\n") else {
            return Err(error(
                number,
                "truncated: the last line has no newline and is not the end line",
            ));
        };
        if let Some(trailer) = text.strip_prefix(b"end ") {
            check_trailer(number, trailer, &bytes[..consumed], entries.len())?;
            consumed += line.len();
            if consumed != bytes.len() {
                return Err(error(number + 1, "data after the end line"));
            }
            return Ok(entries);
        }
        let entry = parse_entry(number, text, kind)?;
        if !seen.insert(entry.key.clone()) {
            return Err(error(
                number,
                format!("key \"{}\" appears twice", entry.key),
            ));
        }
        entries.push(entry);
        consumed += line.len();
    }
    let last = bytes.split(|&b| b == b'\n').count();
    Err(error(last, "truncated: no end line"))
}

fn check_header(line: &[u8], kind: ListKind) -> Result<(), StateError> {
    let text = core::str::from_utf8(line).map_err(|_| error(1, "not a sift list state file"))?;
    let text = text
        .strip_suffix('\n')
        .ok_or_else(|| error(1, "truncated after the header"))?;
    let mut words = text.split(' ');
    if words.next() != Some(MAGIC) {
        return Err(error(
            1,
            format!("not a sift list state file (no \"{MAGIC}\" header)"),
        ));
    }
    match words.next().map(str::parse::<u32>) {
        Some(Ok(VERSION)) => {}
        Some(Ok(other)) => {
            return Err(error(
                1,
                format!("format version {other}, this sift reads {VERSION}"),
            ));
        }
        _ => return Err(error(1, "bad format version")),
    }
    let found = words
        .next()
        .and_then(|word| word.strip_prefix("type="))
        .ok_or_else(|| error(1, "no type= in the header"))?;
    if words.next().is_some() {
        return Err(error(1, "unexpected words in the header"));
    }
    if found != kind.name() {
        return Err(error(
            1,
            format!(
                "the file is for a type={found} list, this zone is type={}",
                kind.name()
            ),
        ));
    }
    Ok(())
}

fn check_trailer(
    number: usize,
    trailer: &[u8],
    covered: &[u8],
    count: usize,
) -> Result<(), StateError> {
    let text = core::str::from_utf8(trailer).map_err(|_| error(number, "bad end line"))?;
    let (count_text, sum) = text
        .split_once(" sha256=")
        .ok_or_else(|| error(number, "bad end line (no sha256=)"))?;
    let expected: usize = count_text
        .parse()
        .map_err(|_| error(number, "bad entry count in the end line"))?;
    if expected != count {
        return Err(error(
            number,
            format!("the end line counts {expected} entries, the file has {count}"),
        ));
    }
    if sum != hex(&Sha256::digest(covered)) {
        return Err(error(
            number,
            "checksum mismatch: the file was changed or damaged",
        ));
    }
    Ok(())
}

fn parse_entry(number: usize, text: &[u8], kind: ListKind) -> Result<Entry, StateError> {
    let value: Value =
        serde_json::from_slice(text).map_err(|e| error(number, format!("bad JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(error(number, "an entry must be a JSON object"));
    };
    if object.len() != 3 {
        return Err(error(
            number,
            "an entry has exactly \"key\", \"value\" and \"expires\"",
        ));
    }
    let Some(Value::String(key)) = object.remove("key") else {
        return Err(error(number, "\"key\" missing or not a string"));
    };
    let Some(Value::String(value)) = object.remove("value") else {
        return Err(error(number, "\"value\" missing or not a string"));
    };
    let Some(expires_at_ms) = object.remove("expires").as_ref().and_then(Value::as_u64) else {
        return Err(error(
            number,
            "\"expires\" missing or not a whole number of milliseconds",
        ));
    };
    let canonical =
        canonical_key(kind, key.as_bytes()).map_err(|e| error(number, e.to_string()))?;
    if canonical != key {
        return Err(error(
            number,
            format!("key \"{key}\" is not canonical (\"{canonical}\")"),
        ));
    }
    if value.len() > VALUE_MAX {
        return Err(error(
            number,
            format!("value longer than {VALUE_MAX} bytes"),
        ));
    }
    Ok(Entry {
        key,
        value,
        expires_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &str, expires_at_ms: u64) -> Entry {
        Entry {
            key: key.into(),
            value: value.into(),
            expires_at_ms,
        }
    }

    fn sample() -> Vec<Entry> {
        vec![
            entry("10.0.0.0/8", "block", 0),
            entry("192.0.2.1", "line\nbreak \"quoted\" é", 1_767_225_600_000),
            entry("2001:db8::/32", "", u64::MAX),
        ]
    }

    #[test]
    fn round_trips() {
        let bytes = encode(ListKind::Ip, &sample());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("sift-list-state 1 type=ip\n"), "{text}");
        assert!(
            text.lines().last().unwrap().starts_with("end 3 sha256="),
            "{text}"
        );
        assert_eq!(decode(&bytes, ListKind::Ip).unwrap(), sample());
        let empty = encode(ListKind::String, &[]);
        assert_eq!(decode(&empty, ListKind::String).unwrap(), vec![]);
    }

    #[test]
    fn reads_the_documented_format() {
        // Bytes as a state file holds them (also fuzz/seeds/list_state/ip).
        let file = concat!(
            "sift-list-state 1 type=ip\n",
            "{\"key\":\"10.0.0.0/8\",\"value\":\"block\",\"expires\":0}\n",
            "{\"key\":\"192.0.2.1\",\"value\":\"line\\nbreak \\\"quoted\\\" é\",\"expires\":1767225600000}\n",
            "{\"key\":\"2001:db8::/32\",\"value\":\"\",\"expires\":18446744073709551615}\n",
        );
        let sum = hex(&Sha256::digest(file.as_bytes()));
        let file = format!("{file}end 3 sha256={sum}\n");
        assert_eq!(decode(file.as_bytes(), ListKind::Ip).unwrap(), sample());
        assert_eq!(
            String::from_utf8(encode(ListKind::Ip, &sample())).unwrap(),
            file
        );
    }

    fn fails(bytes: &[u8], kind: ListKind) -> StateError {
        decode(bytes, kind).unwrap_err()
    }

    #[test]
    fn detects_truncation_at_every_length() {
        let bytes = encode(ListKind::Ip, &sample());
        for cut in 0..bytes.len() {
            let error = fails(&bytes[..cut], ListKind::Ip);
            assert!(error.line >= 1, "{cut}: {error}");
        }
    }

    #[test]
    fn detects_damage_with_line_numbers() {
        let bytes = encode(ListKind::Ip, &sample());
        let text = String::from_utf8(bytes).unwrap();
        // A changed value: the checksum on the end line (line 5).
        let edited = text.replace("block", "allow");
        let error = fails(edited.as_bytes(), ListKind::Ip);
        assert_eq!(error.line, 5);
        assert!(error.reason.contains("checksum"), "{error}");
        // Another type.
        let error = fails(text.as_bytes(), ListKind::String);
        assert_eq!(error.line, 1);
        assert!(error.reason.contains("type=ip"), "{error}");
        // Data after the end.
        let error = fails(format!("{text}x\n").as_bytes(), ListKind::Ip);
        assert_eq!(error.line, 6);
        // A bad entry line.
        let broken = text.replacen("\"10.0.0.0/8\"", "\"10.0.0.300\"", 1);
        let error = fails(broken.as_bytes(), ListKind::Ip);
        assert_eq!(error.line, 2, "{error}");
        let error = fails(
            b"sift-list-state 2 type=ip\nend 0 sha256=00\n",
            ListKind::Ip,
        );
        assert!(error.reason.contains("version 2"), "{error}");
        let error = fails(b"hello\n", ListKind::Ip);
        assert!(
            error.reason.contains("not a sift list state file"),
            "{error}"
        );
        let error = fails(b"", ListKind::Ip);
        assert_eq!(error.reason, "empty file");
    }

    #[test]
    fn refuses_odd_but_well_summed_files() {
        let with = |lines: &[&str]| {
            let mut out = String::from("sift-list-state 1 type=string\n");
            for line in lines {
                out.push_str(line);
                out.push('\n');
            }
            let sum = hex(&Sha256::digest(out.as_bytes()));
            out.push_str(&format!("end {} sha256={sum}\n", lines.len()));
            decode(out.as_bytes(), ListKind::String)
        };
        assert!(with(&[r#"{"key":"a","value":"1","expires":0}"#]).is_ok());
        let cases = [
            r#"{"key":"a","value":"1"}"#,
            r#"{"key":"a","value":1,"expires":0}"#,
            r#"{"key":"a","value":"1","expires":-1}"#,
            r#"{"key":"a","value":"1","expires":1.5}"#,
            r#"{"key":"","value":"1","expires":0}"#,
            r#"{"key":"a","value":"1","expires":0,"x":1}"#,
            r#"["a","1",0]"#,
            "not json",
        ];
        for case in cases {
            let error = with(&[case]).unwrap_err();
            assert_eq!(error.line, 2, "{case}: {error}");
        }
        let error = with(&[
            r#"{"key":"a","value":"1","expires":0}"#,
            r#"{"key":"a","value":"2","expires":0}"#,
        ])
        .unwrap_err();
        assert_eq!(error.line, 3, "{error}");
    }
}
