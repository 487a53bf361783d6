//! Signatures: the three answers, anchoring, offset, min, errors,
//! precedence against the built-ins, linear time, monotonicity.

use std::time::{Duration, Instant};

use super::*;

fn prefix(name: &str, params: &[&str]) -> Signature {
    Signature::parse(name, params).unwrap()
}

fn error(name: &str, params: &[&str]) -> String {
    Signature::parse(name, params).unwrap_err().to_string()
}

fn set(signatures: &[(&str, &[&str])]) -> SignatureSet {
    let mut set = SignatureSet::new();
    for (name, params) in signatures {
        set.add(name, params).unwrap();
    }
    set
}

#[test]
fn prefix_answers() {
    let game = prefix("game", &["prefix=ca:fe:00:01"]);
    assert_eq!(game.min(), 0);
    assert_eq!(game.probe(b""), Probe::Prefix);
    assert_eq!(game.probe(b"\xca\xfe"), Probe::Prefix);
    assert_eq!(game.probe(b"\xca\xfe\x00\x01"), Probe::Match);
    assert_eq!(game.probe(b"\xca\xfe\x00\x01\xff\xff"), Probe::Match);
    assert_eq!(game.probe(b"\xca\xff"), Probe::NoMatch);
    assert_eq!(game.probe(b"\x00"), Probe::NoMatch);
    // Spaces (a quoted argument) and no separators are the same prefix.
    let spaced = prefix("spaced", &["prefix=CA FE 00 01"]);
    let plain = prefix("plain", &["prefix=cafe0001"]);
    for bytes in [&b"\xca\xfe\x00\x01"[..], b"\xca\xfe\x00\x02", b"\xca"] {
        assert_eq!(spaced.probe(bytes), game.probe(bytes));
        assert_eq!(plain.probe(bytes), game.probe(bytes));
    }
}

#[test]
fn prefix_offset_and_min() {
    let legacy = prefix("legacy", &["prefix=4c4f47", "offset=4", "min=8"]);
    assert_eq!(legacy.min(), 8);
    assert_eq!(legacy.probe(b"xxxx"), Probe::Prefix);
    assert_eq!(legacy.probe(b"\x00\x00\x00\x00LO"), Probe::Prefix);
    assert_eq!(legacy.probe(b"\x00\x00\x00\x00LOG"), Probe::Match);
    // Differs at byte 4, but min=8 holds the NoMatch back until 8 bytes.
    assert_eq!(legacy.probe(b"\x00\x00\x00\x00X"), Probe::Prefix);
    assert_eq!(legacy.probe(b"\x00\x00\x00\x00XOG"), Probe::Prefix);
    assert_eq!(legacy.probe(b"\x00\x00\x00\x00XOGx"), Probe::NoMatch);
    assert_eq!(legacy.probe(b"\x00\x00\x00\x00XOGxx"), Probe::NoMatch);
    // The bytes before the offset are anything.
    assert_eq!(legacy.probe(b"\xff\xfe\xfd\xfcLOG"), Probe::Match);
}

#[test]
fn patterns_are_anchored_at_the_first_byte() {
    let get = Signature::pattern("get", "GET", None).unwrap();
    assert_eq!(get.min(), 3);
    assert_eq!(get.probe(b"GE"), Probe::Prefix);
    assert_eq!(get.probe(b"GET"), Probe::Match);
    assert_eq!(get.probe(b" GET"), Probe::NoMatch);
    assert_eq!(get.probe(b"xGET"), Probe::NoMatch);
    // Alternatives are anchored too: the wrapper is \A(?:...).
    let either = Signature::pattern("either", "ab|cd", None).unwrap();
    assert_eq!(either.probe(b"cd"), Probe::Match);
    assert_eq!(either.probe(b"xcd"), Probe::NoMatch);
    // Searching is written into the pattern, with a window.
    let needle = Signature::pattern("needle", "(?s).*needle", Some(32)).unwrap();
    assert_eq!(needle.probe(b"\x00\nhay needle"), Probe::Match);
    assert_eq!(needle.probe(b"hay hay"), Probe::Prefix);
    let mut late = vec![b'h'; 27];
    late.extend_from_slice(b"needle");
    assert_eq!(late.len(), 33);
    assert_eq!(needle.probe(&late), Probe::NoMatch, "ends past the window");
    assert_eq!(needle.probe(&late[..31]), Probe::Prefix);
    assert_eq!(needle.probe(&[b'h'; 32]), Probe::NoMatch);
    // ^ and (?m)^ are allowed: their answer is known from bytes present.
    let line = Signature::pattern("line", r"(?s).*(?m:^)HELO ", Some(64)).unwrap();
    assert_eq!(line.probe(b"220 x\r\nHELO a"), Probe::Match);
    assert_eq!(line.probe(b"220 xHELO a"), Probe::Prefix);
}

