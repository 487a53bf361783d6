//! User-defined signatures: protocols sift has no detector for, described
//! in the configuration as a byte prefix or a regular expression over the
//! client's first bytes, e.g.
//!
//! ```text
//! sift_signature minecraft  pattern=(?s)[\x00-\x7f]\x00 min=2;
//! sift_signature mygame     prefix=ca:fe:00:01;
//! sift_signature legacy     prefix=4c4f47 offset=4 min=8;
//! ```
//!
//! (In nginx.conf, quote a pattern that holds spaces, `;`, `{` or `}`;
//! nginx passes `\x..` through but turns `\\` into one backslash.)
//!
//! A [`SignatureSet`] is built once, at configuration time; building
//! checks everything and reports problems as one-line messages
//! ([`SignatureError`]) fit for nginx's `[emerg]`. [`detect_with`] then
//! classifies with the built-in detectors and the set.
//!
//! # Matchers
//!
//! Each signature answers a [`Probe`] like the built-in detectors, and is
//! monotone like them: `Match` and `NoMatch` never change as more bytes
//! arrive.
//!
//! - `prefix=HEX [offset=N]`: the bytes at `offset` (default 0) are
//!   exactly HEX (hex digits, two per byte, `:` or spaces between bytes
//!   allowed; 1 to 256 bytes; offset + length at most 65536). `Match` once
//!   they are all in, `NoMatch` at the first byte that differs, `Prefix`
//!   while the bytes so far agree.
//! - `pattern=REGEX`: a regular expression of the `regex` crate (linear
//!   time, no backtracking, no look-around), over bytes rather than text:
//!   - **Anchored at the first byte**: it is compiled as `\A(?:REGEX)`, so
//!     `pattern=GET` means "starts with GET". To search, say so in the
//!     pattern: `pattern=(?s).*needle` finds `needle` anywhere in the
//!     window.
//!   - **Bytes, not text**: Unicode is off, so `\xff` is the byte `ff`, `.`
//!     any one byte but `\n` (any byte at all with `(?s)`), `\w` and
//!     `(?i)` ASCII only. `(?u)` turns Unicode on for the group it starts.
//!   - **The window**: the pattern is matched against the first `min`
//!     bytes. `Match` as soon as the bytes so far match, `Prefix` while
//!     fewer than `min` bytes are in, then `NoMatch`. Without `min=`, the
//!     window is the pattern's longest possible match (3 for
//!     `\x16\x03[\x00-\x04]`); a pattern that can match input of any
//!     length (`.*`, `+`, `{n,}`) needs `min=`.
//!   - Not allowed, because their answer depends on bytes that may not
//!     have arrived yet: `$`, `\z` (end of text, also with `(?m)`), and
//!     word boundaries (`\b`, `\B`, `\<`, `\>` ...). `^` and `\A` are.
//! - `min=N` (1..=65536): no `NoMatch` before N bytes are in. For a
//!   pattern that is the window; for a prefix it only delays the answer
//!   (default 0: `NoMatch` at the first differing byte).
//!
//! # Precedence
//!
//! **Built-in detectors first, then signatures in configuration order.**
//! [`detect_with`] runs [`super::detect`]; only when that says `Unknown`
//! does it ask the signatures, and the first whose answer is not `NoMatch`
//! decides, as among the built-ins: `Match` is the verdict, `Prefix` means
//! wait. So:
//!
//! - A signature never claims bytes a built-in detector accepts: a
//!   `prefix=16 03` signature never fires, `tls` decides first. A
//!   signature names what sift would otherwise call `unknown`.
//! - A built-in still at `Prefix` holds the signatures back (those are
//!   exact and give up at the first impossible byte, so this is short),
//!   but a signature waiting for its `min` bytes never holds back a
//!   built-in: a `(?s).*needle min=512` signature cannot stall an SSH or
//!   SOCKS5 client that sends a few bytes and waits for the server.
//! - Among signatures, the earlier one wins; an earlier signature still at
//!   `Prefix` (waiting for its window) holds back later ones.
//! - Signature names cannot be built-in protocol names, `timeout` or
//!   `closed`, so `$sift_protocol` stays unambiguous.
//!
//! # Costs
//!
//! [`super::detect`] is untouched: connections a built-in decides never
//! reach the signatures. A prefix signature compares at most its length in
//! bytes. A pattern runs the regex engine over at most `min` bytes on each
//! call (linear in that); the compiled program is limited to
//! [`PATTERN_SIZE_LIMIT`] bytes and its lazy DFA cache to
//! [`PATTERN_DFA_SIZE_LIMIT`] bytes, which the regex crate allocates once
//! per thread on first use (the only allocation while matching).

