//! MQTT: the CONNECT packet every client opens with, in versions 3.1
//! (`MQIsdp`, level 3), 3.1.1 (`MQTT`, level 4) and 5.0 (`MQTT`, level 5).

use super::reader::{Parsed, Reader, Stop};

/// Packet type 1 in the high nibble; CONNECT's flags nibble must be 0.
const CONNECT: u8 = 0x10;
const MQTT_NAME: &[u8] = b"\x00\x04MQTT";
const MQISDP_NAME: &[u8] = b"\x00\x06MQIsdp";
const LEVEL_3_1: u8 = 3;
const LEVEL_3_1_1: u8 = 4;
const LEVEL_5: u8 = 5;
/// Set by mosquitto bridges ("try_private") on top of the level.
const BRIDGE_FLAG: u8 = 0x80;
const RESERVED_FLAG: u8 = 0x01;
const WILL_QOS_SHIFT: u32 = 3;
/// Protocol name (6), level, flags, keep alive, client id length: the
/// smallest possible CONNECT body.
const MIN_REMAINING_LEN: usize = 12;

/// A CONNECT read through its connect flags.
pub(crate) struct ConnectStart<'a> {
    /// 3, 4 or 5, without the bridge flag.
    level: u8,
    /// Bounded by the remaining length: keep alive onwards.
    rest_of_packet: Reader<'a>,
}

/// Decided at the flags byte: 10 bytes for `MQTT` with a one-byte
/// remaining length, 12 for `MQIsdp`.
pub(crate) fn connect_start(bytes: &[u8]) -> Parsed<ConnectStart<'_>> {
    let mut reader = Reader::new(bytes);
    reader.literal(&[CONNECT])?;
    let remaining_len = variable_byte_integer(&mut reader)?;
    if remaining_len < MIN_REMAINING_LEN {
        return Err(Stop::Invalid);
    }
    let mut packet = reader.nested(remaining_len)?;
    let name = packet.one_of(&[MQTT_NAME, MQISDP_NAME])?;
    let level = packet.byte_where(|level| {
        let level = level & !BRIDGE_FLAG;
        if name == MQTT_NAME {
            level == LEVEL_3_1_1 || level == LEVEL_5
        } else {
            level == LEVEL_3_1
        }
    })? & !BRIDGE_FLAG;
    // Flags, keep alive, MQTT 5's property length, the client id length.
    let fixed_rest = if level == LEVEL_5 {
        1 + 2 + 1 + 2
    } else {
        1 + 2 + 2
    };
    if packet.room() < fixed_rest {
        return Err(Stop::Invalid);
    }
    packet.byte_where(|flags| {
        let will_qos = (flags >> WILL_QOS_SHIFT) & 0x03;
        flags & RESERVED_FLAG == 0 && will_qos != 3
    })?;
    Ok(ConnectStart {
        level,
        rest_of_packet: packet,
    })
}

/// The client identifier: the first field of the payload. It must lie
/// within the packet's remaining length. UTF-8 is not checked.
pub(crate) fn client_id(bytes: &[u8]) -> Parsed<&[u8]> {
    let ConnectStart {
        level,
        rest_of_packet: mut packet,
    } = connect_start(bytes)?;
    packet.take(2)?;
    if level == LEVEL_5 {
        let properties_len = variable_byte_integer(&mut packet)?;
        packet.take(properties_len)?;
    }
    let id_len = packet.uint_in(2, 0, usize::from(u16::MAX))?;
    packet.take(id_len)
}

