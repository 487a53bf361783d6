//! OpenVPN over TCP: the client's first packet, a control-channel hard
//! reset. On TCP each packet is framed by a big-endian u16 length; then
//! comes the opcode (high 5 bits) and key id (low 3 bits), the 8-byte
//! session id, and fields whose layout depends on `tls-auth`/`tls-crypt`.

use super::reader::{Parsed, Reader, Stop};

/// `P_CONTROL_HARD_RESET_CLIENT_V2 << 3 | key_id 0`.
const HARD_RESET_CLIENT_V2: u8 = 7 << 3;
/// `P_CONTROL_HARD_RESET_CLIENT_V3 << 3 | key_id 0` (tls-crypt-v2).
const HARD_RESET_CLIENT_V3: u8 = 10 << 3;

/// Plausible packet lengths, as OpenVPN's own port-share check has them:
/// opcode + session id + ack count + packet id is 14 bytes, and HMACs or
/// early-negotiation data stay within 255.
const V2_LENGTHS: core::ops::RangeInclusive<usize> = 14..=255;
/// tls-crypt-v2 carries the wrapped client key: at least 336 bytes in all,
/// and the key is at most 1024 bytes plus overhead.
const V3_LENGTHS: core::ops::RangeInclusive<usize> = 336..=1278;

/// Decided once the whole first packet is in: 16..=257 bytes for V2,
/// 338..=1280 for V3. The opcode and length alone are only three bytes, too
/// few to tell OpenVPN from noise; the client always sends the whole packet
/// and then waits for the server's reset, so waiting for it costs nothing.
pub(crate) fn hard_reset(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::new(bytes);
    let packet_len = reader.uint_in(2, *V2_LENGTHS.start(), *V3_LENGTHS.end())?;
    let expected_opcode = if V2_LENGTHS.contains(&packet_len) {
        HARD_RESET_CLIENT_V2
    } else if V3_LENGTHS.contains(&packet_len) {
        HARD_RESET_CLIENT_V3
    } else {
        return Err(Stop::Invalid);
    };
    reader.literal(&[expected_opcode])?;
    reader.take(packet_len.saturating_sub(1))?;
    Ok(())
}

/// The same hard reset as the first UDP datagram, which carries one packet
/// without the length prefix: the datagram's length is the packet's, and
/// must fit the opcode's range. (The session id and what follows are
/// checked by the caller, `datagram::classify`.)
pub(crate) fn hard_reset_datagram(packet: &[u8]) -> bool {
    let expected_opcode = if V2_LENGTHS.contains(&packet.len()) {
        HARD_RESET_CLIENT_V2
    } else if V3_LENGTHS.contains(&packet.len()) {
        HARD_RESET_CLIENT_V3
    } else {
        return false;
    };
    packet.first() == Some(&expected_opcode)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A V2 hard reset without tls-auth: opcode, session id, no acks,
    /// message packet id 0.
    const PLAIN_V2: &[u8] = &[
        0x00, 0x0e, 0x38, 0x8a, 0x3e, 0x20, 0x51, 0xd2, 0x7c, 0x90, 0x04, 0x00, 0x00, 0x00, 0x00,
        0x00,
    ];

    /// With tls-auth (SHA1): session id, 20-byte HMAC, replay packet id and
    /// time, no acks, message packet id 0: 1 + 8 + 20 + 8 + 1 + 4 = 42.
    fn tls_auth_v2() -> Vec<u8> {
        let mut packet = vec![0x00, 42, HARD_RESET_CLIENT_V2];
        packet.extend_from_slice(&[0x11; 8]);
        packet.extend_from_slice(&[0xa7; 20]);
        packet.extend_from_slice(&[0x00, 0x00, 0x00, 0x01, 0x65, 0x4b, 0x1a, 0x2c]);
        packet.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x00]);
        packet
    }

    #[test]
    fn plain_v2_needs_the_whole_packet() {
        for len in 0..PLAIN_V2.len() {
            assert_eq!(hard_reset(&PLAIN_V2[..len]), Err(Stop::Incomplete), "{len}");
        }
        assert_eq!(hard_reset(PLAIN_V2), Ok(()));
        let with_auth = tls_auth_v2();
        assert_eq!(
            hard_reset(&with_auth[..with_auth.len() - 1]),
            Err(Stop::Incomplete)
        );
        assert_eq!(hard_reset(&with_auth), Ok(()));
    }

    #[test]
    fn v3_lengths() {
        let mut packet = vec![0x01, 0x50, HARD_RESET_CLIENT_V3];
        packet.resize(2 + 0x150, 0x42);
        assert_eq!(
            hard_reset(&packet[..packet.len() - 1]),
            Err(Stop::Incomplete)
        );
        assert_eq!(hard_reset(&packet), Ok(()));
        // A V3 length with the V2 opcode, and the other way round.
        assert_eq!(
            hard_reset(&[0x01, 0x50, HARD_RESET_CLIENT_V2]),
            Err(Stop::Invalid)
        );
        assert_eq!(
            hard_reset(&[0x00, 0x0e, HARD_RESET_CLIENT_V3]),
            Err(Stop::Invalid)
        );
    }

    #[test]
    fn near_misses() {
        for bytes in [
            &[0x00, 0x0d][..],
            &[0x01, 0x4f],
            &[0x04, 0xff],
            &[0x05],
            &[0x00, 0x0e, 0x39],
            &[0x00, 0x0e, 0x08],
            &[0x00, 0x0e, 0x20],
        ] {
            assert_eq!(hard_reset(bytes), Err(Stop::Invalid), "{bytes:02x?}");
        }
        assert_eq!(hard_reset(&[0x00]), Err(Stop::Incomplete));
        assert_eq!(hard_reset(&[0x04]), Err(Stop::Incomplete));
    }
}