#[test]
fn patterns_match_bytes_not_text() {
    let tls = Signature::pattern("hello", r"\x16\x03[\x00-\x04]", None).unwrap();
    assert_eq!(tls.min(), 3);
    assert_eq!(tls.probe(b"\x16\x03\x01"), Probe::Match);
    assert_eq!(tls.probe(b"\x16\x03\x05"), Probe::NoMatch);
    let high = Signature::pattern("high", r"\xff\xfe.", None).unwrap();
    assert_eq!(high.min(), 3);
    assert_eq!(high.probe(b"\xff\xfe\x80"), Probe::Match);
    assert_eq!(high.probe(b"\xff\xfe\n"), Probe::NoMatch);
    // (?u) for a group: é is two bytes there.
    let text = Signature::pattern("text", r"(?u:caf\w)", None).unwrap();
    assert_eq!(text.probe("café".as_bytes()), Probe::Match);
    // Without it \w is ASCII.
    let ascii = Signature::pattern("ascii", r"caf\w", None).unwrap();
    assert_eq!(ascii.probe("café".as_bytes()), Probe::NoMatch);
    // Case-insensitive, ASCII.
    let helo = Signature::pattern("helo", r"(?i)helo ", None).unwrap();
    assert_eq!(helo.probe(b"HeLo x"), Probe::Match);
}

#[test]
fn pattern_window_is_min() {
    let banner = Signature::parse("banner", &[r"pattern=HELLO [0-9]+\r\n", "min=16"]).unwrap();
    assert_eq!(banner.min(), 16);
    assert_eq!(banner.probe(b"HELLO 12"), Probe::Prefix);
    assert_eq!(banner.probe(b"HELLO 12\r\n"), Probe::Match);
    // 17 and 18 bytes: the match would end past the 16-byte window.
    assert_eq!(banner.probe(b"HELLO 123456789\r\n"), Probe::NoMatch);
    assert_eq!(banner.probe(b"HELLO 1234567890\r\n"), Probe::NoMatch);
    // Anything not matching within 16 bytes is NoMatch at 16, not before.
    assert_eq!(banner.probe(b"BYE"), Probe::Prefix);
    assert_eq!(banner.probe(&[b'x'; 15]), Probe::Prefix);
    assert_eq!(banner.probe(&[b'x'; 16]), Probe::NoMatch);
}

#[test]
fn parameter_errors() {
    assert_eq!(
        error("x", &["pattern=a", "prefix=61"]),
        "\"pattern=\" and \"prefix=\" exclude each other"
    );
    assert_eq!(
        error("x", &["min=3"]),
        "a signature needs \"pattern=\" or \"prefix=\""
    );
    assert_eq!(
        error("x", &["pattern=a", "pattern=b"]),
        "duplicate \"pattern=\""
    );
    assert_eq!(
        error("x", &["regex=a"]),
        "unknown parameter \"regex=\": expected pattern=, prefix=, offset= or min="
    );
    assert_eq!(
        error("x", &["pattern"]),
        "invalid parameter \"pattern\": expected pattern=, prefix=, offset= or min="
    );
    assert_eq!(
        error("x", &["pattern=a", "offset=2"]),
        "\"offset=\" goes with \"prefix=\", not \"pattern=\" (write the offset into the pattern)"
    );
    assert_eq!(
        error("x", &["prefix=abc"]),
        "invalid \"prefix=abc\": expected hex digits, two per byte (e.g. prefix=16030100 or prefix=16:03:01:00)"
    );
    assert_eq!(
        error("x", &["prefix=zz"]),
        "invalid \"prefix=zz\": expected hex digits, two per byte (e.g. prefix=16030100 or prefix=16:03:01:00)"
    );
    assert_eq!(
        error("x", &["prefix=: :"]),
        "invalid \"prefix=: :\": expected hex digits, two per byte (e.g. prefix=16030100 or prefix=16:03:01:00)"
    );
    assert_eq!(
        error("x", &["prefix=61", "offset=-1"]),
        "invalid \"offset=-1\": expected a number of bytes from 0 to 65535"
    );
    assert_eq!(
        error("x", &["prefix=6162", "offset=65535"]),
        "\"offset=\" plus the prefix's length exceeds 65536 bytes"
    );
    assert_eq!(
        error("x", &["prefix=61", "min=0"]),
        "invalid \"min=0\": expected a number of bytes from 1 to 65536"
    );
    assert_eq!(
        error("x", &["prefix=61", "min=+5"]),
        "invalid \"min=+5\": expected a number of bytes from 1 to 65536"
    );
    assert_eq!(
        error("x", &[&format!("prefix={}", "ab".repeat(257))]),
        "\"prefix=\" must be 1 to 256 bytes"
    );
}