use core::fmt;

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::Look;

use super::{detect, Probe, Protocol, Verdict};

/// At most this many signatures in a set.
pub const MAX_SIGNATURES: usize = 64;
/// Signature names: 1 to 32 bytes.
pub const MAX_NAME_LEN: usize = 32;
/// No signature looks further than this into the client's bytes.
pub const MAX_WINDOW: usize = 65_536;
/// Longest `prefix=`, in bytes.
pub const MAX_PREFIX_LEN: usize = 256;
/// Longest `pattern=`, in bytes of its text.
pub const MAX_PATTERN_LEN: usize = 4096;
/// `RegexBuilder::size_limit` for each pattern.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// `RegexBuilder::dfa_size_limit` for each pattern.
pub const PATTERN_DFA_SIZE_LIMIT: usize = 1 << 18;
/// `RegexBuilder::nest_limit`.
const PATTERN_NEST_LIMIT: u32 = 64;

/// What went wrong building a signature: one line, naming the parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureError(String);

impl SignatureError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for SignatureError {}

#[derive(Clone, Debug)]
enum Matcher {
    Prefix { offset: usize, bytes: Vec<u8> },
    Pattern(Regex),
}

/// One user-defined signature.
#[derive(Clone, Debug)]
pub struct Signature {
    name: String,
    matcher: Matcher,
    min: usize,
}

impl Signature {
    /// From the directive's words after the name: `pattern=REGEX [min=N]`
    /// or `prefix=HEX [offset=N] [min=N]`, in any order, each at most once.
    pub fn parse(name: &str, params: &[&str]) -> Result<Self, SignatureError> {
        let mut pattern = None;
        let mut prefix = None;
        let mut offset = None;
        let mut min = None;
        for param in params {
            let (key, value) = param.split_once('=').ok_or_else(|| {
                SignatureError::new(format!(
                    "invalid parameter \"{param}\": expected pattern=, prefix=, offset= or min="
                ))
            })?;
            let slot = match key {
                "pattern" => &mut pattern,
                "prefix" => &mut prefix,
                "offset" => &mut offset,
                "min" => &mut min,
                _ => {
                    return Err(SignatureError::new(format!(
                        "unknown parameter \"{key}=\": expected pattern=, prefix=, offset= or min="
                    )))
                }
            };
            if slot.replace(value).is_some() {
                return Err(SignatureError::new(format!("duplicate \"{key}=\"")));
            }
        }
        let min = min
            .map(|value| number(value, "min", 1, MAX_WINDOW))
            .transpose()?;
        match (pattern, prefix) {
            (Some(pattern), None) => {
                if offset.is_some() {
                    return Err(SignatureError::new(
                        "\"offset=\" goes with \"prefix=\", not \"pattern=\" (write the offset into the pattern)",
                    ));
                }
                Self::pattern(name, pattern, min)
            }
            (None, Some(hex)) => {
                let offset = offset
                    .map(|value| number(value, "offset", 0, MAX_WINDOW.saturating_sub(1)))
                    .transpose()?
                    .unwrap_or(0);
                Self::prefix(name, &parse_hex(hex)?, offset, min)
            }
            (Some(_), Some(_)) => Err(SignatureError::new(
                "\"pattern=\" and \"prefix=\" exclude each other",
            )),
            (None, None) => Err(SignatureError::new(
                "a signature needs \"pattern=\" or \"prefix=\"",
            )),
        }
    }

