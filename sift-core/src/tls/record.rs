//! The record layer: find one ClientHello in the client's first bytes,
//! however the records and TCP segments split it.

use super::error::MalformedReason;
use super::hello::ClientHello;

/// The largest record payload TLS allows (RFC 8446, section 5.1).
pub const MAX_FRAGMENT_LEN: usize = 1 << 14;

const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;
const CONTENT_TYPE_HANDSHAKE: u8 = 22;
/// change_cipher_spec (20) through heartbeat (24): TLS, but not a hello.
const TLS_CONTENT_TYPES: core::ops::RangeInclusive<u8> = 20..=24;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;

/// What [`parse_client_hello`] made of the bytes so far.
///
/// Every outcome but [`NeedMore`](HelloOutcome::NeedMore) is final: more
/// bytes appended to the same input never change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// The hello is returned by value on purpose: boxing it would put a heap
// allocation on every TLS connection's path.
#[allow(clippy::large_enum_variant)]
pub enum HelloOutcome<'a> {
    /// The bytes so far are a valid beginning: call again when more arrive.
    NeedMore,
    /// A complete, valid ClientHello.
    Hello(ClientHello<'a>),
    /// The first bytes cannot start a TLS record (nor an SSL 2.0 hello):
    /// some other protocol.
    NotTls,
    /// TLS framing that is broken, or that carries no usable ClientHello.
    Malformed(MalformedReason),
    /// The record or handshake lengths announce more bytes than the
    /// caller's capacity (`scratch.len()`): it would wait in vain.
    TooLarge,
}

/// Parses the ClientHello at the start of a connection.
///
/// `input` is everything the client has sent so far, from its first byte;
/// the function is meant to be called again on the whole, longer buffer
/// each time more bytes arrive. It keeps no state between calls. Until the
/// ClientHello is complete it only walks record headers (a few comparisons
/// per record), so the repeated calls stay cheap.
///
/// `scratch` serves two purposes:
/// * its length is the caller's **capacity**, the most bytes the caller will
///   ever buffer. As soon as a record or handshake header announces that the
///   hello cannot fit in that many bytes of input, the result is
///   [`HelloOutcome::TooLarge`], without waiting for those bytes.
/// * when the handshake message is split across several TLS records, its
///   pieces are copied into `scratch` and the returned hello borrows from it.
///   Within capacity the message always fits, because it is shorter than
///   the records that carry it.
///
/// When the message lies within one record (the usual case, even for
/// post-quantum hellos of a few KB that arrive in several TCP segments) the
/// hello borrows from `input` and `scratch` is not written. A caller that
/// handles one connection at a time can keep a single capacity-sized
/// scratch buffer for all of them.
///
/// Accepted framing: handshake records (content type 22) with version
/// 3.0-3.3 and payloads of 1 to 2^14 bytes, the first handshake message a
/// ClientHello (type 1). The records carrying the hello must fit within
/// capacity as their headers announce them. Bytes after the ClientHello,
/// in its last record or beyond, are not looked at: once the hello is
/// complete the result is the same with or without them.
///
/// An SSL 2.0-style hello is reported as
/// [`MalformedReason::Sslv2Hello`] (`"sslv2"`); a first record of another
/// TLS content type (alert, change_cipher_spec, application data,
/// heartbeat) as [`MalformedReason::NotHandshake`]; a first byte that
/// starts no TLS record as [`HelloOutcome::NotTls`].
pub fn parse_client_hello<'a>(input: &'a [u8], scratch: &'a mut [u8]) -> HelloOutcome<'a> {
    let capacity = scratch.len();
    let located = match locate(input, capacity, |_, _| {}) {
        Ok(located) => located,
        Err(stop) => return stop.into_outcome(),
    };
    let message: &'a [u8] = match located.body {
        Body::Contiguous(message) => message,
        Body::Fragmented { len } => {
            let Some(reassembled) = scratch.get_mut(..len) else {
                return HelloOutcome::TooLarge;
            };
            // Walk again, now copying: the walk is cheap, and doing it twice
            // only here keeps the common, single-record path copy-free.
            let copied = locate(input, capacity, |offset, piece| {
                let end = offset.saturating_add(piece.len());
                if let Some(destination) = reassembled.get_mut(offset..end) {
                    destination.copy_from_slice(piece);
                }
            });
            if let Err(stop) = copied {
                return stop.into_outcome();
            }
            reassembled
        }
    };
    match ClientHello::parse(message) {
        Ok(hello) => HelloOutcome::Hello(hello.with_record_count(located.record_count)),
        Err(reason) => HelloOutcome::Malformed(reason),
    }
}

