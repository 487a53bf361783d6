//! Android Debug Bridge over TCP (AOSP `adb/protocol.txt`): the host's
//! first packet is CNXN, a 24-byte header of six little-endian u32s
//! (command, arg0 = protocol version, arg1 = max payload, payload length,
//! payload checksum, magic = command ^ 0xffffffff), then the payload, the
//! host's banner `host::features=...`.

use super::reader::{Parsed, Reader};

/// `CNXN` as a little-endian u32 (0x4e584e43) reads as the ASCII letters.
const CNXN: &[u8] = b"CNXN";
/// `!0x4e584e43` in little-endian byte order.
const CNXN_MAGIC: &[u8] = &[0xbc, 0xb1, 0xa7, 0xb1];
/// A_VERSION_MIN 0x01000000 and A_VERSION 0x01000001, little endian.
const VERSIONS: [&[u8]; 2] = [&[0x00, 0x00, 0x00, 0x01], &[0x01, 0x00, 0x00, 0x01]];
/// adb's MAX_PAYLOAD since protocol 0x01000001 (older hosts say 4096).
const MAX_PAYLOAD: usize = 1 << 20;

/// Decided after the 24-byte header; the payload length must fit the
/// announced maximum.
pub(crate) fn connect(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::new(bytes);
    reader.literal(CNXN)?;
    reader.one_of(&VERSIONS)?;
    let max_payload = reader.uint_le_in(4, 1, MAX_PAYLOAD)?;
    reader.uint_le_in(4, 0, max_payload)?;
    // The checksum: a byte sum before 0x01000001, often 0 since.
    reader.take(4)?;
    reader.literal(CNXN_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reader::Stop;

    /// `adb connect 127.0.0.1:PORT` (adb 1.0.41, Debian 29.0.6): header,
    /// then 119 bytes of banner.
    const ADB_HEADER: &[u8] = b"CNXN\x01\x00\x00\x01\x00\x00\x10\x00\x77\x00\x00\x00\x40\x2e\x00\x00\xbc\xb1\xa7\xb1host::features=shell_v2";

    #[test]
    fn decided_after_the_header() {
        for len in 0..24 {
            assert_eq!(connect(&ADB_HEADER[..len]), Err(Stop::Incomplete), "{len}");
        }
        assert_eq!(connect(&ADB_HEADER[..24]), Ok(()));
        assert_eq!(connect(ADB_HEADER), Ok(()));
        let old = b"CNXN\x00\x00\x00\x01\x00\x10\x00\x00\x07\x00\x00\x00\x32\x02\x00\x00\xbc\xb1\xa7\xb1host::\x00";
        assert_eq!(connect(old), Ok(()));
    }

    #[test]
    fn near_misses() {
        for bytes in [
            &b"CNXM"[..],
            b"OPEN",
            b"CNXN\x02\x00\x00\x01",
            b"CNXN\x01\x00\x00\x02",
            // Max payload 0, then 1 MiB + 1.
            b"CNXN\x01\x00\x00\x01\x00\x00\x00\x00",
            b"CNXN\x01\x00\x00\x01\x01\x00\x10\x00",
            // Payload longer than the announced maximum (4096).
            b"CNXN\x01\x00\x00\x01\x00\x10\x00\x00\x01\x10\x00\x00",
            b"CNXN\x01\x00\x00\x01\x00\x00\x10\x00\x77\x00\x00\x00\x40\x2e\x00\x00\xbc\xb1\xa7\xb0",
        ] {
            assert_eq!(connect(bytes), Err(Stop::Invalid), "{bytes:02x?}");
        }
    }
}
