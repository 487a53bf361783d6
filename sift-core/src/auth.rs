//! External authorization (`sift_auth_request`): the HTTP/1.1 request sift
//! sends to an authorization service with a session's facts, and what the
//! service's answer decides.
//!
//! The request is `GET PATH HTTP/1.1` with `Host` and one header per fact
//! (and `Connection: close` when connections are not kept). Header values
//! come from the client (its SNI, ALPN, ...): every byte outside visible
//! ASCII and space is percent-encoded (and `%` itself), so a client can
//! neither end a header early nor inject one. The answer is parsed with
//! `httparse`; only its status decides. A connection is kept for the next
//! request only after an answer whose end is known from its headers (a
//! `Content-Length` body read whole, or none: 1xx, 204, 304), over
//! HTTP/1.1, without `Connection: close`, and with nothing after it.

use core::fmt::Write as _;

/// The most header bytes read from the service.
pub const MAX_REPLY: usize = 8 * 1024;

/// Writes the request for `path` on `host` with `headers` into `out`;
/// `keep` leaves the connection open after the answer (HTTP/1.1's
/// default), else the request says `Connection: close`.
pub fn write_request(
    out: &mut Vec<u8>,
    host: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    keep: bool,
) {
    out.clear();
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        push_value(out, value);
        out.extend_from_slice(b"\r\n");
    }
    if !keep {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A header value, with anything but visible ASCII and space (and `%`)
/// percent-encoded.
fn push_value(out: &mut Vec<u8>, value: &[u8]) {
    for &byte in value {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(byte);
        } else {
            let mut text = String::new();
            let _ = write!(text, "%{byte:02X}");
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// What the service's bytes so far say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The status line and headers are not complete yet.
    Incomplete,
    /// A whole header block with this status.
    Status(u16),
    /// Not an HTTP/1.x response.
    Invalid,
}

/// Reads a response's status once its headers are complete.
pub fn parse_reply(bytes: &[u8]) -> Reply {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => response.code.map_or(Reply::Invalid, Reply::Status),
        Ok(httparse::Status::Partial) if bytes.len() < MAX_REPLY => Reply::Incomplete,
        _ => Reply::Invalid,
    }
}

/// How an answer whose headers are whole ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Framing {
    /// Bytes of the status line and headers.
    header_len: usize,
    /// The body's length when the headers tell it (and it fits the cap).
    body_len: Option<usize>,
    /// HTTP/1.1 without `Connection: close`.
    persistent: bool,
}

fn framing(bytes: &[u8]) -> Option<Framing> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(header_len)) = response.parse(bytes) else {
        return None;
    };
    let code = response.code?;
    let mut body_len = if matches!(code, 100..=199 | 204 | 304) {
        Some(0)
    } else {
        None
    };
    let mut persistent = response.version == Some(1);
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked (or anything else): read to the headers only, and
            // never keep the connection.
            body_len = None;
            persistent = false;
            break;
        }
        if header.name.eq_ignore_ascii_case("content-length") && body_len.is_none() {
            body_len = core::str::from_utf8(header.value)
                .ok()
                .and_then(|text| text.trim().parse::<usize>().ok())
                .filter(|len| header_len.saturating_add(*len) <= MAX_REPLY);
        }
        if header.name.eq_ignore_ascii_case("connection")
            && header
                .value
                .split(|&byte| byte == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            persistent = false;
        }
    }
    Some(Framing {
        header_len,
        body_len,
        persistent,
    })
}

/// Whether the bytes so far are a whole answer: its headers, and its body
/// when the headers give its length (a body of unknown length is not
/// waited for: the status is all that decides, and that connection is
/// not kept). Invalid bytes are "whole" too: nothing more will help.
pub fn reply_complete(bytes: &[u8]) -> bool {
    match parse_reply(bytes) {
        Reply::Incomplete => false,
        Reply::Invalid => true,
        Reply::Status(_) => framing(bytes).is_none_or(|framing| {
            framing
                .body_len
                .is_none_or(|len| bytes.len() >= framing.header_len + len)
        }),
    }
}

/// Whether the connection that carried this whole answer may carry the
/// next request: exactly one HTTP/1.1 answer of known length, without
/// `Connection: close`.
pub fn reply_reusable(bytes: &[u8]) -> bool {
    framing(bytes).is_some_and(|framing| {
        framing.persistent
            && framing
                .body_len
                .is_some_and(|len| bytes.len() == framing.header_len + len)
    })
}

/// What a session gets from the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// 2xx.
    Allow,
    /// 403.
    Deny,
    /// Any other answer, none in time, or none at all: by the configured
    /// fail mode.
    Failed { allowed: bool },
}

impl Decision {
    /// The decision for a status (None: no usable answer).
    pub fn from_status(status: Option<u16>, fail_open: bool) -> Decision {
        match status {
            Some(200..=299) => Decision::Allow,
            Some(403) => Decision::Deny,
            _ => Decision::Failed { allowed: fail_open },
        }
    }

    /// Whether the session may go on.
    pub fn allows(self) -> bool {
        match self {
            Decision::Allow => true,
            Decision::Deny => false,
            Decision::Failed { allowed } => allowed,
        }
    }

