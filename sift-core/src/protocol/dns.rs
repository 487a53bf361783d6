//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message is framed by a
//! big-endian u16 length; the client's first message is a query, a 12-byte
//! header and one question (QNAME, QTYPE, QCLASS), possibly followed by an
//! OPT record (EDNS), a TSIG record or, for IXFR, an SOA in the authority
//! section.

use super::reader::{Parsed, Reader, Stop};
use super::DnsQuery;

const HEADER_LEN: usize = 12;
/// Header, the root name (one byte), QTYPE and QCLASS.
const MIN_MESSAGE_LEN: usize = HEADER_LEN + 1 + 4;
/// Queries are small: a maximal name (255 bytes) with an EDNS cookie
/// takes 294 bytes. 300 keeps DNS clear of OpenVPN's V3 lengths (336 and
/// up) and of what lies between them and V2's (256..=335).
const MAX_MESSAGE_LEN: usize = 300;
/// RFC 1035 §2.3.4, in wire form with the length bytes and the root label.
const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: u8 = 63;
/// The smallest resource record: root owner, TYPE, CLASS, TTL, RDLENGTH.
const MIN_RECORD_LEN: usize = 1 + 2 + 2 + 4 + 2;
/// QTYPE and QCLASS after the name.
const TYPE_AND_CLASS_LEN: usize = 4;
/// IN, CH, HS, NONE, ANY.
const CLASSES: [&[u8]; 5] = [&[0, 1], &[0, 3], &[0, 4], &[0, 0xfe], &[0, 0xff]];

/// Decided once the question is complete: for a query without records
/// after it (kdig's default) that is the whole message; with an OPT record
/// (dig's default) the question ends 11 or more bytes before it.
pub(crate) fn query(bytes: &[u8]) -> Parsed<DnsQuery<'_>> {
    let mut reader = Reader::new(bytes);
    let message_len = reader.uint_in(2, MIN_MESSAGE_LEN, MAX_MESSAGE_LEN)?;
    let mut message = reader.nested(message_len)?;
    // ID: any.
    message.take(2)?;
    // QR 0 (a query), OPCODE 0 (QUERY), AA 0, TC 0; RD either.
    message.byte_where(|flags| flags & 0xfe == 0)?;
    // RA 0, Z 0, RCODE 0; AD and CD either (dig sets AD).
    message.byte_where(|flags| flags & 0xcf == 0)?;
    // QDCOUNT 1, ANCOUNT 0.
    message.literal(&[0, 1, 0, 0])?;
    // NSCOUNT: IXFR carries the client's SOA. ARCOUNT: OPT and TSIG.
    let authority = message.uint_in(2, 0, 1)?;
    let additional = message.uint_in(2, 0, 2)?;
    let records_len = authority
        .saturating_add(additional)
        .saturating_mul(MIN_RECORD_LEN);
    let question_room = message
        .room()
        .checked_sub(records_len)
        .ok_or(Stop::Invalid)?;
    let mut question = message.nested(question_room)?;
    let name = name(&mut question, records_len == 0)?;
    let qtype = question.uint_in(2, 1, usize::from(u16::MAX))?;
    let qclass = question.one_of(&CLASSES)?;
    Ok(DnsQuery {
        name,
        qtype: u16::try_from(qtype).map_err(|_| Stop::Invalid)?,
        qclass: qclass
            .get(1)
            .map(|&low| u16::from(low))
            .ok_or(Stop::Invalid)?,
    })
}

/// An uncompressed QNAME of visible-ASCII labels. Each label is refused as
/// soon as its length byte shows it cannot fit, with the root label and
/// QTYPE/QCLASS, into the question's room; when nothing follows the
/// question (`exact`), the root label must leave exactly those 4 bytes.
fn name<'a>(question: &mut Reader<'a>, exact: bool) -> Parsed<&'a [u8]> {
    let start = question.rest();
    let mut name_len: usize = 0;
    loop {
        let label_len = question.byte_where(|len| len <= MAX_LABEL_LEN)?;
        let label_len = usize::from(label_len);
        name_len = name_len.saturating_add(1).saturating_add(label_len);
        let root_after = usize::from(label_len != 0);
        let needed = label_len
            .saturating_add(root_after)
            .saturating_add(TYPE_AND_CLASS_LEN);
        if needed > question.room() || name_len.saturating_add(root_after) > MAX_NAME_LEN {
            return Err(Stop::Invalid);
        }
        if label_len == 0 {
            if exact && question.room() != TYPE_AND_CLASS_LEN {
                return Err(Stop::Invalid);
            }
            return start.get(..name_len).ok_or(Stop::Invalid);
        }
        question.take_where(label_len, |byte| matches!(byte, 0x21..=0x7e))?;
    }
}

