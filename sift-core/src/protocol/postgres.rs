//! PostgreSQL: the untyped first message of the frontend/backend protocol
//! (PostgreSQL docs, "Message Formats"): a big-endian i32 length that
//! counts itself, then an i32 code.

use super::reader::{Parsed, Reader, Stop};
use super::PostgresStartup;

/// Protocol 3.0, which libpq sends by default.
const PROTOCOL_3_0: &[u8] = &[0x00, 0x03, 0x00, 0x00];
/// Protocol 3.2 (PostgreSQL 18), same StartupMessage layout.
const PROTOCOL_3_2: &[u8] = &[0x00, 0x03, 0x00, 0x02];
/// 80877103
const SSL_REQUEST: &[u8] = &[0x04, 0xd2, 0x16, 0x2f];
/// 80877104
const GSSENC_REQUEST: &[u8] = &[0x04, 0xd2, 0x16, 0x30];
/// 80877102: a cancel connection carries nothing else.
const CANCEL_REQUEST: &[u8] = &[0x04, 0xd2, 0x16, 0x2e];

const HEADER_LEN: usize = 8;
/// The server's MAX_STARTUP_PACKET_LENGTH, which excludes the length word.
const MAX_MESSAGE_LEN: usize = 10_000 + 4;
/// Process id and a secret key of 4 bytes (3.0) up to 256 bytes (3.2).
const CANCEL_LENGTHS: core::ops::RangeInclusive<usize> = 16..=268;

/// What the first message turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FirstMessage<'a> {
    /// A StartupMessage, with a reader over its parameter list.
    Startup(Reader<'a>),
    /// SSLRequest, GSSENCRequest or CancelRequest: no details to extract.
    Request,
}

/// Decided after the 8-byte header. For each length only the codes that
/// allow it can match, so a wrong code fails at its first wrong byte.
pub(crate) fn first_message(bytes: &[u8]) -> Parsed<FirstMessage<'_>> {
    let mut reader = Reader::new(bytes);
    let len = reader.uint_in(4, HEADER_LEN, MAX_MESSAGE_LEN)?;
    let codes: &[&[u8]] = if len == HEADER_LEN {
        &[SSL_REQUEST, GSSENC_REQUEST]
    } else if CANCEL_LENGTHS.contains(&len) {
        &[PROTOCOL_3_0, PROTOCOL_3_2, CANCEL_REQUEST]
    } else {
        &[PROTOCOL_3_0, PROTOCOL_3_2]
    };
    let code = reader.one_of(codes)?;
    if code == PROTOCOL_3_0 || code == PROTOCOL_3_2 {
        let body = reader.nested(len.saturating_sub(HEADER_LEN))?;
        Ok(FirstMessage::Startup(body))
    } else {
        Ok(FirstMessage::Request)
    }
}

