//! SOCKS: the SOCKS4/4a request and the SOCKS5 method greeting (RFC 1928 §3).

use super::reader::{Parsed, Reader, Stop};

const SOCKS4_VERSION: u8 = 4;
const SOCKS4_CONNECT: u8 = 1;
const SOCKS4_BIND: u8 = 2;
/// Neither protocol bounds the user id; this keeps the decision bounded.
const MAX_USER_ID_LEN: usize = 255;
/// A DNS name has at most 253 characters; a little slack for a final dot.
const MAX_DOMAIN_LEN: usize = 255;

const SOCKS5_VERSION: u8 = 5;

/// `04 CMD PORT(2) IP(4) USERID 00`, and for SOCKS4a (IP 0.0.0.x, x != 0)
/// `DOMAIN 00` after it. Decided at the last NUL: 9 bytes at least.
pub(crate) fn socks4_request(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::new(bytes);
    reader.literal(&[SOCKS4_VERSION])?;
    reader.byte_where(|command| command == SOCKS4_CONNECT || command == SOCKS4_BIND)?;
    // Port 0 cannot be connected to.
    reader.uint_in(2, 1, usize::from(u16::MAX))?;
    let address = reader.take(4)?;
    let socks4a = match address {
        [0, 0, 0, 0] => return Err(Stop::Invalid),
        [0, 0, 0, _] => true,
        _ => false,
    };
    // User ids are names: printable ASCII keeps binary protocols out.
    reader.until(0, MAX_USER_ID_LEN, |byte| matches!(byte, 0x20..=0x7e))?;
    if socks4a {
        let domain = reader.until(0, MAX_DOMAIN_LEN, |byte| matches!(byte, 0x21..=0x7e))?;
        if domain.is_empty() {
            return Err(Stop::Invalid);
        }
    }
    Ok(())
}

/// `05 NMETHODS METHODS...`, decided after the last method: 3 bytes for
/// the common `05 01 00`. Each method must be IANA-assigned (0x00..=0x09)
/// or private (0x80..=0xFE); 0xFF is the server's "no acceptable method".
pub(crate) fn socks5_greeting(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::new(bytes);
    reader.literal(&[SOCKS5_VERSION])?;
    let method_count = reader.byte_where(|count| count >= 1)?;
    reader.take_where(
        usize::from(method_count),
        |method| matches!(method, 0x00..=0x09 | 0x80..=0xfe),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `curl --socks4 ...` to 93.184.215.14:80 with an empty user id.
    const CURL_SOCKS4: &[u8] = &[0x04, 0x01, 0x00, 0x50, 0x5d, 0xb8, 0xd7, 0x0e, 0x00];
    /// `curl --socks4a ...` to example.com:443, user id "alice".
    const SOCKS4A: &[u8] = b"\x04\x01\x01\xbb\x00\x00\x00\x01alice\x00example.com\x00";

    #[test]
    fn socks4_connect() {
        for len in 0..CURL_SOCKS4.len() {
            assert_eq!(socks4_request(&CURL_SOCKS4[..len]), Err(Stop::Incomplete));
        }
        assert_eq!(socks4_request(CURL_SOCKS4), Ok(()));
        assert_eq!(
            socks4_request(b"\x04\x02\x1f\x90\x0a\x00\x00\x01user name\x00"),
            Ok(())
        );
    }

    #[test]
    fn socks4a_needs_the_domain() {
        for len in 0..SOCKS4A.len() {
            assert_eq!(
                socks4_request(&SOCKS4A[..len]),
                Err(Stop::Incomplete),
                "{len}"
            );
        }
        assert_eq!(socks4_request(SOCKS4A), Ok(()));
    }

    #[test]
    fn socks4_near_misses() {
        for bytes in [
            &b"\x04\x03"[..],
            b"\x04\x01\x00\x00",
            b"\x04\x01\x00\x50\x00\x00\x00\x00\x00",
            b"\x04\x01\x00\x50\x5d\xb8\xd7\x0e\x01\x00",
            b"\x04\x01\x00\x50\x5d\xb8\xd7\x0eab\xff",
            b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00",
            b"\x04\x01\x00\x50\x00\x00\x00\x01\x00exa mple\x00",
        ] {
            assert_eq!(socks4_request(bytes), Err(Stop::Invalid), "{bytes:02x?}");
        }
        let mut long_user = CURL_SOCKS4[..8].to_vec();
        long_user.resize(8 + MAX_USER_ID_LEN, b'u');
        assert_eq!(socks4_request(&long_user), Err(Stop::Incomplete));
        long_user.push(b'u');
        assert_eq!(socks4_request(&long_user), Err(Stop::Invalid));
    }

    #[test]
    fn socks5_greetings() {
        assert_eq!(socks5_greeting(&[0x05]), Err(Stop::Incomplete));
        assert_eq!(socks5_greeting(&[0x05, 0x01]), Err(Stop::Incomplete));
        assert_eq!(socks5_greeting(&[0x05, 0x01, 0x00]), Ok(()));
        assert_eq!(socks5_greeting(&[0x05, 0x02, 0x00]), Err(Stop::Incomplete));
        assert_eq!(socks5_greeting(&[0x05, 0x02, 0x00, 0x02]), Ok(()));
        assert_eq!(socks5_greeting(&[0x05, 0x03, 0x00, 0x01, 0x80]), Ok(()));
        // A client that pipelines its CONNECT after the greeting.
        assert_eq!(
            socks5_greeting(&[0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01]),
            Ok(())
        );
    }

    #[test]
    fn socks5_near_misses() {
        assert_eq!(socks5_greeting(&[0x05, 0x00]), Err(Stop::Invalid));
        assert_eq!(socks5_greeting(&[0x05, 0x01, 0x0a]), Err(Stop::Invalid));
        assert_eq!(
            socks5_greeting(&[0x05, 0x02, 0x00, 0xff]),
            Err(Stop::Invalid)
        );
        assert_eq!(socks5_greeting(&[0x05, 0x03, 0x7f]), Err(Stop::Invalid));
        assert_eq!(socks5_greeting(&[0x04, 0x01, 0x00]), Err(Stop::Invalid));
    }
}
