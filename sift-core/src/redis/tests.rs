use super::rate::*;
use super::resp::*;

fn whole(bytes: &[u8]) -> Result<(Reply<'_>, usize), ParseError> {
    parse_reply(bytes, &LIMITS)
}

#[test]
fn encodes_commands() {
    let mut out = Vec::new();
    encode_command(&mut out, &[b"INCRBY", b"k", b"10"]);
    assert_eq!(out, b"*3\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$2\r\n10\r\n");
    out.clear();
    encode_command(&mut out, &[b"PING"]);
    assert_eq!(out, b"*1\r\n$4\r\nPING\r\n");
    out.clear();
    encode_command(&mut out, &[b""]);
    assert_eq!(out, b"*1\r\n$0\r\n\r\n");
}

#[test]
fn parses_scalars() {
    assert_eq!(whole(b"+OK\r\n"), Ok((Reply::Simple(b"OK"), 5)));
    assert_eq!(whole(b"-ERR no\r\n"), Ok((Reply::Error(b"ERR no"), 9)));
    assert_eq!(whole(b":42\r\n"), Ok((Reply::Integer(42), 5)));
    assert_eq!(whole(b":-7\r\n"), Ok((Reply::Integer(-7), 5)));
    assert_eq!(whole(b"$3\r\nabc\r\n"), Ok((Reply::Bulk(b"abc"), 9)));
    assert_eq!(whole(b"$0\r\n\r\n"), Ok((Reply::Bulk(b""), 6)));
    assert_eq!(whole(b"$-1\r\n"), Ok((Reply::Nil, 5)));
    assert_eq!(whole(b"*-1\r\n"), Ok((Reply::Nil, 5)));
    assert_eq!(whole(b"$4\r\na\r\nb\r\n"), Ok((Reply::Bulk(b"a\r\nb"), 10)));
}

#[test]
fn incomplete_until_whole() {
    let full: &[u8] = b"*2\r\n$3\r\nabc\r\n*1\r\n:1\r\n";
    for cut in 0..full.len() {
        assert_eq!(whole(&full[..cut]), Err(ParseError::Incomplete), "{cut}");
    }
    assert_eq!(whole(full), Ok((Reply::Array(2), full.len())));
}

#[test]
fn refuses_garbage_and_caps() {
    for bad in [
        &b"HTTP/1.1 200 OK\r\n"[..],
        b":12a\r\n",
        b":\r\n",
        b"+OK\n",
        b"+O\rK\r\n",
        b"$3\r\nabcd\r\n",
        b"$-2\r\n",
        b"*-2\r\n",
        b":99999999999999999999\r\n",
        b"$70000\r\n",
        b"*2000\r\n",
        b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
    ] {
        assert_eq!(
            whole(bad),
            Err(ParseError::Invalid),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // A line with no end longer than the cap is refused, not awaited.
    let long = vec![b'+'; LIMITS.max_len + 10];
    assert_eq!(whole(&long), Err(ParseError::Invalid));
    // Depth at the cap is fine.
    assert!(whole(b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_ok());
}

#[test]
fn completes_n_replies_exactly() {
    let two: &[u8] = b":5\r\n:1\r\n";
    assert_eq!(complete(two, 2, &LIMITS), Ok(true));
    assert_eq!(complete(&two[..6], 2, &LIMITS), Ok(false));
    assert_eq!(complete(two, 1, &LIMITS), Err(ParseError::Invalid));
    assert_eq!(complete(b"", 0, &LIMITS), Ok(true));
    assert_eq!(complete(b"garbage", 2, &LIMITS), Err(ParseError::Invalid));
}

#[test]
fn counter_keys() {
    let mut out = Vec::new();
    counter_key(&mut out, "per_ip", b"\x7f\0\0\x01", 1234);
    assert_eq!(out, b"sift:rate:per_ip:\x7f\0\0\x01:1234");
    let long = vec![b'x'; MAX_RAW_KEY + 1];
    counter_key(&mut out, "z", &long, 1);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("sift:rate:z:sha256="), "{text}");
    assert_eq!(text.len(), "sift:rate:z:sha256=".len() + 64 + 2);
}

#[test]
fn sync_request_and_reply() {
    let mut out = Vec::new();
    sync_request(&mut out, b"k", 3, 2000);
    assert_eq!(
        out,
        b"*3\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$1\r\n3\r\n*3\r\n$7\r\nPEXPIRE\r\n$1\r\nk\r\n$4\r\n2000\r\n"
    );
    assert_eq!(sync_count(b":17\r\n:1\r\n"), Some(17));
    assert!(sync_complete(b":17\r\n:1\r\n"));
    assert!(!sync_complete(b":17\r\n"));
    assert!(sync_complete(b"garbage\r\n"));
    assert_eq!(sync_count(b"garbage\r\n"), None);
    assert_eq!(
        sync_count(b"-NOAUTH Authentication required.\r\n-NOAUTH x\r\n"),
        None
    );
    assert_eq!(sync_count(b":-1\r\n:1\r\n"), None);
    assert!(!sync_reusable(b":1\r\n:1\r\n+extra\r\n"));
    assert!(sync_reusable(b":1\r\n:1\r\n"));
}

#[test]
fn auth() {
    let mut out = Vec::new();
    auth_command(&mut out, Some(b"u"), b"p");
    assert_eq!(out, b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n");
    auth_command(&mut out, None, b"p");
    assert_eq!(out, b"*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n");
    assert_eq!(auth_reply(b"+OK\r\n:1\r\n"), AuthReply::Accepted(5));
    assert_eq!(auth_reply(b"+O"), AuthReply::Incomplete);
    assert_eq!(auth_reply(b"-WRONGPASS x\r\n"), AuthReply::Refused);
    assert_eq!(auth_reply(b"xx"), AuthReply::Refused);
}
