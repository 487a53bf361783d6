//! TLS: a handshake record opening with a ClientHello, or the SSLv2-framed
//! ClientHello that SSL 3.0 to TLS 1.2 clients may send for compatibility.

use super::reader::{Parsed, Reader, Stop};

const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// RFC 8446 §5.1: a plaintext record carries at most 2^14 bytes.
const MAX_RECORD_LEN: usize = 1 << 14;

const SSL2_MSG_CLIENT_HELLO: u8 = 1;
/// Record header flag of the two-byte SSLv2 header form.
const SSL2_SHORT_HEADER: usize = 0x8000;
/// message type, version and three u16 lengths.
const SSL2_FIXED_LEN: usize = 9;
const SSL2_MIN_CHALLENGE: usize = 16;
const SSL2_MAX_CHALLENGE: usize = 32;
/// Each SSLv2 cipher kind is three bytes.
const SSL2_CIPHER_KIND_LEN: usize = 3;

pub(crate) fn client_hello(bytes: &[u8]) -> Parsed<()> {
    match bytes.first() {
        Some(&CONTENT_TYPE_HANDSHAKE) => record(&mut Reader::new(bytes)),
        Some(&first) if first & 0x80 != 0 => sslv2_hello(&mut Reader::new(bytes)),
        Some(_) => Err(Stop::Invalid),
        None => Err(Stop::Incomplete),
    }
}

/// `16 03 0x LL LL 01`: decided after 6 bytes.
fn record(reader: &mut Reader<'_>) -> Parsed<()> {
    reader.literal(&[CONTENT_TYPE_HANDSHAKE, 3])?;
    // SSL 3.0 up to TLS 1.3's 0x0304 (real TLS 1.3 clients send 0x0301).
    reader.uint_in(1, 0, 4)?;
    reader.uint_in(2, 1, MAX_RECORD_LEN)?;
    reader.literal(&[HANDSHAKE_CLIENT_HELLO])
}