    /// A `pattern=` signature; `min` None takes the pattern's longest
    /// match as its window.
    pub fn pattern(name: &str, pattern: &str, min: Option<usize>) -> Result<Self, SignatureError> {
        check_name(name)?;
        if pattern.is_empty() {
            return Err(SignatureError::new("empty \"pattern=\""));
        }
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(SignatureError::new(format!(
                "\"pattern=\" longer than {MAX_PATTERN_LEN} bytes"
            )));
        }
        // Parsed on its own first: this catches unbalanced groups that
        // would break out of the anchoring wrapper (`a)|(b`), and gives the
        // properties checked below.
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .nest_limit(PATTERN_NEST_LIMIT)
            .build()
            .parse(pattern)
            .map_err(|error| invalid_pattern(pattern, &error.to_string()))?;
        let properties = hir.properties();
        if let Some(look) = properties
            .look_set()
            .iter()
            .find(|look| !matches!(look, Look::Start | Look::StartLF))
        {
            return Err(SignatureError::new(format!(
                "\"pattern={pattern}\" uses {}, whose answer can change as more bytes arrive; \
                 only ^ and \\A are allowed",
                look_name(look)
            )));
        }
        let shortest = properties.minimum_len().unwrap_or(0);
        let window = match (min, properties.maximum_len()) {
            (Some(min), _) => min,
            (None, Some(longest)) if (1..=MAX_WINDOW).contains(&longest) => longest,
            (None, Some(_)) => {
                return Err(SignatureError::new(format!(
                    "\"pattern={pattern}\" only matches empty input"
                )))
            }
            (None, None) => {
                return Err(SignatureError::new(format!(
                    "\"pattern={pattern}\" can match input of any length: \
                     give \"min=N\", the number of bytes it looks at"
                )))
            }
        };
        if window > MAX_WINDOW {
            return Err(SignatureError::new(format!(
                "\"min=\" must be 1 to {MAX_WINDOW}"
            )));
        }
        if shortest > window {
            return Err(SignatureError::new(format!(
                "\"min={window}\" is shorter than the shortest match of \"pattern={pattern}\" \
                 ({shortest} bytes)"
            )));
        }
        let regex = RegexBuilder::new(&format!("\\A(?:{pattern})"))
            .unicode(false)
            .size_limit(PATTERN_SIZE_LIMIT)
            .dfa_size_limit(PATTERN_DFA_SIZE_LIMIT)
            .nest_limit(PATTERN_NEST_LIMIT)
            .build()
            .map_err(|error| match error {
                regex::Error::CompiledTooBig(limit) => SignatureError::new(format!(
                    "\"pattern={pattern}\" compiles to more than {limit} bytes"
                )),
                other => invalid_pattern(pattern, &other.to_string()),
            })?;
        Ok(Self {
            name: name.to_owned(),
            matcher: Matcher::Pattern(regex),
            min: window,
        })
    }

    /// A `prefix=` signature: `bytes` at `offset`; `min` None is 0.
    pub fn prefix(
        name: &str,
        bytes: &[u8],
        offset: usize,
        min: Option<usize>,
    ) -> Result<Self, SignatureError> {
        check_name(name)?;
        if bytes.is_empty() || bytes.len() > MAX_PREFIX_LEN {
            return Err(SignatureError::new(format!(
                "\"prefix=\" must be 1 to {MAX_PREFIX_LEN} bytes"
            )));
        }
        if offset.saturating_add(bytes.len()) > MAX_WINDOW {
            return Err(SignatureError::new(format!(
                "\"offset=\" plus the prefix's length exceeds {MAX_WINDOW} bytes"
            )));
        }
        if min.is_some_and(|min| min > MAX_WINDOW) {
            return Err(SignatureError::new(format!(
                "\"min=\" must be 1 to {MAX_WINDOW}"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            matcher: Matcher::Prefix {
                offset,
                bytes: bytes.to_vec(),
            },
            min: min.unwrap_or(0),
        })
    }

    /// The name, `$sift_protocol` when it matches.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many bytes must be in before it answers `NoMatch`.
    pub fn min(&self) -> usize {
        self.min
    }

    /// Its answer on the client's bytes so far; see the module docs.
    pub fn probe(&self, bytes: &[u8]) -> Probe {
        match &self.matcher {
            Matcher::Prefix {
                offset,
                bytes: expected,
            } => {
                let present = bytes.get(*offset..).unwrap_or_default();
                let agrees = present.iter().zip(expected).all(|(a, b)| a == b);
                if !agrees {
                    if bytes.len() >= self.min {
                        Probe::NoMatch
                    } else {
                        Probe::Prefix
                    }
                } else if present.len() >= expected.len() {
                    Probe::Match
                } else {
                    Probe::Prefix
                }
            }
            Matcher::Pattern(regex) => {
                let window = bytes.get(..self.min).unwrap_or(bytes);
                if regex.is_match(window) {
                    Probe::Match
                } else if bytes.len() < self.min {
                    Probe::Prefix
                } else {
                    Probe::NoMatch
                }
            }
        }
    }
}

/// The signatures of one configuration, in configuration order.
#[derive(Clone, Debug, Default)]
pub struct SignatureSet {
    signatures: Vec<Signature>,
}

impl SignatureSet {
    pub const fn new() -> Self {
        Self {
            signatures: Vec::new(),
        }
    }

    /// `sift_signature NAME PARAMS...`: parses and appends; the index the
    /// signature gets (its rank among signatures) is returned.
    pub fn add(&mut self, name: &str, params: &[&str]) -> Result<usize, SignatureError> {
        let signature = Signature::parse(name, params)
            .map_err(|error| SignatureError::new(format!("signature \"{name}\": {error}")))?;
        self.push(signature)
    }

    /// Appends a signature built by hand; names must be unique.
    pub fn push(&mut self, signature: Signature) -> Result<usize, SignatureError> {
        if self.index_of(signature.name()).is_some() {
            return Err(SignatureError::new(format!(
                "duplicate signature name \"{}\"",
                signature.name()
            )));
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(SignatureError::new(format!(
                "more than {MAX_SIGNATURES} signatures"
            )));
        }
        self.signatures.push(signature);
        Ok(self.signatures.len().saturating_sub(1))
    }

    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Signature> {
        self.signatures.get(index)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Signature> {
        self.signatures.iter()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.signatures
            .iter()
            .position(|signature| signature.name == name)
    }

    /// The first signature that matches `bytes` outright, when no more
    /// bytes can come: one still waiting (`Prefix`) can no longer match.
    fn first_match(&self, bytes: &[u8]) -> Option<Detection> {
        self.signatures
            .iter()
            .position(|signature| signature.probe(bytes) == Probe::Match)
            .map(Detection::Signature)
    }

    /// The signatures' verdict alone, on bytes no built-in accepts.
    fn probe(&self, bytes: &[u8]) -> Option<Detection> {
        for (index, signature) in self.signatures.iter().enumerate() {
            match signature.probe(bytes) {
                Probe::Match => return Some(Detection::Signature(index)),
                Probe::Prefix => return Some(Detection::NeedMore),
                Probe::NoMatch => {}
            }
        }
        None
    }
}

/// [`detect_with`]'s verdict: like [`Verdict`], plus signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Some built-in detector or signature could still match.
    NeedMore,
    /// A built-in protocol; `Unknown` when neither a built-in detector nor
    /// a signature can match.
    Protocol(Protocol),
    /// The signature at this index of the set.
    Signature(usize),
}

impl Detection {
    /// The value of `$sift_protocol`: the protocol's or signature's name;
    /// None for `NeedMore` or an index not in `signatures`.
    pub fn name<'a>(&self, signatures: &'a SignatureSet) -> Option<&'a str> {
        match *self {
            Detection::NeedMore => None,
            Detection::Protocol(protocol) => Some(protocol.as_str()),
            Detection::Signature(index) => signatures.get(index).map(Signature::name),
        }
    }
}