#[test]
fn pattern_errors() {
    assert_eq!(
        error("x", &["pattern=(a"]),
        "invalid \"pattern=(a\": unclosed group"
    );
    // Would escape the \A(?:...) wrapper if it were pasted in unchecked.
    assert_eq!(
        error("x", &["pattern=a)|(b"]),
        "invalid \"pattern=a)|(b\": unopened group"
    );
    assert_eq!(
        error("x", &["pattern=abc$"]),
        "\"pattern=abc$\" uses $ or \\z, whose answer can change as more bytes arrive; only ^ and \\A are allowed"
    );
    assert_eq!(
        error("x", &[r"pattern=(?m)abc$", "min=4"]),
        "\"pattern=(?m)abc$\" uses $ or \\z, whose answer can change as more bytes arrive; only ^ and \\A are allowed"
    );
    assert_eq!(
        error("x", &[r"pattern=GET\b"]),
        "\"pattern=GET\\b\" uses a word boundary, whose answer can change as more bytes arrive; only ^ and \\A are allowed"
    );
    assert_eq!(
        error("x", &["pattern=a+"]),
        "\"pattern=a+\" can match input of any length: give \"min=N\", the number of bytes it looks at"
    );
    assert_eq!(
        error("x", &["pattern=abcdef", "min=5"]),
        "\"min=5\" is shorter than the shortest match of \"pattern=abcdef\" (6 bytes)"
    );
    assert_eq!(
        error("x", &["pattern=(?:)"]),
        "\"pattern=(?:)\" only matches empty input"
    );
    assert_eq!(error("x", &["pattern="]), "empty \"pattern=\"");
    assert_eq!(
        Signature::pattern("x", "a", Some(65_537))
            .unwrap_err()
            .to_string(),
        "\"min=\" must be 1 to 65536"
    );
    assert_eq!(
        error("x", &["pattern=(?s)(?:.{0,1000}){0,1000}", "min=65536"]),
        "\"pattern=(?s)(?:.{0,1000}){0,1000}\" compiles to more than 1048576 bytes"
    );
    let long = format!("pattern={}", "a".repeat(4097));
    assert_eq!(error("x", &[&long]), "\"pattern=\" longer than 4096 bytes");
}

#[test]
fn name_errors_and_set_errors() {
    assert_eq!(
        error("Game", &["prefix=61"]),
        "invalid signature name \"Game\": 1 to 32 lowercase letters, digits, \"_\" or \"-\", starting with a letter"
    );
    assert!(error("1game", &["prefix=61"]).starts_with("invalid signature name"));
    assert!(error("", &["prefix=61"]).starts_with("invalid signature name"));
    assert!(error(&"g".repeat(33), &["prefix=61"]).starts_with("invalid signature name"));
    for taken in [
        "tls",
        "http",
        "proxy_protocol",
        "unknown",
        "timeout",
        "closed",
    ] {
        assert_eq!(
            error(taken, &["prefix=61"]),
            format!("signature name \"{taken}\" is a built-in $sift_protocol value")
        );
    }
    let mut set = SignatureSet::new();
    assert_eq!(set.add("game-1", &["prefix=61"]), Ok(0));
    assert_eq!(set.add("game_2", &["pattern=b"]), Ok(1));
    assert_eq!(
        set.add("game-1", &["prefix=62"]).unwrap_err().to_string(),
        "duplicate signature name \"game-1\""
    );
    assert_eq!(
        set.add("bad", &["pattern=("]).unwrap_err().to_string(),
        "signature \"bad\": invalid \"pattern=(\": unclosed group"
    );
    assert_eq!(set.len(), 2);
    assert_eq!(set.index_of("game_2"), Some(1));
    assert_eq!(set.get(1).map(Signature::name), Some("game_2"));
    let mut full = SignatureSet::new();
    for index in 0..64 {
        full.add(&format!("s{index}"), &["prefix=61"]).unwrap();
    }
    assert_eq!(
        full.add("s64", &["prefix=61"]).unwrap_err().to_string(),
        "more than 64 signatures"
    );
}

