//! RDP: the X.224 Connection Request that opens every RDP connection
//! ([MS-RDPBCGR] 2.2.1.1): a TPKT header (RFC 1006 / T.123 §8) and an X.224
//! class 0 CR TPDU (X.224 §13.3).

use super::reader::{Parsed, Reader};

const TPKT_VERSION: u8 = 3;
const TPKT_HEADER_LEN: usize = 4;
/// TPKT header, then the 7-byte fixed part of the CR TPDU.
const MIN_PACKET_LEN: usize = 11;
/// The length indicator is one byte and 255 is reserved, so the TPDU
/// (its LI byte plus LI bytes) ends within 4 + 1 + 254 bytes.
const MAX_PACKET_LEN: usize = 259;
/// CR code 1110 with a zero credit, as class 0 requires.
const CONNECTION_REQUEST: u8 = 0xe0;

/// `03 00 LEN(2) LI E0 DST-REF(2) SRC-REF(2) CLASS`, decided after those 11
/// bytes. LI must equal the TPKT length minus the TPKT header and the LI
/// byte itself (servers drop a CR whose lengths disagree, [MS-RDPBCGR]
/// 3.3.5.3.1). The references are not checked: servers ignore them.
pub(crate) fn connection_request(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::new(bytes);
    reader.literal(&[TPKT_VERSION, 0])?;
    let packet_len = reader.uint_in(2, MIN_PACKET_LEN, MAX_PACKET_LEN)?;
    let length_indicator = packet_len.saturating_sub(TPKT_HEADER_LEN + 1);
    reader.uint_in(1, length_indicator, length_indicator)?;
    reader.literal(&[CONNECTION_REQUEST])?;
    reader.take(4)?;
    // Class 0 in the high nibble; servers refuse any other class.
    reader.byte_where(|class_and_options| class_and_options >> 4 == 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reader::Stop;

    /// mstsc: cookie `mstshash=user`, RDP_NEG_REQ for TLS, CredSSP and
    /// CredSSP with early user authorization (0x0b).
    const MSTSC: &[u8] = b"\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00Cookie: mstshash=user\r\n\x01\x00\x08\x00\x0b\x00\x00\x00";

    #[test]
    fn mstsc_connection_request() {
        assert_eq!(MSTSC.len(), 0x2a);
        for len in 0..MIN_PACKET_LEN {
            assert_eq!(
                connection_request(&MSTSC[..len]),
                Err(Stop::Incomplete),
                "{len}"
            );
        }
        for len in MIN_PACKET_LEN..=MSTSC.len() {
            assert_eq!(connection_request(&MSTSC[..len]), Ok(()));
        }
        // The bare minimum: no cookie, no negotiation request.
        assert_eq!(
            connection_request(b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x12\x34\x00"),
            Ok(())
        );
    }

    #[test]
    fn near_misses() {
        let mutate = |at: usize, value: u8| {
            let mut bytes = MSTSC.to_vec();
            bytes[at] = value;
            connection_request(&bytes)
        };
        assert_eq!(mutate(1, 0x01), Err(Stop::Invalid), "TPKT reserved byte");
        assert_eq!(mutate(2, 0x02), Err(Stop::Invalid), "TPKT length too large");
        assert_eq!(mutate(3, 0x0a), Err(Stop::Invalid), "TPKT length too small");
        assert_eq!(
            mutate(4, 0x24),
            Err(Stop::Invalid),
            "LI disagrees with TPKT length"
        );
        assert_eq!(
            mutate(5, 0xd0),
            Err(Stop::Invalid),
            "Connection Confirm, not Request"
        );
        assert_eq!(mutate(5, 0xf0), Err(Stop::Invalid), "Data TPDU");
        assert_eq!(mutate(10, 0x40), Err(Stop::Invalid), "class 4");
        assert_eq!(connection_request(b"\x03\x00\x01\x04"), Err(Stop::Invalid));
    }
}
