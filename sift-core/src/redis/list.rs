//! The Redis side of `sift_list_zone ... sync=NAME`.
//!
//! Schema, per list `NAME`:
//! - `sift:list:NAME` — hash, key → value;
//! - `sift:list:NAME:expires` — hash, key → expiry in Unix milliseconds
//!   (absent: never);
//! - `sift:list:NAME:version` — counter, raised by every change. An
//!   operator writing with `redis-cli` runs `HSET sift:list:NAME KEY VALUE`
//!   then `INCR sift:list:NAME:version`.
//!
//! One sync is one `EVAL` of [`SCRIPT`], atomic in Redis: it applies this
//! host's pending changes (or replaces the whole list), raises the version
//! if it changed anything, and returns the version, plus both hashes when
//! the version differs from the one the host applied last (expired entries
//! are removed from Redis first). One round trip per interval, and a
//! consistent snapshot: no other client's command runs in between.

use super::encode_command;
use super::resp::{complete, parse_reply, Limits, ParseError, Reply};
use crate::list::journal::Record;
use crate::list::{canonical_key, Entry, ListKind, KEY_MAX, VALUE_MAX};

/// The sync script. KEYS: hash, expires, version. ARGV: the version last
/// applied ("" for none), now (Unix ms), mode ("j": records follow, "r":
/// replace the whole list with the `s` records that follow, "m": add them
/// to it), then records:
/// `s KEY VALUE EXPIRES` (EXPIRES 0 = never), `d KEY`, `c`.
///
/// A version key the script creates starts at the current Unix time in
/// milliseconds, not 0: a list Redis lost and got back never repeats a
/// version a host applied before (which would hide the change from it).
///
/// A host that applied a version finds no version key: Redis lost the list
/// (restarted without persistence, flushed, or the keys were deleted). The
/// script then changes nothing and answers `{-1}`: the host pushes its
/// whole list next (the list comes back from the hosts, not emptied on all
/// of them).
pub const SCRIPT: &str = r#"local h, e, vk = KEYS[1], KEYS[2], KEYS[3]
if ARGV[1] ~= '' and ARGV[1] ~= '0' and ARGV[3] == 'j' and not redis.call('GET', vk) then return {-1} end
local changed = false
if ARGV[3] == 'r' then redis.call('DEL', h, e) changed = true end
local i = 4
while i <= #ARGV do
  local op = ARGV[i]
  if op == 's' then
    redis.call('HSET', h, ARGV[i+1], ARGV[i+2])
    if ARGV[i+3] == '0' then redis.call('HDEL', e, ARGV[i+1]) else redis.call('HSET', e, ARGV[i+1], ARGV[i+3]) end
    i = i + 4
  elseif op == 'd' then
    redis.call('HDEL', h, ARGV[i+1]) redis.call('HDEL', e, ARGV[i+1])
    i = i + 2
  elseif op == 'c' then
    redis.call('DEL', h, e)
    i = i + 1
  else
    return redis.error_reply('ERR sift: unknown record ' .. tostring(op))
  end
  changed = true
end
local v
if changed then
  if not redis.call('GET', vk) then redis.call('SET', vk, ARGV[2]) end
  v = redis.call('INCR', vk)
else v = tonumber(redis.call('GET', vk) or '0') or 0 end
if ARGV[1] ~= '' and tostring(v) == ARGV[1] then return {v} end
local now = tonumber(ARGV[2])
local ex = redis.call('HGETALL', e)
for j = 1, #ex, 2 do
  local at = tonumber(ex[j+1])
  if at and at > 0 and at <= now then redis.call('HDEL', h, ex[j]) redis.call('HDEL', e, ex[j]) end
end
return {v, redis.call('HGETALL', h), redis.call('HGETALL', e)}"#;

/// Caps on a sync reply: elements come in pairs from the hashes, whose
/// size the caller caps with the reply's bytes.
pub const LIST_LIMITS: Limits = Limits {
    max_len: 64 * 1024,
    max_elements: 1 << 24,
    max_depth: 2,
};

