//! The Redis side of `sift_rate_zone ... sync=NAME`: one counter per key
//! and fixed window, `sift:rate:ZONE:KEY:WINDOW`, raised by each host's
//! admissions with `INCRBY` and expiring after two windows (`PEXPIRE`),
//! both in one pipelined request.

use sha2::{Digest, Sha256};

use super::resp::{complete, encode_command, top_level, Reply, LIMITS};

/// Keys longer than this go to Redis as the hex SHA-256 of the key (the
/// same on every host; a hash seeded per host would not be).
pub const MAX_RAW_KEY: usize = 128;

/// The counter's name for `key` in `zone` during `window` (the window's
/// number since the epoch).
pub fn counter_key(out: &mut Vec<u8>, zone: &str, key: &[u8], window: u64) {
    out.clear();
    out.extend_from_slice(b"sift:rate:");
    out.extend_from_slice(zone.as_bytes());
    out.push(b':');
    if key.len() <= MAX_RAW_KEY {
        out.extend_from_slice(key);
    } else {
        out.extend_from_slice(b"sha256=");
        for byte in Sha256::digest(key) {
            out.extend_from_slice(format!("{byte:02x}").as_bytes());
        }
    }
    out.push(b':');
    out.extend_from_slice(window.to_string().as_bytes());
}

/// `INCRBY counter add` then `PEXPIRE counter ttl_ms`, pipelined.
pub fn sync_request(out: &mut Vec<u8>, counter: &[u8], add: u64, ttl_ms: u64) {
    out.clear();
    encode_command(out, &[b"INCRBY", counter, add.to_string().as_bytes()]);
    encode_command(out, &[b"PEXPIRE", counter, ttl_ms.to_string().as_bytes()]);
}

/// Whether the two replies of [`sync_request`] are whole (and nothing
/// more): the layer's `complete`.
pub fn sync_complete(bytes: &[u8]) -> bool {
    // Invalid bytes end the read too: the caller then finds no count.
    !matches!(complete(bytes, 2, &LIMITS), Ok(false))
}

/// Whether a whole reply of [`sync_request`] is exactly two replies: a
/// connection that answered otherwise is not reused.
pub fn sync_reusable(bytes: &[u8]) -> bool {
    complete(bytes, 2, &LIMITS) == Ok(true)
}

/// The window's count across hosts (after this host's addition), from
/// the replies of [`sync_request`]; None for an error or garbage.
pub fn sync_count(bytes: &[u8]) -> Option<u64> {
    if complete(bytes, 2, &LIMITS) != Ok(true) {
        return None;
    }
    let mut replies = [Reply::Nil; 2];
    if top_level(bytes, &mut replies, &LIMITS) != 2 {
        return None;
    }
    match replies {
        [Reply::Integer(count), Reply::Integer(_)] => u64::try_from(count).ok(),
        _ => None,
    }
}

/// `AUTH [user] password`: sent first on each new connection.
pub fn auth_command(out: &mut Vec<u8>, user: Option<&[u8]>, password: &[u8]) {
    out.clear();
    match user {
        Some(user) => encode_command(out, &[b"AUTH", user, password]),
        None => encode_command(out, &[b"AUTH", password]),
    }
}

/// What came back for [`auth_command`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthReply {
    /// Not whole yet.
    Incomplete,
    /// `+OK`, this many bytes long.
    Accepted(usize),
    /// An error, or anything else.
    Refused,
}

/// The reply to [`auth_command`] at the start of `bytes`.
pub fn auth_reply(bytes: &[u8]) -> AuthReply {
    match super::resp::parse_reply(bytes, &LIMITS) {
        Ok((Reply::Simple(b"OK"), len)) => AuthReply::Accepted(len),
        Ok(_) | Err(super::resp::ParseError::Invalid) => AuthReply::Refused,
        Err(super::resp::ParseError::Incomplete) => AuthReply::Incomplete,
    }
}