/// The SSLv2 CLIENT-HELLO (RFC 6101 appendix E.2, RFC 5246 appendix E.2):
/// two-byte header with the high bit set, message type 1, version 0x0002 or
/// 0x0300..=0x0303, then cipher-spec, session-id and challenge lengths whose
/// sum must fill the record. Decided after 11 bytes.
fn sslv2_hello(reader: &mut Reader<'_>) -> Parsed<()> {
    let record_len = reader
        .uint_in(
            2,
            SSL2_SHORT_HEADER | SSL2_FIXED_LEN,
            SSL2_SHORT_HEADER | 0x7fff,
        )?
        .saturating_sub(SSL2_SHORT_HEADER);
    reader.literal(&[SSL2_MSG_CLIENT_HELLO])?;
    if reader.byte_where(|major| major == 0 || major == 3)? == 0 {
        reader.literal(&[2])?;
    } else {
        reader.uint_in(1, 0, 3)?;
    }
    // Each length is checked against the record as soon as it is read, so
    // that impossible sums fail at once.
    let mut declared = SSL2_FIXED_LEN.saturating_add(SSL2_MIN_CHALLENGE);
    let mut fits = |len: usize| {
        declared = declared.saturating_add(len);
        if declared <= record_len {
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    };
    let cipher_specs = reader.uint_in(2, SSL2_CIPHER_KIND_LEN, 0x7fff)?;
    if cipher_specs % SSL2_CIPHER_KIND_LEN != 0 {
        return Err(Stop::Invalid);
    }
    fits(cipher_specs)?;
    let session_id = reader.uint_in(2, 0, 16)?;
    if session_id != 0 && session_id != 16 {
        return Err(Stop::Invalid);
    }
    fits(session_id)?;
    let challenge = reader.uint_in(2, SSL2_MIN_CHALLENGE, SSL2_MAX_CHALLENGE)?;
    fits(challenge.saturating_sub(SSL2_MIN_CHALLENGE))?;
    if declared == record_len {
        Ok(())
    } else {
        Err(Stop::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of a TLS 1.3 ClientHello as curl sends it: record header,
    /// handshake header, legacy_version 0x0303.
    const CLIENT_HELLO_START: &[u8] = &[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];

    /// An SSLv2-framed hello offering TLS 1.0: 3 cipher kinds (9 bytes), no
    /// session id, 16-byte challenge: 9 + 9 + 16 = 34 = 0x22.
    fn sslv2_hello_bytes() -> Vec<u8> {
        let mut hello = vec![
            0x80, 0x22, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
        ];
        hello.extend_from_slice(&[0x01, 0x00, 0x80, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x35]);
        hello.extend_from_slice(&[0x5a; 16]);
        hello
    }

    #[test]
    fn record_header_decides_after_six_bytes() {
        assert_eq!(
            client_hello(&CLIENT_HELLO_START[..5]),
            Err(Stop::Incomplete)
        );
        assert_eq!(client_hello(&CLIENT_HELLO_START[..6]), Ok(()));
        assert_eq!(client_hello(CLIENT_HELLO_START), Ok(()));
        for minor in 0..=4 {
            assert_eq!(client_hello(&[0x16, 0x03, minor, 0x00, 0x30, 0x01]), Ok(()));
        }
    }

    #[test]
    fn record_near_misses() {
        // Version 3.5, SSL 2 major, zero and oversized lengths, not a ClientHello.
        assert_eq!(client_hello(&[0x16, 0x03, 0x05]), Err(Stop::Invalid));
        assert_eq!(client_hello(&[0x16, 0x02]), Err(Stop::Invalid));
        assert_eq!(
            client_hello(&[0x16, 0x03, 0x01, 0x00, 0x00]),
            Err(Stop::Invalid)
        );
        assert_eq!(
            client_hello(&[0x16, 0x03, 0x01, 0x40, 0x01]),
            Err(Stop::Invalid)
        );
        assert_eq!(client_hello(&[0x16, 0x03, 0x01, 0x41]), Err(Stop::Invalid));
        assert_eq!(
            client_hello(&[0x16, 0x03, 0x03, 0x00, 0x30, 0x02]),
            Err(Stop::Invalid)
        );
        // An application-data or alert record is no ClientHello.
        assert_eq!(client_hello(&[0x17, 0x03, 0x03]), Err(Stop::Invalid));
        assert_eq!(client_hello(&[0x15, 0x03, 0x03]), Err(Stop::Invalid));
    }

    #[test]
    fn sslv2_hello_decides_after_eleven_bytes() {
        let hello = sslv2_hello_bytes();
        for len in 1..11 {
            assert_eq!(client_hello(&hello[..len]), Err(Stop::Incomplete), "{len}");
        }
        assert_eq!(client_hello(&hello[..11]), Ok(()));
        assert_eq!(client_hello(&hello), Ok(()));
        // Pure SSL 2.0 (version 0x0002) is accepted as well.
        let mut ssl2 = hello.clone();
        ssl2[3] = 0x00;
        ssl2[4] = 0x02;
        assert_eq!(client_hello(&ssl2), Ok(()));
    }

    #[test]
    fn sslv2_near_misses() {
        let hello = sslv2_hello_bytes();
        let mutate = |at: usize, value: u8| {
            let mut bytes = hello.clone();
            bytes[at] = value;
            client_hello(&bytes)
        };
        assert_eq!(
            mutate(1, 0x23),
            Err(Stop::Invalid),
            "lengths do not fill the record"
        );
        assert_eq!(mutate(2, 0x02), Err(Stop::Invalid), "not CLIENT-HELLO");
        assert_eq!(mutate(3, 0x02), Err(Stop::Invalid), "major 2");
        assert_eq!(
            mutate(4, 0x04),
            Err(Stop::Invalid),
            "TLS 1.3 never uses SSLv2 framing"
        );
        assert_eq!(
            mutate(6, 0x08),
            Err(Stop::Invalid),
            "cipher specs not a multiple of 3"
        );
        assert_eq!(
            mutate(8, 0x08),
            Err(Stop::Invalid),
            "session id neither 0 nor 16"
        );
        assert_eq!(mutate(10, 0x0f), Err(Stop::Invalid), "challenge too short");
        assert_eq!(
            client_hello(&[0x80, 0x08]),
            Err(Stop::Invalid),
            "record too short"
        );
    }
}
