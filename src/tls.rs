//! TLS inspection glue. The ClientHello is parsed once, in preread, and kept
//! as bytes of the session (its preread buffer, or a pool copy when records
//! split it); the cheap facts are kept with it, and fingerprints are
//! computed when a variable first asks, then cached for the session.

use std::cell::{Cell, RefCell};

use sift_core::slice::{rebase, subslice_range};
use sift_core::tls::{self, ClientHello, HelloOutcome, Transport};

use ngx_stream::{Error, Result, Session, SessionBytes};

/// What TLS inspection found for one session.
#[derive(Debug)]
// Kept inline, not boxed: the session context lives in the pool and
// allocates nothing else.
#[allow(clippy::large_enum_variant)]
pub enum TlsInspection {
    /// A complete, well-formed ClientHello.
    Hello(KeptHello),
    /// Not an acceptable ClientHello; the reason is a short token.
    Malformed(&'static str),
    /// The hello cannot fit in the preread buffer.
    TooLarge,
}

impl TlsInspection {
    /// The value of `$sift_tls_status`.
    pub fn status(&self) -> &'static str {
        match self {
            TlsInspection::Hello(_) => "ok",
            TlsInspection::Malformed(_) => "malformed",
            TlsInspection::TooLarge => "too_large",
        }
    }
}

/// Values derived from the hello on demand, cached per session.
#[derive(Clone, Copy, Debug)]
pub enum Derived {
    Alpn,
    Ja3,
    Ja3String,
    Ja4,
    Ja4R,
    Ja4O,
    Ja4Ro,
}

const DERIVED_COUNT: usize = 7;

/// A parsed ClientHello kept for the session's later callbacks.
#[derive(Debug)]
pub struct KeptHello {
    /// The handshake message body, as `ClientHello::parse` takes it.
    body: SessionBytes,
    /// TCP, or QUIC (JA4's `q`).
    transport: Transport,
    server_name: Option<SessionBytes>,
    highest_version: u16,
    has_ech: bool,
    /// Filled by variable lookups, which only get shared access.
    derived: [Cell<Option<SessionBytes>>; DERIVED_COUNT],
}

/// The next step for the preread handler.
#[allow(clippy::large_enum_variant)] // moved once per session, never boxed
pub enum Step {
    /// The hello is incomplete and the buffer has room.
    NeedMore,
    Done(TlsInspection),
}

thread_local! {
    /// Reassembly space for hellos split across records, sized to the
    /// largest preread buffer seen. One per worker: sessions never parse
    /// concurrently within a worker.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Formatting space for the raw (`_string`, `_r`) fingerprints.
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Parses the bytes so far. `capacity` is the preread buffer's size.
pub fn inspect<'s>(
    session: &Session<'s>,
    bytes: &'s [u8],
    capacity: usize,
    buffer_full: bool,
) -> Result<Step> {
    SCRATCH.with(|cell| {
        let mut owned;
        let mut shared = cell.try_borrow_mut().ok();
        let scratch: &mut Vec<u8> = match shared.as_deref_mut() {
            Some(scratch) => scratch,
            None => {
                owned = Vec::new();
                &mut owned
            }
        };
        if scratch.len() < capacity {
            scratch.resize(capacity, 0);
        }
        let scratch = scratch.get_mut(..capacity).ok_or(Error::NoMemory)?;
        Ok(match tls::parse_client_hello(bytes, scratch) {
            HelloOutcome::NeedMore if buffer_full => Step::Done(TlsInspection::TooLarge),
            HelloOutcome::NeedMore => Step::NeedMore,
            HelloOutcome::Hello(hello) => {
                Step::Done(TlsInspection::Hello(keep(session, bytes, &hello)?))
            }
            HelloOutcome::NotTls => Step::Done(TlsInspection::Malformed("not_tls")),
            HelloOutcome::Malformed(reason) => {
                Step::Done(TlsInspection::Malformed(reason.as_str()))
            }
            HelloOutcome::TooLarge => Step::Done(TlsInspection::TooLarge),
        })
    })
}