/// A TLS 1.3 ClientHello record as in tests.rs, shortened.
const TLS: &[u8] = b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03";
const SSH: &[u8] = b"SSH-2.0-OpenSSH_9.2p1\r\n";

#[test]
fn built_ins_decide_first() {
    let signatures = set(&[
        ("mytls", &["prefix=1603"]),
        ("anything", &[r"pattern=(?s).*", "min=1"]),
    ]);
    assert_eq!(
        detect_with(&signatures, TLS),
        Detection::Protocol(Protocol::Tls)
    );
    assert_eq!(
        detect_with(&signatures, SSH),
        Detection::Protocol(Protocol::Ssh)
    );
    // Bytes no built-in accepts go to the signatures.
    assert_eq!(detect_with(&signatures, b"\x7f"), Detection::Signature(1));
    assert_eq!(
        detect_with(&signatures, b"\x7f").name(&signatures),
        Some("anything")
    );
    assert_eq!(
        Detection::Protocol(Protocol::Tls).name(&signatures),
        Some("tls")
    );
    assert_eq!(Detection::NeedMore.name(&signatures), None);
    assert_eq!(Detection::Signature(7).name(&signatures), None);
}

#[test]
fn a_waiting_signature_does_not_stall_built_ins() {
    let signatures = set(&[("needle", &[r"pattern=(?s).*needle", "min=512"])]);
    // SSH is decided at 8 bytes, SOCKS5 at 3, whatever the signature waits for.
    assert_eq!(
        detect_with(&signatures, &SSH[..8]),
        Detection::Protocol(Protocol::Ssh)
    );
    assert_eq!(
        detect_with(&signatures, &[0x05, 0x01, 0x00]),
        Detection::Protocol(Protocol::Socks5)
    );
    // Unknown bytes wait for the window.
    assert_eq!(detect_with(&signatures, b"\x7fhay"), Detection::NeedMore);
    assert_eq!(
        detect_with(&signatures, b"\x7fhay needle"),
        Detection::Signature(0)
    );
    let mut hay = vec![0x7f; 512];
    assert_eq!(
        detect_with(&signatures, &hay),
        Detection::Protocol(Protocol::Unknown)
    );
    hay.extend_from_slice(b"needle");
    assert_eq!(
        detect_with(&signatures, &hay),
        Detection::Protocol(Protocol::Unknown)
    );
}

#[test]
fn signatures_rank_in_configuration_order() {
    let signatures = set(&[
        ("first", &["prefix=7f01"]),
        ("second", &["prefix=7f"]),
        ("third", &["pattern=\\x7f\\x02", "min=4"]),
    ]);
    // `first` is still possible after 7f: it holds `second` back.
    assert_eq!(detect_with(&signatures, b"\x7f"), Detection::NeedMore);
    assert_eq!(
        detect_with(&signatures, b"\x7f\x01"),
        Detection::Signature(0)
    );
    assert_eq!(
        detect_with(&signatures, b"\x7f\x02"),
        Detection::Signature(1)
    );
    // Swapped: the shorter prefix wins at once.
    let swapped = set(&[("second", &["prefix=7f"]), ("first", &["prefix=7f01"])]);
    assert_eq!(detect_with(&swapped, b"\x7f"), Detection::Signature(0));
    // A built-in still undecided holds every signature back.
    let get = set(&[("get", &["prefix=474554"])]);
    assert_eq!(detect_with(&get, b"GET / HT"), Detection::NeedMore);
    assert_eq!(
        detect_with(&get, b"GET / HTTP/1.1\r\n"),
        Detection::Protocol(Protocol::Http)
    );
    assert_eq!(detect_with(&get, b"GET /\x00"), Detection::Signature(0));
    // No signatures: exactly detect().
    let none = SignatureSet::new();
    for bytes in [&b""[..], TLS, SSH, b"\x7f", b"GET / HTTP/1.1\r\n"] {
        let expected = match detect(bytes) {
            Verdict::NeedMore => Detection::NeedMore,
            Verdict::Detected(protocol) => Detection::Protocol(protocol),
        };
        assert_eq!(detect_with(&none, bytes), expected);
    }
}

