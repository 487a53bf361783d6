//! RESP2: commands are written as arrays of bulk strings; replies are
//! parsed from a borrowed buffer without allocating, under caps on size,
//! nesting depth and element count.
//!
//! Why not the `redis-protocol` crate: its decoders build owned frames
//! (a `Vec` per array, sized by the peer's announced count) and recurse
//! into nested arrays without a depth cap, and it brings `nom`,
//! `cookie-factory` (pinned) and `crc16` along. sift needs far less: whether
//! N replies are whole, and the integer or error each one is, from a
//! buffer whose size nginx already capped. The grammar below is small
//! enough to check by reading, and the `redis_reply` fuzz target runs it.

// Enforced on the shipped code; tests may index and unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects
    )
)]

/// Caps on what a reply may announce or contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one simple string, error, integer or bulk string.
    pub max_len: usize,
    /// Elements of one array.
    pub max_elements: usize,
    /// Arrays nested in arrays (1 = an array of scalars).
    pub max_depth: usize,
}

/// What sift's callers accept: sift sends INCRBY, PEXPIRE, AUTH, PING,
/// GET; nothing legitimate comes near these.
pub const LIMITS: Limits = Limits {
    max_len: 64 * 1024,
    max_elements: 1024,
    max_depth: 4,
};

/// One reply, borrowing the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `+OK`
    Simple(&'a [u8]),
    /// `-ERR ...`
    Error(&'a [u8]),
    /// `:42`
    Integer(i64),
    /// `$3\r\nabc`
    Bulk(&'a [u8]),
    /// `$-1` or `*-1`
    Nil,
    /// `*N`: the number of elements (their bytes follow, already checked).
    Array(usize),
}

/// Why bytes are not (yet) a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// More bytes are needed.
    Incomplete,
    /// Not RESP, or over a cap: the connection cannot be trusted further.
    Invalid,
}

/// Appends a command (`*N` array of bulk strings) to `out`.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    push_decimal(out, args.len());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        push_decimal(out, arg.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_decimal(out: &mut Vec<u8>, value: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at = at.saturating_sub(1);
        if let Some(digit) = digits.get_mut(at) {
            *digit = b'0'.wrapping_add((rest % 10) as u8);
        }
        rest /= 10;
        if rest == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

/// Parses the reply at the start of `bytes`: the reply (an array's header
/// for an array, whose elements were checked whole) and its length.
pub fn parse_reply<'a>(bytes: &'a [u8], limits: &Limits) -> Result<(Reply<'a>, usize), ParseError> {
    let (reply, header_len) = parse_one(bytes, limits)?;
    let Reply::Array(count) = reply else {
        return Ok((reply, header_len));
    };
    // The elements, iteratively: a stack of remaining counts per depth.
    let mut remaining = [0usize; 8];
    let max_depth = limits.max_depth.min(remaining.len());
    if max_depth == 0 {
        return Err(ParseError::Invalid);
    }
    let mut depth = 1usize;
    if let Some(top) = remaining.get_mut(0) {
        *top = count;
    }
    let mut at = header_len;
    while depth > 0 {
        let top = depth.saturating_sub(1);
        let left = remaining.get(top).copied().unwrap_or(0);
        if left == 0 {
            depth = top;
            continue;
        }
        if let Some(slot) = remaining.get_mut(top) {
            *slot = left.saturating_sub(1);
        }
        let (element, len) = parse_one(bytes.get(at..).unwrap_or_default(), limits)?;
        at = at.saturating_add(len);
        if let Reply::Array(inner) = element {
            if depth >= max_depth {
                return Err(ParseError::Invalid);
            }
            if let Some(slot) = remaining.get_mut(depth) {
                *slot = inner;
            }
            depth = depth.saturating_add(1);
        }
    }
    Ok((Reply::Array(count), at))
}