    /// `$sift_auth`: `allowed`, `denied`, `failed_open`, `failed_closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::Deny => "denied",
            Decision::Failed { allowed: true } => "failed_open",
            Decision::Failed { allowed: false } => "failed_closed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_facts_and_cannot_be_injected() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "127.0.0.1:9000",
            "/check",
            &[
                ("X-Sift-SNI", b"a.example\r\nX-Evil: 1"),
                ("X-Sift-JA4", b"t13d%"),
            ],
            false,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /check HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\
             X-Sift-SNI: a.example%0D%0AX-Evil: 1\r\nX-Sift-JA4: t13d%25\r\n\
             Connection: close\r\n\r\n"
        );
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b""), Reply::Incomplete);
        assert_eq!(
            parse_reply(b"HTTP/1.1 204 No Content\r\n"),
            Reply::Incomplete
        );
        assert_eq!(
            parse_reply(b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"),
            Reply::Status(204)
        );
        assert_eq!(
            parse_reply(b"HTTP/1.0 403 Forbidden\r\n\r\nbody"),
            Reply::Status(403)
        );
        assert_eq!(parse_reply(b"SSH-2.0-x\r\n"), Reply::Invalid);
        let endless = [b"HTTP/1.1 200 OK\r\n".as_slice(), &[b'a'; MAX_REPLY]].concat();
        assert_eq!(parse_reply(&endless), Reply::Invalid);
    }

    #[test]
    fn kept_connections_say_nothing_of_closing() {
        let mut out = Vec::new();
        write_request(&mut out, "h", "/", &[], true);
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    }

    #[test]
    fn answers_end_by_their_length() {
        let no_body = b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
        assert!(reply_complete(no_body));
        assert!(reply_reusable(no_body));
        let with_body = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nno!\r\n";
        assert!(!reply_complete(&with_body[..with_body.len() - 1]));
        assert!(reply_complete(with_body));
        assert!(reply_reusable(with_body));
        // More than one answer, or bytes after it: not reusable.
        assert!(!reply_reusable(&[no_body.as_slice(), b"HTTP/1.1"].concat()));
        // Closing, HTTP/1.0, chunked, or no length: whole at the headers, never kept.
        for answer in [
            b"HTTP/1.1 204 No Content\r\nConnection: keep-alive, close\r\n\r\n".as_slice(),
            b"HTTP/1.0 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n",
        ] {
            assert!(reply_complete(answer), "{answer:?}");
            assert!(!reply_reusable(answer), "{answer:?}");
        }
        assert!(!reply_complete(b"HTTP/1.1 204 No"));
        assert!(reply_complete(b"SSH-2.0-x\r\n"));
        assert!(!reply_reusable(b"SSH-2.0-x\r\n"));
    }

    #[test]
    fn decisions() {
        assert_eq!(Decision::from_status(Some(200), false), Decision::Allow);
        assert_eq!(Decision::from_status(Some(204), false), Decision::Allow);
        assert_eq!(Decision::from_status(Some(403), true), Decision::Deny);
        assert_eq!(
            Decision::from_status(Some(500), true).as_str(),
            "failed_open"
        );
        assert_eq!(Decision::from_status(None, false).as_str(), "failed_closed");
        assert!(!Decision::from_status(Some(401), false).allows());
        assert!(Decision::from_status(Some(401), true).allows());
    }
}

/// Where `sift_auth_request URL` sends requests: `http://ADDRESS[:PORT][/PATH]`
/// with an IP address (no resolver: a name is an error that says so).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUrl {
    pub peer: std::net::SocketAddr,
    /// For the `Host` header: the address and port as written.
    pub host: String,
    /// `/` if none was given; the query string included.
    pub path: String,
}

/// Parses `sift_auth_request`'s URL.
pub fn parse_url(url: &str) -> Result<ServiceUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("\"{url}\" is not an http:// URL (https is not supported)"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("\"{url}\" has no address"));
    }
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_owned()
    };
    let peer = with_port.parse().map_err(|_| {
        format!("\"{url}\": \"{authority}\" is not an IP address (and port); names need a resolver, which sift_auth_request does not use yet")
    })?;
    if path.bytes().any(|byte| !(0x21..0x7f).contains(&byte)) {
        return Err(format!("\"{url}\": the path must be visible ASCII"));
    }
    Ok(ServiceUrl {
        peer,
        host: authority.to_owned(),
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn urls() {
        let url = parse_url("http://127.0.0.1:9000/check?x=1").unwrap();
        assert_eq!(url.peer, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            (url.host.as_str(), url.path.as_str()),
            ("127.0.0.1:9000", "/check?x=1")
        );
        assert_eq!(parse_url("http://10.0.0.1").unwrap().path, "/");
        assert_eq!(parse_url("http://10.0.0.1").unwrap().peer.port(), 80);
        assert_eq!(
            parse_url("http://[::1]:81/a").unwrap().peer,
            "[::1]:81".parse().unwrap()
        );
        assert!(parse_url("https://127.0.0.1/")
            .unwrap_err()
            .contains("not an http://"));
        assert!(parse_url("http://auth.example:80/")
            .unwrap_err()
            .contains("resolver"));
        assert!(parse_url("http:///x").unwrap_err().contains("no address"));
        assert!(parse_url("http://127.0.0.1/a b")
            .unwrap_err()
            .contains("visible ASCII"));
    }
}
