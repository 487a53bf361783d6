//! HTTP/1.x request lines and headers (RFC 9112), and the HTTP/2 prior
//! knowledge preface (RFC 9113 §3.4).

use super::reader::{Parsed, Reader, Stop};
use super::HttpRequest;

/// RFC 9113 §3.4: the client connection preface, sent whole before frames.
pub(crate) const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Longer than any registered method (the longest, UPDATEREDIRECTREF, has 17).
const MAX_METHOD_LEN: usize = 32;
const VERSIONS: [&[u8]; 2] = [b"HTTP/1.1", b"HTTP/1.0"];
/// RFC 9112 §2.2 lets a recipient accept a bare LF as a line terminator.
const LINE_ENDINGS: [&[u8]; 2] = [b"\r\n", b"\n"];

pub(crate) fn h2_preface(bytes: &[u8]) -> Parsed<()> {
    Reader::new(bytes).literal(H2_PREFACE)
}

/// `method SP request-target SP HTTP/1.x (CR)LF`, decided at the LF.
pub(crate) fn request_line(bytes: &[u8]) -> Parsed<HttpRequest<'_>> {
    let mut reader = Reader::new(bytes);
    let method = non_empty(reader.until(b' ', MAX_METHOD_LEN, is_token_byte)?)?;
    // The target's length is bounded only by the caller's buffer.
    let uri = non_empty(reader.until(b' ', usize::MAX, is_target_byte)?)?;
    let version = reader.one_of(&VERSIONS)?;
    reader.one_of(&LINE_ENDINGS)?;
    Ok(HttpRequest {
        method,
        uri,
        version,
    })
}

fn non_empty(field: &[u8]) -> Parsed<&[u8]> {
    if field.is_empty() {
        Err(Stop::Invalid)
    } else {
        Ok(field)
    }
}

/// RFC 9110 §5.6.2 `tchar`.
const fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Visible ASCII, plus the raw UTF-8 some clients send unencoded; never a
/// control byte, space or DEL.
const fn is_target_byte(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e | 0x80..=0xff)
}

/// The complete lines of `bytes`, each without its LF and any CR before it.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    core::iter::from_fn(move || {
        let end = rest.iter().position(|&byte| byte == b'\n')?;
        let (line, from_lf) = rest.split_at_checked(end)?;
        rest = from_lf.get(1..)?;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

/// The complete header lines after the request line, up to the empty line.
fn header_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    lines(bytes).skip(1).take_while(|line| !line.is_empty())
}

/// True once the empty line ending the header block has arrived.
pub(crate) fn header_block_complete(bytes: &[u8]) -> bool {
    lines(bytes).skip(1).any(<[u8]>::is_empty)
}

/// See [`super::http_host`] for the rules.
pub(crate) fn host(bytes: &[u8]) -> Option<&[u8]> {
    let mut found = None;
    let mut previous_was_host = false;
    for line in header_lines(bytes) {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // obs-fold: a folded Host has no single meaning.
            if previous_was_host {
                return None;
            }
            continue;
        }
        previous_was_host = false;
        if let Some(value) = field_value(line, b"host") {
            if found.is_some() {
                return None;
            }
            found = Some(value);
            previous_was_host = true;
        }
    }
    found.map(without_port)
}

/// The trimmed value of `line` if its field name is `name` (ASCII
/// case-insensitive). A name with whitespace before the colon is no match:
/// RFC 9112 §5.1 makes such a line an error, not a field.
fn field_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    let (field, colon_and_value) = line.split_at_checked(colon)?;
    if !field.eq_ignore_ascii_case(name) {
        return None;
    }
    colon_and_value.get(1..).map(trim_whitespace)
}

