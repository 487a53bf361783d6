//! The frames a client may put in an Initial packet (RFC 9000 §12.4,
//! Table 3): PADDING, PING, ACK (with or without ECN counts), CRYPTO and
//! CONNECTION_CLOSE of type 0x1c. Anything else there is a protocol
//! violation, reported as [`QuicError::UnexpectedFrame`].

use super::cursor::{Cursor, VARINT_MAX};
use super::error::QuicError;

const PADDING: u8 = 0x00;
const PING: u8 = 0x01;
const ACK: u8 = 0x02;
const ACK_ECN: u8 = 0x03;
const CRYPTO: u8 = 0x06;
const CONNECTION_CLOSE: u8 = 0x1c;

/// How many zero bytes `bytes` starts with: 16 at a time, then one by one
/// (a client's Initial is mostly PADDING, so this is most of the walk).
fn zero_run(bytes: &[u8]) -> usize {
    let whole = bytes
        .chunks_exact(16)
        .take_while(|chunk| chunk.iter().all(|&byte| byte == 0))
        .count()
        .saturating_mul(16);
    let tail = bytes.get(whole..).unwrap_or_default();
    whole.saturating_add(tail.iter().take_while(|&&byte| byte == 0).count())
}

/// Walks the frames of a decrypted Initial payload, handing each CRYPTO
/// frame's `(offset, data)` to `on_crypto`. `frame_budget` is decremented
/// per frame (a run of PADDING counts once) and the walk fails with
/// [`QuicError::TooManyFrames`] when it would go below zero.
pub(crate) fn walk<'a>(
    payload: &'a [u8],
    frame_budget: &mut usize,
    mut on_crypto: impl FnMut(u64, &'a [u8]) -> Result<(), QuicError>,
) -> Result<(), QuicError> {
    let mut cursor = Cursor::new(payload);
    while let Some(&frame_type) = cursor.rest().first() {
        *frame_budget = frame_budget
            .checked_sub(1)
            .ok_or(QuicError::TooManyFrames)?;
        // Frame types are varints in their shortest form (RFC 9000 §12.4);
        // every type allowed here is below 0x40, so it is one byte.
        cursor.take(1).ok_or(QuicError::Frame)?;
        match frame_type {
            PADDING => {
                let run = zero_run(cursor.rest());
                cursor.take(run).ok_or(QuicError::Frame)?;
            }
            PING => {}
            ACK | ACK_ECN => ack(&mut cursor, frame_type == ACK_ECN)?,
            CRYPTO => {
                let offset = cursor.varint().ok_or(QuicError::Frame)?;
                let len = cursor.varint().ok_or(QuicError::Frame)?;
                // RFC 9000 §19.6: the stream cannot go past 2^62 - 1.
                if offset.checked_add(len).is_none_or(|end| end > VARINT_MAX) {
                    return Err(QuicError::CryptoOffset);
                }
                let len = usize::try_from(len).map_err(|_| QuicError::Frame)?;
                let data = cursor.take(len).ok_or(QuicError::Frame)?;
                on_crypto(offset, data)?;
            }
            CONNECTION_CLOSE => {
                cursor.varint().ok_or(QuicError::Frame)?;
                cursor.varint().ok_or(QuicError::Frame)?;
                let reason_len = cursor.varint_len().ok_or(QuicError::Frame)?;
                cursor.take(reason_len).ok_or(QuicError::Frame)?;
                return Err(QuicError::ConnectionClose);
            }
            _ => return Err(QuicError::UnexpectedFrame),
        }
    }
    Ok(())
}