#[test]
fn hostile_patterns_stay_linear() {
    let input = vec![b'a'; 64 * 1024];
    for (pattern, min) in [
        ("(a*)*b", "65536"),
        ("(a|aa)*c", "65536"),
        ("(?s)(.*a){20}x", "65536"),
        ("(a+)+$b", "65536"),
    ] {
        let Ok(signature) = Signature::parse(
            "evil",
            &[&format!("pattern={pattern}"), &format!("min={min}")],
        ) else {
            // `$` is refused before it is compiled.
            assert!(pattern.contains('$'));
            continue;
        };
        let started = Instant::now();
        for len in [1024, 32 * 1024, 64 * 1024 - 1] {
            assert_eq!(signature.probe(&input[..len]), Probe::Prefix, "{pattern}");
        }
        let mut at_window = input.clone();
        at_window.push(b'a');
        assert_eq!(signature.probe(&at_window[..65_536]), Probe::NoMatch);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{pattern}: {:?}",
            started.elapsed()
        );
    }
}

/// Marsaglia's xorshift64, as in tests.rs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
    }
}

#[test]
fn detect_with_is_monotone() {
    let signatures = set(&[
        ("p1", &["prefix=7f454c46"]),
        ("p2", &["prefix=00ff", "offset=2", "min=6"]),
        ("r1", &[r"pattern=[\x80-\xff]{2}\x00", "min=5"]),
        ("r2", &[r"pattern=(?s).{0,6}(?m:^)ok", "min=10"]),
        ("r3", &[r"pattern=(?i)hello|\x01\x02", "min=3"]),
    ]);
    // Bytes from a small alphabet so that signatures match now and then.
    let alphabet = b"\x00\x01\x02\x7f\x80\xff\x45\x4c\x46ok\nhel \x7f\x80";
    // Starts that some signature (or built-in) accepts, to mutate from.
    let seeds: [&[u8]; 7] = [
        b"\x7fELF",
        b"\x80\xff\x00",
        b"\x7f\x7f\x00\xff",
        b"hello\n",
        b"\x01\x02",
        b"\x7f\nok",
        b"\x00",
    ];
    let mut rng = XorShift(0x5157_0016_dead_beef);
    let mut matched = 0;
    for _ in 0..4000 {
        let seed = seeds[rng.below(seeds.len())];
        let mut bytes = seed[..rng.below(seed.len() + 1)].to_vec();
        let len = rng.below(12);
        bytes.extend((0..len).map(|_| alphabet[rng.below(alphabet.len())]));
        let mut decided = None;
        for end in 0..=bytes.len() {
            let verdict = detect_with(&signatures, &bytes[..end]);
            match decided {
                Some(earlier) => assert_eq!(verdict, earlier, "{bytes:02x?} at {end}"),
                None if verdict != Detection::NeedMore => decided = Some(verdict),
                None => {}
            }
        }
        if matches!(decided, Some(Detection::Signature(_))) {
            matched += 1;
        }
    }
    assert!(matched > 300, "{matched}");
}

#[test]
fn final_decision_lets_a_matching_signature_win_over_a_waiting_builtin() {
    let signatures = set(&[
        ("rpc", &["prefix=52504331"]),
        ("other", &["pattern=RPC1 c"]),
    ]);
    // "RPC1 call" is also a valid start of an HTTP request line: the http
    // detector keeps waiting for the rest of it.
    assert_eq!(detect_with(&signatures, b"RPC1 call"), Detection::NeedMore);
    // When no more bytes come, it cannot match any more; the first
    // signature that matches the bytes as they are decides.
    assert_eq!(
        detect_with_final(&signatures, b"RPC1 call"),
        Detection::Signature(0)
    );
    // A signature still waiting for bytes cannot match either.
    assert_eq!(detect_with_final(&signatures, b"RPC"), Detection::NeedMore);
    // What a built-in or signature decided anyway stays decided.
    assert_eq!(
        detect_with_final(&signatures, b"RPC1 call\r\n"),
        detect_with(&signatures, b"RPC1 call\r\n")
    );
    assert_eq!(
        detect_with_final(&signatures, b"SSH-2.0-x\r\n"),
        Detection::Protocol(Protocol::Ssh)
    );
}
