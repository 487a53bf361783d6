//! External authorization (`sift_auth_request`): the HTTP/1.1 request sift
//! sends to an authorization service with a session's facts, and what the
//! service's answer decides.
//!
//! The request is `GET PATH HTTP/1.1` with `Host`, one header per fact
//! and `Connection: close`. Header values come from the client (its SNI,
//! ALPN, ...): every byte outside visible ASCII and space is
//! percent-encoded (and `%` itself), so a client can neither end a header
//! early nor inject one. The answer is read up to the end of its headers
//! (a body is never needed) with `httparse`.

use core::fmt::Write as _;

/// The most header bytes read from the service.
pub const MAX_REPLY: usize = 8 * 1024;

/// Writes the request for `path` on `host` with `headers` into `out`.
pub fn write_request(out: &mut Vec<u8>, host: &str, path: &str, headers: &[(&str, &[u8])]) {
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
    out.extend_from_slice(b"Connection: close\r\n\r\n");
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