/// The StartupMessage's parameters, once all of it has arrived; `Ok(None)`
/// for the requests that carry none.
pub(crate) fn startup(bytes: &[u8]) -> Parsed<Option<PostgresStartup<'_>>> {
    let mut body = match first_message(bytes)? {
        FirstMessage::Startup(body) => body,
        FirstMessage::Request => return Ok(None),
    };
    let mut startup = PostgresStartup {
        user: None,
        database: None,
    };
    loop {
        let name = body.until(0, usize::MAX, |_| true)?;
        if name.is_empty() {
            // The list's terminator must be the message's last byte.
            return if body.room() == 0 {
                Ok(Some(startup))
            } else {
                Err(Stop::Invalid)
            };
        }
        let value = body.until(0, usize::MAX, |_| true)?;
        // Later duplicates win, as in the server's own parsing.
        match name {
            b"user" => startup.user = Some(value),
            b"database" => startup.database = Some(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// psql 15 connecting as alice to database shop.
    const PSQL: &[u8] = b"\x00\x00\x00\x4d\x00\x03\x00\x00user\x00alice\x00database\x00shop\x00application_name\x00psql\x00client_encoding\x00UTF8\x00\x00";
    const SSL_REQUEST_MESSAGE: &[u8] = &[0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f];

    fn startup_message(parameters: &[u8]) -> Vec<u8> {
        let len = u32::try_from(8 + parameters.len()).unwrap();
        let mut message = len.to_be_bytes().to_vec();
        message.extend_from_slice(PROTOCOL_3_0);
        message.extend_from_slice(parameters);
        message
    }

    #[test]
    fn header_decides() {
        assert_eq!(PSQL.len(), 0x4d);
        for len in 0..8 {
            assert_eq!(
                first_message(&PSQL[..len]).err(),
                Some(Stop::Incomplete),
                "{len}"
            );
            assert_eq!(
                first_message(&SSL_REQUEST_MESSAGE[..len]).err(),
                Some(Stop::Incomplete)
            );
        }
        assert!(matches!(
            first_message(&PSQL[..8]),
            Ok(FirstMessage::Startup(_))
        ));
        assert_eq!(
            first_message(SSL_REQUEST_MESSAGE),
            Ok(FirstMessage::Request)
        );
        assert_eq!(
            first_message(b"\x00\x00\x00\x08\x04\xd2\x16\x30"),
            Ok(FirstMessage::Request)
        );
        let cancel = b"\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x30\x39\x12\x34\x56\x78";
        assert_eq!(first_message(cancel), Ok(FirstMessage::Request));
        assert!(first_message(b"\x00\x00\x00\x09\x00\x03\x00\x02").is_ok());
    }

    #[test]
    fn header_near_misses() {
        for bytes in [
            // SSLRequest code with a startup length, and the reverse.
            &b"\x00\x00\x00\x10\x04\xd2\x16\x2f"[..],
            b"\x00\x00\x00\x08\x00\x03",
            b"\x00\x00\x00\x20\x04\xd2\x16\x30",
            b"\x00\x00\x01\x20\x04\xd2\x16\x2e",
            b"\x00\x00\x00\x07",
            b"\x00\x00\x27\x15",
            b"\x00\x01",
            b"\x00\x00\x00\x4d\x00\x02\x00\x00",
            b"\x00\x00\x00\x4d\x00\x03\x00\x01",
            b"\x00\x00\x00\x4d\x00\x03\x01",
        ] {
            assert_eq!(
                first_message(bytes).err(),
                Some(Stop::Invalid),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn psql_startup_details() {
        for len in 0..PSQL.len() {
            assert_eq!(startup(&PSQL[..len]), Err(Stop::Incomplete), "{len}");
        }
        assert_eq!(
            startup(PSQL),
            Ok(Some(PostgresStartup {
                user: Some(b"alice"),
                database: Some(b"shop"),
            }))
        );
        assert_eq!(startup(SSL_REQUEST_MESSAGE), Ok(None));
    }

    #[test]
    fn startup_parameters_present_or_absent() {
        let only_user = startup_message(b"user\x00bob\x00\x00");
        assert_eq!(
            startup(&only_user),
            Ok(Some(PostgresStartup {
                user: Some(b"bob"),
                database: None
            }))
        );
        let nothing = startup_message(b"\x00");
        assert_eq!(
            startup(&nothing),
            Ok(Some(PostgresStartup {
                user: None,
                database: None
            }))
        );
        let empty_values = startup_message(b"user\x00\x00database\x00\x00\x00");
        assert_eq!(
            startup(&empty_values),
            Ok(Some(PostgresStartup {
                user: Some(b""),
                database: Some(b"")
            }))
        );
        let repeated = startup_message(b"user\x00a\x00user\x00b\x00\x00");
        assert_eq!(startup(&repeated).unwrap().unwrap().user, Some(&b"b"[..]));
    }

    #[test]
    fn malformed_startups() {
        // Terminator missing, terminator early, value missing, header only.
        for parameters in [
            &b"user\x00bob\x00"[..],
            b"\x00user\x00bob\x00\x00",
            b"user\x00\x00\x00x",
            b"user\x00bob",
        ] {
            assert_eq!(
                startup(&startup_message(parameters)),
                Err(Stop::Invalid),
                "{parameters:02x?}"
            );
        }
        assert_eq!(startup(&startup_message(b"")), Err(Stop::Invalid));
        // Trailing bytes after the message (the client's next message) are fine.
        let mut with_more = PSQL.to_vec();
        with_more.extend_from_slice(b"p\x00\x00\x00\x08pw\x00\x00");
        assert_eq!(
            startup(&with_more).unwrap().unwrap().user,
            Some(&b"alice"[..])
        );
    }
}
