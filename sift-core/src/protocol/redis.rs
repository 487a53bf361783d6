//! Redis: a RESP array of bulk strings, the form every client library and
//! `redis-cli` send commands in (`*<n>\r\n$<len>\r\n<NAME>\r\n...`).

use super::reader::{Parsed, Reader, Stop};

/// Redis answers a larger multibulk count with a protocol error.
const MAX_ARGUMENTS: usize = i32::MAX as usize;
/// Command names are short (the longest module commands have ~20 bytes).
const MAX_COMMAND_NAME_LEN: usize = 64;

/// Decided after the first element, the command name, and its CRLF; e.g.
/// 14 bytes for `*1\r\n$4\r\nPING\r\n`.
pub(crate) fn command(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::new(bytes);
    reader.literal(b"*")?;
    decimal(&mut reader, MAX_ARGUMENTS)?;
    reader.literal(b"\r\n$")?;
    let name_len = decimal(&mut reader, MAX_COMMAND_NAME_LEN)?;
    reader.literal(b"\r\n")?;
    reader.take_where(name_len, is_command_name_byte)?;
    reader.literal(b"\r\n")
}

/// A positive decimal without sign or leading zeros, at most `max`.
fn decimal(reader: &mut Reader<'_>, max: usize) -> Parsed<usize> {
    let first = reader.byte_where(|byte| matches!(byte, b'1'..=b'9'))?;
    let mut value = usize::from(first.wrapping_sub(b'0'));
    loop {
        match reader.rest().first() {
            Some(byte) if byte.is_ascii_digit() => {
                value = value
                    .checked_mul(10)
                    .and_then(|tens| tens.checked_add(usize::from(byte.wrapping_sub(b'0'))))
                    .filter(|&value| value <= max)
                    .ok_or(Stop::Invalid)?;
                reader.byte()?;
            }
            Some(_) => return Ok(value),
            None => return Err(Stop::Incomplete),
        }
    }
}

/// Letters and digits, plus the `.`, `_` and `-` of module commands such
/// as `JSON.SET` or `FT._LIST`.
const fn is_command_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";

    #[test]
    fn redis_cli_commands() {
        for len in 0..PING.len() {
            assert_eq!(command(&PING[..len]), Err(Stop::Incomplete), "{len}");
        }
        assert_eq!(command(PING), Ok(()));
        assert_eq!(command(&SET[..13]), Ok(()));
        assert_eq!(command(SET), Ok(()));
        assert_eq!(command(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"), Ok(()));
        assert_eq!(command(b"*2\r\n$8\r\nJSON.GET\r\n$1\r\nk\r\n"), Ok(()));
        assert_eq!(command(b"*1000\r\n$4\r\nMSET\r\n"), Ok(()));
    }

    #[test]
    fn near_misses() {
        for bytes in [
            &b"*0\r\n"[..],
            b"*-1\r\n",
            b"*01\r\n",
            b"*1\n$4\r\nPING\r\n",
            b"*1\r\n:4\r\n",
            b"*1\r\n$0\r\n\r\n",
            b"*1\r\n$65\r\n",
            b"*1\r\n$4\r\nPI G\r\n",
            b"*1\r\n$4\r\nPING\n",
            b"*1\r\n$4\r\nPINGS\r\n",
            b"*99999999999\r\n",
            b"PING\r\n",
        ] {
            assert_eq!(
                command(bytes),
                Err(Stop::Invalid),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // Even before the name is complete a bad byte is final.
        assert_eq!(command(b"*1\r\n$4\r\nP\x00"), Err(Stop::Invalid));
        assert_eq!(command(b"*1\r\n$4\r\nPI"), Err(Stop::Incomplete));
    }
}
