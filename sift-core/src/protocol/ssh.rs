//! SSH: the client's identification string (RFC 4253 §4.2),
//! `SSH-protoversion-softwareversion SP comments CR LF`.

use super::reader::{Parsed, Reader};

/// SSH 2.0, or 1.99 from a server-style "either" peer (RFC 4253 §5.1).
const VERSION_PREFIXES: [&[u8]; 2] = [b"SSH-2.0-", b"SSH-1.99-"];
/// RFC 4253 §4.2: at most 255 characters including CR and LF.
const MAX_LINE_LEN: usize = 255;

/// Decided once the protocol version and its `-` are in: 8 or 9 bytes.
pub(crate) fn identification(bytes: &[u8]) -> Parsed<()> {
    Reader::new(bytes).one_of(&VERSION_PREFIXES).map(|_| ())
}

/// The identification line without its line ending. The terminator may be
/// CR LF or, as some clients send, a bare LF (RFC 4253 §4.2 tolerates it);
/// a NUL anywhere, or no LF within 255 bytes, makes the line invalid.
pub(crate) fn banner(bytes: &[u8]) -> Parsed<&[u8]> {
    identification(bytes)?;
    let line = Reader::with_limit(bytes, MAX_LINE_LEN).until(
        b'\n',
        MAX_LINE_LEN.saturating_sub(1),
        |byte| byte != 0,
    )?;
    Ok(line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reader::Stop;

    const OPENSSH: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";

    #[test]
    fn decides_on_the_version_prefix() {
        for len in 1..8 {
            assert_eq!(identification(&OPENSSH[..len]), Err(Stop::Incomplete));
        }
        assert_eq!(identification(&OPENSSH[..8]), Ok(()));
        assert_eq!(identification(b"SSH-1.99-"), Ok(()));
        assert_eq!(identification(b"SSH-1.9"), Err(Stop::Incomplete));
    }

    #[test]
    fn rejects_other_versions_at_the_first_wrong_byte() {
        assert_eq!(identification(b"SSH-1.5-"), Err(Stop::Invalid));
        assert_eq!(identification(b"SSH-3"), Err(Stop::Invalid));
        assert_eq!(identification(b"SSH-2.0_"), Err(Stop::Invalid));
        assert_eq!(identification(b"ssh-2.0-"), Err(Stop::Invalid));
        assert_eq!(identification(b"SSX"), Err(Stop::Invalid));
    }

    #[test]
    fn banner_with_crlf_or_lf() {
        assert_eq!(
            banner(OPENSSH),
            Ok(&b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"[..])
        );
        assert_eq!(
            banner(b"SSH-2.0-PuTTY_Release_0.78\n"),
            Ok(&b"SSH-2.0-PuTTY_Release_0.78"[..])
        );
        // The line is the client's first; what follows it is key exchange.
        assert_eq!(
            banner(b"SSH-2.0-x\r\n\x00\x00\x05\xdc"),
            Ok(&b"SSH-2.0-x"[..])
        );
    }

    #[test]
    fn banner_needs_the_whole_line() {
        for len in 0..OPENSSH.len() {
            assert_eq!(banner(&OPENSSH[..len]), Err(Stop::Incomplete), "{len}");
        }
    }

    #[test]
    fn banner_limits() {
        let mut long = b"SSH-2.0-".to_vec();
        long.resize(254, b'a');
        long.push(b'\n');
        assert_eq!(banner(&long).map(<[u8]>::len), Ok(254));
        let mut too_long = long[..254].to_vec();
        too_long.extend_from_slice(b"a\n");
        assert_eq!(banner(&too_long), Err(Stop::Invalid));
        assert_eq!(banner(b"SSH-2.0-a\x00b\r\n"), Err(Stop::Invalid));
        assert_eq!(banner(b"SSH-1.5-old\r\n"), Err(Stop::Invalid));
    }
}