/// Why [`locate`] stopped before finding a whole message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    NeedMore,
    NotTls,
    Malformed(MalformedReason),
    TooLarge,
}

impl Stop {
    fn into_outcome<'a>(self) -> HelloOutcome<'a> {
        match self {
            Self::NeedMore => HelloOutcome::NeedMore,
            Self::NotTls => HelloOutcome::NotTls,
            Self::Malformed(reason) => HelloOutcome::Malformed(reason),
            Self::TooLarge => HelloOutcome::TooLarge,
        }
    }
}

impl From<MalformedReason> for Stop {
    fn from(reason: MalformedReason) -> Self {
        Self::Malformed(reason)
    }
}

struct Located<'a> {
    body: Body<'a>,
    record_count: usize,
}

enum Body<'a> {
    /// The whole message body lies in one record payload.
    Contiguous(&'a [u8]),
    /// The body is spread over several records and must be copied.
    Fragmented { len: usize },
}

/// Walks records from the start of `input` until the first handshake
/// message's body is complete, handing each piece of the body to
/// `on_body(offset_in_body, piece)`.
///
/// Each check looks only at bytes before the point it guards and at
/// announced lengths, and the checks run in wire order; that is what makes
/// every stop but `NeedMore` final as the input grows.
fn locate<'a>(
    input: &'a [u8],
    capacity: usize,
    mut on_body: impl FnMut(usize, &'a [u8]),
) -> Result<Located<'a>, Stop> {
    check_first_record_start(input)?;

    let mut record_start = 0usize;
    let mut record_count = 0usize;
    // The 4-byte handshake header may itself straddle records.
    let mut handshake_header = [0u8; HANDSHAKE_HEADER_LEN];
    let mut handshake_header_len = 0usize;
    let mut body_len: Option<usize> = None;
    let mut body_seen = 0usize;
    let mut first_piece: &'a [u8] = &[];
    let mut pieces = 0usize;

    loop {
        let record = input.get(record_start..).unwrap_or_default();
        let fragment_len = check_record_header(record, record_count == 0)?;
        record_count += 1;
        let fragment_start = record_start.saturating_add(RECORD_HEADER_LEN);
        let fragment_end = fragment_start.saturating_add(fragment_len);
        if fragment_end > capacity {
            return Err(Stop::TooLarge);
        }
        let fragment_complete = input.len() >= fragment_end;
        let available = input
            .get(fragment_start..fragment_end.min(input.len()))
            .unwrap_or_default();
        let mut used = 0usize;

        while handshake_header_len < HANDSHAKE_HEADER_LEN {
            let (Some(&byte), Some(slot)) = (
                available.get(used),
                handshake_header.get_mut(handshake_header_len),
            ) else {
                break;
            };
            if handshake_header_len == 0 && byte != HANDSHAKE_CLIENT_HELLO {
                return Err(MalformedReason::NotClientHello.into());
            }
            *slot = byte;
            handshake_header_len += 1;
            used += 1;
            if handshake_header_len == HANDSHAKE_HEADER_LEN {
                let [_, high, mid, low] = handshake_header;
                let len = usize::from(high) << 16 | usize::from(mid) << 8 | usize::from(low);
                let header_end = fragment_start.saturating_add(used);
                let room_left = fragment_len.saturating_sub(used);
                if smallest_end(header_end, len, room_left) > capacity {
                    return Err(Stop::TooLarge);
                }
                body_len = Some(len);
            }
        }

        if let Some(len) = body_len {
            // Sizes come from announced lengths so the walk takes the same
            // path whether or not this record has fully arrived.
            let wanted = len.saturating_sub(body_seen);
            let from_this_record = wanted.min(fragment_len.saturating_sub(used));
            let rest = available.get(used..).unwrap_or_default();
            let piece = rest.get(..from_this_record).unwrap_or(rest);
            if !piece.is_empty() {
                if pieces == 0 {
                    first_piece = piece;
                }
                pieces += 1;
                on_body(body_seen, piece);
                body_seen = body_seen.saturating_add(piece.len());
            }
            if body_seen == len {
                let body = if pieces <= 1 {
                    Body::Contiguous(first_piece)
                } else {
                    Body::Fragmented { len }
                };
                return Ok(Located { body, record_count });
            }
        }

        if !fragment_complete {
            return Err(Stop::NeedMore);
        }
        record_start = fragment_end;
    }
}