/// The keys of list `name`: hash, expires, version.
pub fn keys(name: &str) -> [String; 3] {
    [
        format!("sift:list:{name}"),
        format!("sift:list:{name}:expires"),
        format!("sift:list:{name}:version"),
    ]
}

/// What one sync sends.
pub enum Push<'a> {
    /// Records in order (none: only read the version).
    Records(&'a [Record]),
    /// Replace the whole list with these entries.
    Replace(&'a [Entry]),
    /// Add these entries to the list, removing nothing.
    Merge(&'a [Entry]),
}

/// The `EVAL` of one sync.
pub fn sync_request(
    out: &mut Vec<u8>,
    name: &str,
    applied: Option<u64>,
    now_ms: u64,
    push: &Push<'_>,
) {
    out.clear();
    let [hash, expires, version] = keys(name);
    let applied = applied.map(|v| v.to_string()).unwrap_or_default();
    let now = now_ms.to_string();
    let mut numbers: Vec<String> = Vec::new();
    let mode: &[u8] = match push {
        Push::Records(records) => {
            for record in records.iter() {
                if let Record::Set { expires_at_ms, .. } = record {
                    numbers.push(expires_at_ms.to_string());
                }
            }
            b"j"
        }
        Push::Replace(entries) | Push::Merge(entries) => {
            for entry in entries.iter() {
                numbers.push(entry.expires_at_ms.to_string());
            }
            if matches!(push, Push::Merge(_)) {
                b"m"
            } else {
                b"r"
            }
        }
    };
    let mut args: Vec<&[u8]> = vec![
        b"EVAL",
        SCRIPT.as_bytes(),
        b"3",
        hash.as_bytes(),
        expires.as_bytes(),
        version.as_bytes(),
        applied.as_bytes(),
        now.as_bytes(),
        mode,
    ];
    let mut number = numbers.iter();
    match push {
        Push::Records(records) => {
            for record in records.iter() {
                match record {
                    Record::Set { key, value, .. } => {
                        args.extend_from_slice(&[b"s", key, value]);
                        args.push(number.next().map_or(&b"0"[..], |n| n.as_bytes()));
                    }
                    Record::Remove { key } => args.extend_from_slice(&[b"d", key]),
                    Record::Clear => args.push(b"c"),
                }
            }
        }
        Push::Replace(entries) | Push::Merge(entries) => {
            for entry in entries.iter() {
                args.extend_from_slice(&[b"s", entry.key.as_bytes(), entry.value.as_bytes()]);
                args.push(number.next().map_or(&b"0"[..], |n| n.as_bytes()));
            }
        }
    }
    encode_command(out, &args);
}

/// Whether the sync's one reply is whole (or will never be: garbage ends
/// the read too; [`parse_sync_reply`] then says why).
pub fn sync_complete(bytes: &[u8]) -> bool {
    !matches!(complete(bytes, 1, &LIST_LIMITS), Ok(false))
}

/// Whether the connection may serve the next call: exactly one reply.
pub fn sync_reusable(bytes: &[u8]) -> bool {
    complete(bytes, 1, &LIST_LIMITS) == Ok(true)
}

/// Redis's list, as the sync read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Entries fit for the list (canonical keys), sorted by key.
    pub entries: Vec<Entry>,
    /// Entries left out (bad key or value for this list), and why the first was.
    pub skipped: usize,
    pub first_skip: Option<String>,
}

/// A sync's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReply {
    /// The list's version in Redis (after this sync's push).
    pub version: u64,
    /// The list, when its version is not the one applied last.
    pub snapshot: Option<Snapshot>,
    /// Redis lost the list (no version key): nothing was applied there.
    pub lost: bool,
}