impl<'a> DnsQuery<'a> {
    /// The labels of [`DnsQuery::name`], root excluded: `www`, `example`,
    /// `net` for `www.example.net`; none for the root.
    pub fn labels(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut rest = self.name;
        core::iter::from_fn(move || {
            let (&len, after) = rest.split_first()?;
            let (label, next) = after.split_at_checked(usize::from(len))?;
            rest = next;
            if label.is_empty() {
                None
            } else {
                Some(label)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kdig +tcp www.example.net AAAA`: no EDNS, the question ends the
    /// message.
    const KDIG: &[u8] = b"\x00\x21\xd7\x11\x01\x20\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03net\x00\x00\x1c\x00\x01";

    fn query_message(flags: [u8; 2], counts: [u8; 8], question: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut body = vec![0x12, 0x34];
        body.extend_from_slice(&flags);
        body.extend_from_slice(&counts);
        body.extend_from_slice(question);
        body.extend_from_slice(tail);
        let mut message = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        message.extend_from_slice(&body);
        message
    }

    #[test]
    fn kdig_is_decided_at_the_last_byte() {
        for len in 0..KDIG.len() {
            assert_eq!(query(&KDIG[..len]).err(), Some(Stop::Incomplete), "{len}");
        }
        let parsed = query(KDIG).unwrap();
        assert_eq!(parsed.name, b"\x03www\x07example\x03net\x00");
        assert_eq!((parsed.qtype, parsed.qclass), (28, 1));
        let labels: Vec<&[u8]> = parsed.labels().collect();
        assert_eq!(labels, [&b"www"[..], b"example", b"net"]);
    }

    #[test]
    fn records_after_the_question() {
        let opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";
        let counts = [0, 1, 0, 0, 0, 0, 0, 1];
        let with_opt = query_message([0x01, 0x20], counts, b"\x01a\x00\x00\x01\x00\x01", opt);
        let question_end = 2 + 12 + 7;
        assert_eq!(
            query(&with_opt[..question_end - 1]).err(),
            Some(Stop::Incomplete)
        );
        assert!(query(&with_opt[..question_end]).is_ok());
        // The OPT record announced but no room left for it.
        let cramped = query_message([0x01, 0x20], counts, b"\x01a\x00\x00\x01\x00\x01", b"");
        assert_eq!(query(&cramped[..16]).err(), Some(Stop::Invalid));
        // IXFR: the SOA in the authority section.
        let ixfr = query_message(
            [0x00, 0x00],
            [0, 1, 0, 0, 0, 1, 0, 0],
            b"\x01a\x00\x00\xfb\x00\x01",
            &[0; 30],
        );
        assert_eq!(query(&ixfr).unwrap().qtype, 251);
    }

    #[test]
    fn near_misses() {
        let question = b"\x01a\x00\x00\x01\x00\x01";
        let counts = [0, 1, 0, 0, 0, 0, 0, 0];
        for (what, bytes) in [
            (
                "response",
                query_message([0x81, 0x80], counts, question, b""),
            ),
            (
                "opcode 5",
                query_message([0x28, 0x00], counts, question, b""),
            ),
            ("rcode", query_message([0x01, 0x03], counts, question, b"")),
            (
                "two questions",
                query_message([0x01, 0x00], [0, 2, 0, 0, 0, 0, 0, 0], question, b""),
            ),
            (
                "an answer",
                query_message([0x01, 0x00], [0, 1, 0, 1, 0, 0, 0, 0], question, b""),
            ),
            (
                "pointer",
                query_message([0x01, 0x00], counts, b"\xc0\x0c\x00\x01\x00\x01", b""),
            ),
            (
                "qtype 0",
                query_message([0x01, 0x00], counts, b"\x01a\x00\x00\x00\x00\x01", b""),
            ),
            (
                "class 2",
                query_message([0x01, 0x00], counts, b"\x01a\x00\x00\x01\x00\x02", b""),
            ),
            (
                "space in label",
                query_message([0x01, 0x00], counts, b"\x01 \x00\x00\x01\x00\x01", b""),
            ),
            (
                "trailing bytes",
                query_message([0x01, 0x00], counts, question, b"\x00"),
            ),
        ] {
            assert_eq!(query(&bytes).err(), Some(Stop::Invalid), "{what}");
        }
        // Lengths outside 17..=300, and postgres's 00 00.
        for bytes in [&b"\x00\x10"[..], b"\x01\x2d", b"\x02", b"\x00\x00"] {
            assert_eq!(query(bytes).err(), Some(Stop::Invalid), "{bytes:02x?}");
        }
    }

    #[test]
    fn name_limits_are_checked_at_the_length_byte() {
        let counts = [0, 1, 0, 0, 0, 0, 0, 0];
        // A label longer than what is left of the message.
        let message = query_message([0x01, 0x00], counts, b"\x05abc\x00\x00\x01\x00\x01", b"");
        assert_eq!(query(&message[..15]).err(), Some(Stop::Invalid));
        // Label length 64.
        let mut long = query_message([0x01, 0x00], counts, &[0x40], &[b'a'; 100]);
        long.truncate(15);
        assert_eq!(query(&long).err(), Some(Stop::Invalid));
        // 255 bytes of name is the limit: four labels of 63 and the root.
        let mut name = Vec::new();
        for _ in 0..3 {
            name.push(63);
            name.extend_from_slice(&[b'x'; 63]);
        }
        name.push(61);
        name.extend_from_slice(&[b'y'; 61]);
        name.push(0);
        assert_eq!(name.len(), 255);
        let mut question = name.clone();
        question.extend_from_slice(&[0, 1, 0, 1]);
        assert!(query(&query_message([0x01, 0x00], counts, &question, b"")).is_ok());
        let mut over = name[..254 - 62].to_vec();
        over.push(62);
        over.extend_from_slice(&[b'y'; 62]);
        over.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(
            query(&query_message([0x01, 0x00], counts, &over, b"")).err(),
            Some(Stop::Invalid)
        );
    }
}