/// Keeps a hello parsed from `bytes` (or from the scratch space) for the
/// session: no copy when its body lies in the preread buffer.
/// Keeps a hello parsed from QUIC CRYPTO frames (copied into the pool: the
/// reassembly buffer is freed once the session is decided).
pub fn keep_quic(session: &Session<'_>, hello: &ClientHello<'_>) -> Result<KeptHello> {
    keep(session, &[], hello)
}

fn keep<'s>(session: &Session<'s>, bytes: &'s [u8], hello: &ClientHello<'_>) -> Result<KeptHello> {
    let body = hello.body();
    let kept_body: &'s [u8] = match subslice_range(bytes, body).and_then(|range| bytes.get(range)) {
        Some(in_buffer) => in_buffer,
        None => session.pool_copy(body)?,
    };
    let server_name = match hello.server_name() {
        Some(name) => Some(session.keep(rebase(body, name, kept_body).ok_or(Error::NoMemory)?)),
        None => None,
    };
    Ok(KeptHello {
        body: session.keep(kept_body),
        transport: hello.transport(),
        server_name,
        highest_version: hello.highest_version(),
        has_ech: hello.has_ech(),
        derived: Default::default(),
    })
}

impl KeptHello {
    /// The SNI host name, as sent.
    pub fn server_name<'s>(&self, session: &Session<'s>) -> Option<&'s [u8]> {
        self.server_name.map(|name| name.get(session))
    }

    /// The highest version offered, spelled like `$ssl_preread_protocol`.
    pub fn version_name(&self) -> Option<&'static str> {
        tls::version_name(self.highest_version)
    }

    pub fn has_ech(&self) -> bool {
        self.has_ech
    }

    /// A derived value, computed on first use and cached.
    pub fn derived<'s>(&self, session: &Session<'s>, which: Derived) -> Result<&'s [u8]> {
        let slot = self.derived.get(which as usize).ok_or(Error::NoMemory)?;
        if let Some(value) = slot.get() {
            return Ok(value.get(session));
        }
        // Parsed before, so this cannot fail; it is cheaper to walk the
        // body again than to keep every field for the rare fingerprint.
        let hello = ClientHello::parse(self.body.get(session))
            .map_err(|_| Error::Invalid(String::from("kept ClientHello no longer parses")))?
            .with_transport(self.transport);
        let value = match which {
            Derived::Alpn => alpn_list(session, &hello)?,
            Derived::Ja3 => session.pool_copy(tls::ja3(&hello).as_bytes())?,
            Derived::Ja4 => session.pool_copy(tls::ja4(&hello).as_bytes())?,
            Derived::Ja4O => session.pool_copy(tls::ja4_o(&hello).as_bytes())?,
            Derived::Ja3String => formatted(session, |out| tls::write_ja3_string(&hello, out))?,
            Derived::Ja4R => formatted(session, |out| tls::write_ja4_r(&hello, out))?,
            Derived::Ja4Ro => formatted(session, |out| tls::write_ja4_ro(&hello, out))?,
        };
        slot.set(Some(session.keep(value)));
        Ok(value)
    }
}

/// ALPN names in wire order, comma-separated (like `$ssl_preread_alpn_protocols`).
fn alpn_list<'s>(session: &Session<'s>, hello: &ClientHello<'_>) -> Result<&'s [u8]> {
    let names = hello.alpn_protocols();
    let len = names
        .clone()
        .map(|name| name.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    session.pool_copy_with(len, |out| {
        let mut at = 0;
        for name in names {
            if at > 0 {
                if let Some(comma) = out.get_mut(at - 1) {
                    *comma = b',';
                }
            }
            if let Some(place) = out.get_mut(at..at + name.len()) {
                place.copy_from_slice(name);
            }
            at += name.len() + 1;
        }
    })
}

/// Formats into the worker's text buffer, then copies into the pool.
fn formatted<'s>(
    session: &Session<'s>,
    write: impl FnOnce(&mut String) -> std::fmt::Result,
) -> Result<&'s [u8]> {
    TEXT.with(|cell| {
        let mut owned = String::new();
        let mut shared = cell.try_borrow_mut().ok();
        let text = shared.as_deref_mut().unwrap_or(&mut owned);
        text.clear();
        write(text).map_err(|_| Error::NoMemory)?;
        session.pool_copy(text.as_bytes())
    })
}
