//! Syslog over TCP: a message starting with `<PRI>` (RFC 5424 §6.2.1),
//! followed either by RFC 5424's `VERSION SP TIMESTAMP` or by RFC 3164's
//! BSD timestamp `Mmm dd hh:mm:ss`. On TCP a message is either sent as is
//! and ended by LF (RFC 6587 §3.4.2, "non-transparent framing", what
//! `logger --tcp` does by default) or preceded by its length and a space
//! (RFC 6587 §3.4.1, "octet counting", `logger --octet-count`).

use super::reader::{Parsed, Reader, Stop};

/// RFC 5424 §6.2.1: facility * 8 + severity, at most 23 * 8 + 7.
const MAX_PRI: usize = 191;
/// RFC 5424 `VERSION = NONZERO-DIGIT 0*2DIGIT`.
const MAX_VERSION: usize = 999;
/// RFC 6587 does not bound MSG-LEN; receivers do (rsyslog 8 KiB by
/// default, syslog-ng 64 KiB). 1 MiB is generous and keeps it finite.
const MAX_FRAME_LEN: usize = 1 << 20;
/// The shortest message this detector can decide on: `<0>1 -`.
const MIN_FRAME_LEN: usize = 6;
const MONTHS: [&[u8]; 12] = [
    b"Jan ", b"Feb ", b"Mar ", b"Apr ", b"May ", b"Jun ", b"Jul ", b"Aug ", b"Sep ", b"Oct ",
    b"Nov ", b"Dec ",
];

/// RFC 5424 is decided at the first byte of TIMESTAMP (a digit, or `-`
/// for none): 7 bytes for `<13>1 2`. RFC 3164 is decided at the space
/// after the timestamp: 20 bytes for `<13>Dec  2 05:10:34 `. With octet
/// counting, add the count and its space.
pub(crate) fn message(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::new(bytes);
    match reader.rest().first() {
        None => Err(Stop::Incomplete),
        Some(b'<') => header(&mut reader),
        // MSG-LEN: NONZERO-DIGIT *DIGIT.
        Some(b'1'..=b'9') => {
            let frame_len = reader.decimal(MAX_FRAME_LEN)?;
            reader.literal(b" ")?;
            if frame_len < MIN_FRAME_LEN {
                return Err(Stop::Invalid);
            }
            let mut frame = reader.nested(frame_len)?;
            header(&mut frame)
        }
        Some(_) => Err(Stop::Invalid),
    }
}

/// `<PRI>` and what follows it, up to the deciding byte.
fn header(reader: &mut Reader<'_>) -> Parsed<()> {
    reader.literal(b"<")?;
    reader.decimal(MAX_PRI)?;
    reader.literal(b">")?;
    match reader.rest().first() {
        None => Err(reader.out_of_bytes()),
        Some(b'1'..=b'9') => {
            reader.decimal(MAX_VERSION)?;
            reader.literal(b" ")?;
            reader.byte_where(|byte| byte == b'-' || byte.is_ascii_digit())?;
            Ok(())
        }
        Some(_) => bsd_timestamp(reader),
    }
}

/// `Mmm dd hh:mm:ss SP`, the day space-padded (`Dec  2`); a zero-padded
/// day (`Dec 02`), which some senders use, is accepted too.
fn bsd_timestamp(reader: &mut Reader<'_>) -> Parsed<()> {
    reader.one_of(&MONTHS)?;
    let tens = reader.byte_where(|byte| matches!(byte, b' ' | b'0'..=b'3'))?;
    reader.byte_where(|units| match tens {
        b' ' | b'0' => matches!(units, b'1'..=b'9'),
        b'3' => matches!(units, b'0'..=b'1'),
        _ => units.is_ascii_digit(),
    })?;
    reader.literal(b" ")?;
    let hour_tens = reader.byte_where(|byte| matches!(byte, b'0'..=b'2'))?;
    reader.byte_where(|units| {
        if hour_tens == b'2' {
            matches!(units, b'0'..=b'3')
        } else {
            units.is_ascii_digit()
        }
    })?;
    for _ in 0..2 {
        reader.literal(b":")?;
        reader.byte_where(|byte| matches!(byte, b'0'..=b'5'))?;
        reader.byte_where(|byte| byte.is_ascii_digit())?;
    }
    reader.literal(b" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC5424: &[u8] = b"<13>1 2026-12-02T05:10:57.942218+00:00 vm sift - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] hello from sift\n";
    const RFC3164: &[u8] = b"<13>Dec  2 05:10:57 vm sift: hello from sift\n";

    #[test]
    fn decided_where_documented() {
        for (bytes, decided) in [
            (RFC5424, 7),
            (RFC3164, 20),
            (&b"105 <13>1 2026-12-02T05:10:34Z"[..], 11),
            (b"44 <13>Dec  2 05:10:57 vm sift: hello", 23),
            (b"<0>1 - - - - - -", 6),
            (b"<191>Jan 31 23:59:59 h", 21),
            (b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed", 20),
        ] {
            for len in 0..decided {
                assert_eq!(message(&bytes[..len]), Err(Stop::Incomplete), "{len}");
            }
            assert_eq!(message(&bytes[..decided]), Ok(()));
            assert_eq!(message(bytes), Ok(()));
        }
    }

    #[test]
    fn near_misses() {
        for bytes in [
            &b"<192>1 -"[..],
            b"<013>1 -",
            b"<>1 -",
            b"<13>0 -",
            b"<13>1  ",
            b"<13>1 x",
            b"<13>dec  2 05:10:34 ",
            b"<13>Dec 32 05:10:34 ",
            b"<13>Dec  0 05:10:34 ",
            b"<13>Dec  2 24:10:34 ",
            b"<13>Dec  2 05:60:34 ",
            b"<13>Dec  2 05:10:34x",
            b"<13>2026-12-02T05:10:34Z host",
            b"<?xml",
            b"0 <13>1 -",
            b"5 <13>1 -",
            b"1048577 ",
            b"12<13>1 -",
        ] {
            assert_eq!(
                message(bytes),
                Err(Stop::Invalid),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // A frame too short for what follows fails where it ends.
        assert_eq!(message(b"6 <13>1 -"), Err(Stop::Invalid));
        assert_eq!(message(b"7 <13>1 -"), Ok(()));
        assert_eq!(message(b"8 <13>Dec  2"), Err(Stop::Invalid));
    }
}