/// Reads a sync's reply; Err says what was wrong (an error Redis sent, or
/// bytes that are not the script's answer).
pub fn parse_sync_reply(bytes: &[u8], kind: ListKind, now_ms: u64) -> Result<SyncReply, String> {
    let (reply, len) = match parse_reply(bytes, &LIST_LIMITS) {
        Ok(parsed) => parsed,
        Err(ParseError::Incomplete) => return Err("an incomplete reply".into()),
        Err(ParseError::Invalid) => return Err("a reply that is not RESP".into()),
    };
    if len != bytes.len() {
        return Err("more than one reply".into());
    }
    let count = match reply {
        Reply::Array(count) => count,
        Reply::Error(text) => {
            return Err(format!(
                "Redis answered \"{}\"",
                String::from_utf8_lossy(&text[..text.len().min(200)])
            ))
        }
        _ => return Err("an unexpected reply".into()),
    };
    let mut items = Items::new(bytes)?;
    let version = match items.next() {
        Some(Reply::Integer(-1)) if count == 1 => {
            return Ok(SyncReply {
                version: 0,
                snapshot: None,
                lost: true,
            })
        }
        Some(Reply::Integer(v)) if v >= 0 => v as u64,
        _ => return Err("no version in the reply".into()),
    };
    match count {
        1 => Ok(SyncReply {
            version,
            snapshot: None,
            lost: false,
        }),
        3 => {
            let values = items.pairs()?;
            let expiries = items.pairs()?;
            Ok(SyncReply {
                version,
                snapshot: Some(snapshot(values, expiries, kind, now_ms)),
                lost: false,
            })
        }
        _ => Err("an unexpected reply".into()),
    }
}

/// A hash field and its value.
type Pair<'a> = (&'a [u8], &'a [u8]);

/// Walks the elements of a reply checked whole.
struct Items<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Items<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, String> {
        let header = header_len(bytes).ok_or("a reply that is not RESP")?;
        Ok(Items { bytes, at: header })
    }

    fn next(&mut self) -> Option<Reply<'a>> {
        let rest = self.bytes.get(self.at..)?;
        let (reply, len) = parse_reply(rest, &LIST_LIMITS).ok()?;
        self.at += match reply {
            Reply::Array(_) => header_len(rest)?,
            _ => len,
        };
        Some(reply)
    }

    /// A flat array of bulk strings, as pairs.
    fn pairs(&mut self) -> Result<Vec<Pair<'a>>, String> {
        let Some(Reply::Array(count)) = self.next() else {
            return Err("a hash that is not an array".into());
        };
        if count % 2 != 0 {
            return Err("a hash with an odd number of elements".into());
        }
        let mut out = Vec::with_capacity(count / 2);
        for _ in 0..count / 2 {
            match (self.next(), self.next()) {
                (Some(Reply::Bulk(key)), Some(Reply::Bulk(value))) => out.push((key, value)),
                _ => return Err("a hash element that is not a string".into()),
            }
        }
        Ok(out)
    }
}

/// The length of an array's `*N\r\n` header.
fn header_len(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&b'*') {
        return None;
    }
    bytes
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .map(|at| at + 2)
}