/// MQTT's variable byte integer: 7 bits a byte, low first, at most 4 bytes.
fn variable_byte_integer(reader: &mut Reader<'_>) -> Parsed<usize> {
    let mut value: usize = 0;
    for shift in [0, 7, 14, 21] {
        let byte = reader.byte()?;
        value |= usize::from(byte & 0x7f)
            .checked_shl(shift)
            .ok_or(Stop::Invalid)?;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Stop::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mosquitto_pub` (MQTT 3.1.1): clean session, keep alive 60.
    const MOSQUITTO_3_1_1: &[u8] =
        b"\x10\x23\x00\x04MQTT\x04\x02\x00\x3c\x00\x17mosq-8BJnODfTqpfkCl0kHB";
    /// `mosquitto_pub -V 5`: no properties.
    const MOSQUITTO_5: &[u8] =
        b"\x10\x24\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x17mosq-8BJnODfTqpfkCl0kHB";
    /// MQTT 5 with Session Expiry Interval 120 and Receive Maximum 20.
    const WITH_PROPERTIES: &[u8] = b"\x10\x2c\x00\x04MQTT\x05\x02\x00\x3c\x08\x11\x00\x00\x00\x78\x21\x00\x14\x00\x17mosq-8BJnODfTqpfkCl0kHB";

    #[test]
    fn decided_at_the_connect_flags() {
        for sample in [MOSQUITTO_3_1_1, MOSQUITTO_5] {
            for len in 0..10 {
                assert_eq!(
                    connect_start(&sample[..len]).err(),
                    Some(Stop::Incomplete),
                    "{len}"
                );
            }
            assert!(connect_start(&sample[..10]).is_ok());
        }
        let mqisdp = b"\x10\x1a\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x0cmosqpub|1234";
        assert_eq!(connect_start(&mqisdp[..11]).err(), Some(Stop::Incomplete));
        assert!(connect_start(&mqisdp[..12]).is_ok());
        assert_eq!(client_id(mqisdp), Ok(&b"mosqpub|1234"[..]));
    }

    #[test]
    fn client_ids() {
        let id = &b"mosq-8BJnODfTqpfkCl0kHB"[..];
        assert_eq!(client_id(MOSQUITTO_3_1_1), Ok(id));
        assert_eq!(client_id(MOSQUITTO_5), Ok(id));
        assert_eq!(client_id(WITH_PROPERTIES), Ok(id));
        for sample in [MOSQUITTO_3_1_1, MOSQUITTO_5, WITH_PROPERTIES] {
            for len in 0..sample.len() {
                assert_eq!(client_id(&sample[..len]), Err(Stop::Incomplete), "{len}");
            }
        }
        assert_eq!(
            client_id(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"),
            Ok(&b""[..])
        );
        assert_eq!(
            client_id(b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x00"),
            Ok(&b""[..])
        );
        // A bridge announcing 3.1.1 with the private flag; then credentials.
        assert_eq!(
            client_id(b"\x10\x16\x00\x04MQTT\x84\xc2\x00\x3c\x00\x03br1\x00\x01u\x00\x02pw"),
            Ok(&b"br1"[..])
        );
    }

    #[test]
    fn long_remaining_length() {
        let mut packet = b"\x10\xc8\x01\x00\x04MQTT\x04\x02\x00\x3c\x00\xbc".to_vec();
        packet.extend(std::iter::repeat_n(b'c', 0xbc));
        assert_eq!(client_id(&packet).map(<[u8]>::len), Ok(0xbc));
    }

    #[test]
    fn near_misses() {
        for bytes in [
            &b"\x11\x23"[..],
            b"\x20\x02\x00\x00",
            b"\x10\x0b",
            b"\x10\x80\x80\x80\x80",
            b"\x10\x23\x00\x04MQTX",
            b"\x10\x23\x00\x04MQTT\x03",
            b"\x10\x23\x00\x06MQIsdp\x04",
            b"\x10\x23\x00\x04MQTT\x04\x03",
            b"\x10\x23\x00\x04MQTT\x04\x1c",
            b"\x10\x0c\x00\x04MQTT\x05",
            b"\x10\x0c\x00\x06MQIsdp\x03",
        ] {
            assert_eq!(
                connect_start(bytes).err(),
                Some(Stop::Invalid),
                "{bytes:02x?}"
            );
        }
        // Client id or properties overrunning the packet.
        assert_eq!(
            client_id(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x"),
            Err(Stop::Invalid)
        );
        assert_eq!(
            client_id(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x05"),
            Err(Stop::Invalid)
        );
        assert_eq!(
            client_id(b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x09"),
            Err(Stop::Invalid)
        );
    }
}