/// Whether `bytes` hold exactly `count` whole replies (Ok(true)), fewer so
/// far (Ok(false)), or something that is not RESP or is more than asked.
pub fn complete(bytes: &[u8], count: usize, limits: &Limits) -> Result<bool, ParseError> {
    let mut at = 0usize;
    for _ in 0..count {
        match parse_reply(bytes.get(at..).unwrap_or_default(), limits) {
            Ok((_, len)) => at = at.saturating_add(len),
            Err(ParseError::Incomplete) => return Ok(false),
            Err(ParseError::Invalid) => return Err(ParseError::Invalid),
        }
    }
    if at == bytes.len() {
        Ok(true)
    } else {
        // Bytes nobody asked for: the peer is out of step.
        Err(ParseError::Invalid)
    }
}

/// The `count` replies in `bytes` (which [`complete`] found whole), top
/// level only, to `out`; how many were written.
pub fn top_level<'a>(bytes: &'a [u8], out: &mut [Reply<'a>], limits: &Limits) -> usize {
    let mut at = 0usize;
    let mut written = 0usize;
    for slot in out.iter_mut() {
        let Ok((reply, len)) = parse_reply(bytes.get(at..).unwrap_or_default(), limits) else {
            break;
        };
        *slot = reply;
        at = at.saturating_add(len);
        written = written.saturating_add(1);
    }
    written
}

/// One scalar, or an array's header.
fn parse_one<'a>(bytes: &'a [u8], limits: &Limits) -> Result<(Reply<'a>, usize), ParseError> {
    let (&kind, rest) = bytes.split_first().ok_or(ParseError::Incomplete)?;
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(ParseError::Invalid);
    }
    let line = line(rest, limits.max_len)?;
    let after_line = line.len().saturating_add(3);
    match kind {
        b'+' => Ok((Reply::Simple(line), after_line)),
        b'-' => Ok((Reply::Error(line), after_line)),
        b':' => Ok((Reply::Integer(integer(line)?), after_line)),
        b'$' => {
            let len = integer(line)?;
            if len == -1 {
                return Ok((Reply::Nil, after_line));
            }
            let len = usize::try_from(len).map_err(|_| ParseError::Invalid)?;
            if len > limits.max_len {
                return Err(ParseError::Invalid);
            }
            let body = rest.get(line.len().saturating_add(2)..).unwrap_or_default();
            let data = body.get(..len).ok_or(ParseError::Incomplete)?;
            match body.get(len..len.saturating_add(2)) {
                Some(b"\r\n") => Ok((
                    Reply::Bulk(data),
                    after_line.saturating_add(len).saturating_add(2),
                )),
                Some(_) => Err(ParseError::Invalid),
                None if body.get(len).is_some_and(|&byte| byte != b'\r') => {
                    Err(ParseError::Invalid)
                }
                None => Err(ParseError::Incomplete),
            }
        }
        b'*' => {
            let count = integer(line)?;
            if count == -1 {
                return Ok((Reply::Nil, after_line));
            }
            let count = usize::try_from(count).map_err(|_| ParseError::Invalid)?;
            if count > limits.max_elements {
                return Err(ParseError::Invalid);
            }
            Ok((Reply::Array(count), after_line))
        }
        _ => Err(ParseError::Invalid),
    }
}

/// The bytes before `\r\n`; a bare `\r` or `\n` inside, or a line longer
/// than `max` with no end, is invalid.
fn line(bytes: &[u8], max: usize) -> Result<&[u8], ParseError> {
    let window = bytes
        .get(..max.saturating_add(2).min(bytes.len()))
        .unwrap_or(bytes);
    match window
        .iter()
        .position(|&byte| byte == b'\r' || byte == b'\n')
    {
        Some(end) => {
            let line = window.get(..end).unwrap_or_default();
            match bytes.get(end..end.saturating_add(2)) {
                Some(b"\r\n") => Ok(line),
                // A `\r` that ends the buffer: its `\n` may be on the way.
                None if bytes.get(end) == Some(&b'\r') => Err(ParseError::Incomplete),
                _ => Err(ParseError::Invalid),
            }
        }
        None if window.len() > max => Err(ParseError::Invalid),
        None => Err(ParseError::Incomplete),
    }
}

/// A signed decimal of at most 19 digits, as Redis writes them.
fn integer(text: &[u8]) -> Result<i64, ParseError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::Invalid);
    }
    let mut value: i64 = 0;
    for &digit in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(digit.wrapping_sub(b'0'))))
            .ok_or(ParseError::Invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}