/// An ACK frame's body (RFC 9000 §19.3), checked as far as its encoding
/// goes: no range may reach below packet number 0.
fn ack(cursor: &mut Cursor<'_>, with_ecn: bool) -> Result<(), QuicError> {
    let largest = cursor.varint().ok_or(QuicError::Frame)?;
    cursor.varint().ok_or(QuicError::Frame)?; // ACK Delay
    let range_count = cursor.varint().ok_or(QuicError::Frame)?;
    let first_range = cursor.varint().ok_or(QuicError::Frame)?;
    let mut smallest = largest.checked_sub(first_range).ok_or(QuicError::Frame)?;
    // Each range takes at least two bytes, so the payload bounds the loop
    // whatever count the client claims.
    for _ in 0..range_count {
        let gap = cursor.varint().ok_or(QuicError::Frame)?;
        let len = cursor.varint().ok_or(QuicError::Frame)?;
        let range_largest = smallest
            .checked_sub(gap)
            .and_then(|value| value.checked_sub(2))
            .ok_or(QuicError::Frame)?;
        smallest = range_largest.checked_sub(len).ok_or(QuicError::Frame)?;
    }
    if with_ecn {
        for _ in 0..3 {
            cursor.varint().ok_or(QuicError::Frame)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crypto_pieces(payload: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, QuicError> {
        let mut pieces = Vec::new();
        let mut budget = 64;
        walk(payload, &mut budget, |offset, data| {
            pieces.push((offset, data.to_vec()));
            Ok(())
        })?;
        Ok(pieces)
    }

    #[test]
    fn allowed_frames() {
        let payload = [
            0x01, // PING
            0x06, 0x00, 0x02, 0xaa, 0xbb, // CRYPTO offset 0 len 2
            0x02, 0x05, 0x00, 0x01, 0x01, 0x00, 0x00, // ACK 5, 1 range: 4-5, gap 0 len 0 -> 2
            0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, // ACK_ECN
            0x06, 0x40, 0x10, 0x01, 0xcc, // CRYPTO offset 16 (2-byte varint) len 1
            0x00, 0x00, 0x00, // PADDING
        ];
        assert_eq!(
            crypto_pieces(&payload),
            Ok(vec![(0, vec![0xaa, 0xbb]), (16, vec![0xcc])])
        );
    }

    #[test]
    fn rejected_frames() {
        for (payload, error) in [
            (&[0x08, 0x00][..], QuicError::UnexpectedFrame), // STREAM
            (&[0x1d, 0x00, 0x00], QuicError::UnexpectedFrame), // application CLOSE
            (&[0x40, 0x01], QuicError::UnexpectedFrame),     // PING, two-byte type
            (&[0x18, 0x00], QuicError::UnexpectedFrame),     // NEW_CONNECTION_ID
            (
                &[0x1c, 0x00, 0x00, 0x02, b'h', b'i'],
                QuicError::ConnectionClose,
            ),
            (&[0x1c, 0x00, 0x00, 0x03, b'h', b'i'], QuicError::Frame),
            (&[0x06, 0x00, 0x05, 0x01], QuicError::Frame), // CRYPTO data cut
            (&[0x06, 0x00], QuicError::Frame),
            (&[0x02, 0x01, 0x00, 0x00, 0x02], QuicError::Frame), // range below 0
            (
                &[0x02, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00],
                QuicError::Frame,
            ), // gap below 0
            (
                &[0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00],
                QuicError::Frame,
            ), // ECN cut
            (
                &[
                    0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00,
                ],
                QuicError::CryptoOffset,
            ),
        ] {
            assert_eq!(crypto_pieces(payload), Err(error), "{payload:02x?}");
        }
    }

    #[test]
    fn frame_budget() {
        let mut budget = 3;
        assert_eq!(
            walk(&[0x01, 0x00, 0x00, 0x01], &mut budget, |_, _| Ok(())),
            Ok(())
        );
        assert_eq!(budget, 0);
        let mut budget = 3;
        assert_eq!(
            walk(&[0x01, 0x01, 0x01, 0x01], &mut budget, |_, _| Ok(())),
            Err(QuicError::TooManyFrames)
        );
        // A huge range count is bounded by the bytes actually there.
        let mut budget = 3;
        let huge = [
            0x02, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
        ];
        assert_eq!(
            walk(&huge, &mut budget, |_, _| Ok(())),
            Err(QuicError::Frame)
        );
    }
}

#[cfg(test)]
mod zero_run_tests {
    use super::zero_run;

    #[test]
    fn zero_runs() {
        assert_eq!(zero_run(&[]), 0);
        assert_eq!(zero_run(&[1, 0]), 0);
        assert_eq!(zero_run(&[0; 15]), 15);
        assert_eq!(zero_run(&[0; 1000]), 1000);
        let mut bytes = vec![0u8; 40];
        bytes[37] = 6;
        assert_eq!(zero_run(&bytes), 37);
        bytes[5] = 1;
        assert_eq!(zero_run(&bytes), 5);
    }
}