/// [`super::detect`], then, if that says `Unknown`, the signatures in
/// order (see the module docs for why in this order). Monotone like
/// `detect`; with an empty set it is `detect`.
pub fn detect_with(signatures: &SignatureSet, bytes: &[u8]) -> Detection {
    match detect(bytes) {
        Verdict::NeedMore => Detection::NeedMore,
        Verdict::Detected(Protocol::Unknown) => signatures
            .probe(bytes)
            .unwrap_or(Detection::Protocol(Protocol::Unknown)),
        Verdict::Detected(protocol) => Detection::Protocol(protocol),
    }
}

/// [`detect_with`] when no more bytes can come (the client went quiet
/// past `sift_timeout`, or the buffer is full): detectors and signatures
/// still waiting can no longer match, so a signature that matches the
/// bytes as they are decides even where a built-in still held it back
/// (e.g. a text line without its newline keeps the `http` detector
/// waiting). `NeedMore` means nothing matches: the caller's "undecided".
pub fn detect_with_final(signatures: &SignatureSet, bytes: &[u8]) -> Detection {
    match detect_with(signatures, bytes) {
        Detection::NeedMore => signatures.first_match(bytes).unwrap_or(Detection::NeedMore),
        decided => decided,
    }
}

/// Lowercase letters, digits, `_` and `-`, starting with a letter; not a
/// name `$sift_protocol` already has.
fn check_name(name: &str) -> Result<(), SignatureError> {
    let bytes = name.as_bytes();
    let well_formed = (1..=MAX_NAME_LEN).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes.iter().all(|&byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
        });
    if !well_formed {
        return Err(SignatureError::new(format!(
            "invalid signature name \"{name}\": 1 to {MAX_NAME_LEN} lowercase letters, digits, \
             \"_\" or \"-\", starting with a letter"
        )));
    }
    if name.parse::<Protocol>().is_ok() || name == "timeout" || name == "closed" {
        return Err(SignatureError::new(format!(
            "signature name \"{name}\" is a built-in $sift_protocol value"
        )));
    }
    Ok(())
}