fn snapshot(
    values: Vec<Pair<'_>>,
    expiries: Vec<Pair<'_>>,
    kind: ListKind,
    now_ms: u64,
) -> Snapshot {
    let expiry: std::collections::HashMap<&[u8], &[u8]> = expiries.into_iter().collect();
    let mut entries = Vec::with_capacity(values.len());
    let mut skipped = 0;
    let mut first_skip = None;
    let mut skip = |why: String| {
        skipped += 1;
        first_skip.get_or_insert(why);
    };
    for (key, value) in values {
        let shown = String::from_utf8_lossy(&key[..key.len().min(64)]).into_owned();
        if key.len() > KEY_MAX || value.len() > VALUE_MAX {
            skip(format!("key \"{shown}\": key or value too long"));
            continue;
        }
        let canonical = match canonical_key(kind, key) {
            Ok(canonical) => canonical,
            Err(error) => {
                skip(format!("key \"{shown}\": {error}"));
                continue;
            }
        };
        let Ok(value) = std::str::from_utf8(value) else {
            skip(format!("key \"{shown}\": value not UTF-8"));
            continue;
        };
        let expires_at_ms = match expiry.get(key) {
            None => 0,
            Some(text) => match std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
            {
                Some(ms) => ms,
                None => {
                    skip(format!(
                        "key \"{shown}\": expiry is not a number of milliseconds"
                    ));
                    continue;
                }
            },
        };
        if expires_at_ms != 0 && expires_at_ms <= now_ms {
            continue;
        }
        entries.push(Entry {
            key: canonical,
            value: value.to_string(),
            expires_at_ms,
        });
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    entries.dedup_by(|a, b| a.key == b.key);
    Snapshot {
        entries,
        skipped,
        first_skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(format!("${}\r\n{text}\r\n", text.len()).as_bytes());
    }

    #[test]
    fn request_carries_records_in_order() {
        let mut out = Vec::new();
        let records = vec![
            Record::Set {
                key: b"a".to_vec(),
                value: b"1".to_vec(),
                expires_at_ms: 5,
            },
            Record::Remove { key: b"b".to_vec() },
            Record::Clear,
        ];
        sync_request(&mut out, "deny", Some(3), 100, &Push::Records(&records));
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("*16\r\n$4\r\nEVAL\r\n"));
        assert!(text.ends_with(
            "$1\r\n3\r\n$3\r\n100\r\n$1\r\nj\r\n$1\r\ns\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n5\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n"
        ));
        assert!(text.contains("sift:list:deny:version"));
        let entries = vec![Entry {
            key: "k".into(),
            value: "v".into(),
            expires_at_ms: 0,
        }];
        sync_request(&mut out, "deny", None, 100, &Push::Replace(&entries));
        let text = String::from_utf8_lossy(&out);
        assert!(text.ends_with(
            "$0\r\n\r\n$3\r\n100\r\n$1\r\nr\r\n$1\r\ns\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\n0\r\n"
        ));
    }

    #[test]
    fn unchanged_version_reply() {
        let reply = b"*1\r\n:7\r\n";
        assert!(!sync_complete(&reply[..5]));
        assert!(sync_complete(reply));
        assert_eq!(
            parse_sync_reply(reply, ListKind::String, 0),
            Ok(SyncReply {
                version: 7,
                snapshot: None,
                lost: false
            })
        );
        let lost = parse_sync_reply(b"*1\r\n:-1\r\n", ListKind::String, 0).unwrap();
        assert!(lost.lost);
        assert!(parse_sync_reply(b"*1\r\n:-2\r\n", ListKind::String, 0).is_err());
    }

    #[test]
    fn snapshot_reply_with_expiry_and_bad_entries() {
        let mut reply = b"*3\r\n:8\r\n*8\r\n".to_vec();
        for text in [
            "10.0.0.0/8",
            "deny",
            "not-an-ip",
            "x",
            "192.0.2.1",
            "old",
            "192.0.2.2",
            "soon",
        ] {
            bulk(&mut reply, text);
        }
        reply.extend_from_slice(b"*4\r\n");
        for text in ["192.0.2.1", "50", "192.0.2.2", "5000"] {
            bulk(&mut reply, text);
        }
        assert!(sync_complete(&reply));
        let parsed = parse_sync_reply(&reply, ListKind::Ip, 100).unwrap();
        assert_eq!(parsed.version, 8);
        let snapshot = parsed.snapshot.unwrap();
        assert_eq!(
            snapshot.entries,
            vec![
                Entry {
                    key: "10.0.0.0/8".into(),
                    value: "deny".into(),
                    expires_at_ms: 0
                },
                Entry {
                    key: "192.0.2.2".into(),
                    value: "soon".into(),
                    expires_at_ms: 5000
                },
            ]
        );
        assert_eq!(snapshot.skipped, 1);
        assert!(snapshot.first_skip.unwrap().contains("not-an-ip"));
    }

    #[test]
    fn garbage_and_errors_are_reported() {
        for bytes in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"-NOSCRIPT x\r\n",
            b":5\r\n",
            b"*2\r\n:1\r\n:2\r\n",
            b"*3\r\n:1\r\n*1\r\n$1\r\na\r\n*0\r\n",
            b"*1\r\n:1\r\n:2\r\n",
        ] {
            assert!(sync_complete(bytes));
            assert!(
                parse_sync_reply(bytes, ListKind::String, 0).is_err(),
                "{bytes:?}"
            );
        }
        let error = parse_sync_reply(b"-WRONGTYPE bad\r\n", ListKind::String, 0).unwrap_err();
        assert!(error.contains("WRONGTYPE"));
    }
}