fn trim_whitespace(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// `[v6]:port` keeps `[v6]` (brackets included, as nginx's `$host` does);
/// otherwise everything from the first colon goes, as nginx cuts it.
fn without_port(value: &[u8]) -> &[u8] {
    let end = if value.first() == Some(&b'[') {
        value
            .iter()
            .position(|&byte| byte == b']')
            .map(|close| close.saturating_add(1))
    } else {
        value.iter().position(|&byte| byte == b':')
    };
    end.and_then(|end| value.get(..end)).unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURL: &[u8] = b"GET / HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    #[test]
    fn request_line_of_curl() {
        let request = request_line(CURL).unwrap();
        assert_eq!(request.method, b"GET");
        assert_eq!(request.uri, b"/");
        assert_eq!(request.version, b"HTTP/1.1");
        let line_end = b"GET / HTTP/1.1\r\n".len();
        for len in 0..line_end {
            assert_eq!(request_line(&CURL[..len]), Err(Stop::Incomplete), "{len}");
        }
        assert!(request_line(&CURL[..line_end]).is_ok());
    }

    #[test]
    fn request_line_forms() {
        let parse = |line: &'static [u8]| request_line(line).map(|r| (r.method, r.uri, r.version));
        assert_eq!(
            parse(b"OPTIONS * HTTP/1.1\r\n"),
            Ok((&b"OPTIONS"[..], &b"*"[..], &b"HTTP/1.1"[..]))
        );
        assert_eq!(
            parse(b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"),
            Ok((&b"CONNECT"[..], &b"[2001:db8::1]:443"[..], &b"HTTP/1.1"[..]))
        );
        assert_eq!(
            parse(b"PROPFIND http://h/a%20b?q=1 HTTP/1.0\n"),
            Ok((
                &b"PROPFIND"[..],
                &b"http://h/a%20b?q=1"[..],
                &b"HTTP/1.0"[..]
            ))
        );
        assert!(parse("GET /caf\u{e9} HTTP/1.1\r\n".as_bytes()).is_ok());
        // PRI is a token like any other, so HTTP/1.1 "PRI" is HTTP.
        assert!(parse(b"PRI * HTTP/1.1\r\n").is_ok());
    }

    #[test]
    fn request_line_near_misses() {
        for line in [
            &b" GET / HTTP/1.1\r\n"[..],
            b"\r\nGET / HTTP/1.1\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"GET / HTTP/1.2\r\n",
            b"GET / HTTP/2.0\r\n",
            b"GET / http/1.1\r\n",
            b"GET / HTTP/1.1 \r\n",
            b"GET / HTTP/1.1\rX",
            b"GET /\tx HTTP/1.1\r\n",
            b"GET /\x7f HTTP/1.1\r\n",
            b"G(T / HTTP/1.1\r\n",
            b"GET /\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG / HTTP/1.1\r\n",
        ] {
            assert_eq!(
                request_line(line),
                Err(Stop::Invalid),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn h2_preface_is_24_bytes() {
        assert_eq!(H2_PREFACE.len(), 24);
        for len in 0..24 {
            assert_eq!(h2_preface(&H2_PREFACE[..len]), Err(Stop::Incomplete));
        }
        assert_eq!(h2_preface(H2_PREFACE), Ok(()));
        assert_eq!(h2_preface(b"PRI * HTTP/1.1"), Err(Stop::Invalid));
    }

    #[test]
    fn host_drops_port_and_keeps_case() {
        assert_eq!(host(CURL), Some(&b"Example.COM"[..]));
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nhOsT:example.org\r\n\r\n"),
            Some(&b"example.org"[..])
        );
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: \t a.example \t\r\n\r\n"),
            Some(&b"a.example"[..])
        );
        assert_eq!(
            host(b"GET / HTTP/1.1\nHost: a.example:80\n\n"),
            Some(&b"a.example"[..])
        );
    }

    #[test]
    fn host_ipv6_literals() {
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n"),
            Some(&b"[2001:db8::1]"[..])
        );
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"),
            Some(&b"[::1]"[..])
        );
        // Unclosed bracket: nothing sensible to cut, returned as sent.
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"),
            Some(&b"[::1"[..])
        );
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: 192.0.2.1:80\r\n\r\n"),
            Some(&b"192.0.2.1"[..])
        );
    }

    #[test]
    fn host_absent_or_incomplete() {
        assert_eq!(host(b"GET / HTTP/1.0\r\nAccept: */*\r\n\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\n\r\nHost: after.body\r\n"), None);
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nX-Host: a\r\nHostname: b\r\n\r\n"),
            None
        );
        // RFC 9112 §5.1: whitespace before the colon is an error, not a Host.
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a"), None);
        assert_eq!(
            host(b"Host: a\r\n"),
            None,
            "the first line is the request line"
        );
        // Split across reads: None until the Host line's LF arrives.
        let host_line_end = CURL.windows(6).position(|w| w == b"8080\r\n").unwrap() + 6;
        for len in 0..host_line_end {
            assert_eq!(host(&CURL[..len]), None, "{len}");
        }
        assert_eq!(host(&CURL[..host_line_end]), Some(&b"Example.COM"[..]));
    }

    #[test]
    fn host_empty_value() {
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost:\r\n\r\n"), Some(&b""[..]));
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n"), Some(&b""[..]));
    }

    #[test]
    fn host_duplicates_and_folding_are_refused() {
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n"), None);
        // Folding of another field does not matter, nor does a folded line
        // that merely looks like a Host field.
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\nHost: a\r\n\r\n"),
            Some(&b"a"[..])
        );
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nX-A: 1\r\n Host: b\r\nHost: a\r\n\r\n"),
            Some(&b"a"[..])
        );
    }

    #[test]
    fn header_block_end() {
        let end = CURL.len();
        for len in 0..end {
            assert!(!header_block_complete(&CURL[..len]), "{len}");
        }
        assert!(header_block_complete(CURL));
        assert!(header_block_complete(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(header_block_complete(b"GET / HTTP/1.0\n\n"));
        assert!(header_block_complete(b"GET / HTTP/1.0\nA: b\n\r\n"));
        assert!(!header_block_complete(b"GET / HTTP/1.0\r\n"));
    }
}