fn number(value: &str, key: &str, min: usize, max: usize) -> Result<usize, SignatureError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|number| (min..=max).contains(number) && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            SignatureError::new(format!(
                "invalid \"{key}={value}\": expected a number of bytes from {min} to {max}"
            ))
        })
}

/// Hex digits, two per byte; `:` and spaces may separate bytes.
fn parse_hex(text: &str) -> Result<Vec<u8>, SignatureError> {
    let invalid = || {
        SignatureError::new(format!(
            "invalid \"prefix={text}\": expected hex digits, two per byte (e.g. prefix=16030100 or prefix=16:03:01:00)"
        ))
    };
    let mut bytes = Vec::new();
    for group in text.split([':', ' ']).filter(|group| !group.is_empty()) {
        if group.len() % 2 != 0 {
            return Err(invalid());
        }
        let digits = group.as_bytes();
        for pair in digits.chunks_exact(2) {
            let value = core::str::from_utf8(pair)
                .ok()
                .filter(|pair| pair.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(invalid)?;
            bytes.push(value);
        }
    }
    if bytes.is_empty() {
        return Err(invalid());
    }
    Ok(bytes)
}

/// The regex crate's message without its multi-line rendering: the line
/// after `error:`.
fn invalid_pattern(pattern: &str, message: &str) -> SignatureError {
    let reason = message
        .lines()
        .find_map(|line| line.trim().strip_prefix("error:"))
        .map_or_else(|| message.lines().last().unwrap_or(message), str::trim);
    SignatureError::new(format!("invalid \"pattern={pattern}\": {reason}"))
}

fn look_name(look: Look) -> &'static str {
    match look {
        Look::End | Look::EndLF | Look::EndCRLF => "$ or \\z",
        Look::StartCRLF => "(?R)^",
        _ => "a word boundary",
    }
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