/// The least input length that can hold a body of `len` bytes starting at
/// `header_end`, when the current record has `room_left` bytes for it and
/// every further record costs a header.
fn smallest_end(header_end: usize, len: usize, room_left: usize) -> usize {
    let overflow = len.saturating_sub(room_left);
    let extra_records = overflow.div_ceil(MAX_FRAGMENT_LEN);
    header_end
        .saturating_add(len)
        .saturating_add(extra_records.saturating_mul(RECORD_HEADER_LEN))
}

/// Tells TLS apart from SSL 2.0 and from other protocols by the first bytes.
fn check_first_record_start(input: &[u8]) -> Result<(), Stop> {
    let Some(&content_type) = input.first() else {
        return Err(Stop::NeedMore);
    };
    if content_type & 0x80 != 0 {
        // SSL 2.0 record: 2-byte length with the high bit set, then
        // msg_type 1 (CLIENT-HELLO) and a version whose major byte is 0
        // (SSL 2.0) or 3 (a v2-compatible hello offering SSL 3.0 or TLS).
        return match (input.get(2), input.get(3)) {
            (Some(1), Some(0 | 3)) => Err(MalformedReason::Sslv2Hello.into()),
            (Some(1), None) | (None, _) => Err(Stop::NeedMore),
            _ => Err(Stop::NotTls),
        };
    }
    if content_type == CONTENT_TYPE_HANDSHAKE {
        Ok(())
    } else if TLS_CONTENT_TYPES.contains(&content_type) {
        Err(MalformedReason::NotHandshake.into())
    } else {
        Err(Stop::NotTls)
    }
}

/// Checks as much of a record header as has arrived, in byte order, and
/// returns the announced payload length once all five bytes are there.
fn check_record_header(record: &[u8], is_first: bool) -> Result<usize, Stop> {
    match record.first() {
        None => return Err(Stop::NeedMore),
        Some(&CONTENT_TYPE_HANDSHAKE) => {}
        // The first record's type was vetted by check_first_record_start.
        Some(_) if is_first => return Err(MalformedReason::NotHandshake.into()),
        Some(_) => return Err(MalformedReason::InterleavedRecord.into()),
    }
    match record.get(1) {
        None => return Err(Stop::NeedMore),
        Some(3) => {}
        Some(_) => return Err(MalformedReason::RecordVersion.into()),
    }
    match record.get(2) {
        None => return Err(Stop::NeedMore),
        Some(0..=3) => {}
        Some(_) => return Err(MalformedReason::RecordVersion.into()),
    }
    let (Some(&high), Some(&low)) = (record.get(3), record.get(4)) else {
        return Err(Stop::NeedMore);
    };
    match usize::from(u16::from_be_bytes([high, low])) {
        0 => Err(MalformedReason::EmptyRecord.into()),
        len if len > MAX_FRAGMENT_LEN => Err(MalformedReason::RecordOverflow.into()),
        len => Ok(len),
    }
}
