//! `sift on` in `listen ... udp` servers: the first datagram names the
//! protocol (`quic`, `dtls`, `dns`, `wireguard`, `openvpn`, `unknown`);
//! for QUIC, the ClientHello inside the client's Initial packets gives the
//! TLS variables, waiting for the client's next Initial datagrams when the
//! hello spans several (the session is held meanwhile, and every datagram
//! is handed on unchanged once decided: see `ngx_stream::datagram`).
//!
//! Each datagram is decrypted once: the worker keeps the reader state of
//! the flows it waits on in a bounded table (`sift_core::quic::HeldFlows`,
//! 32 slots of about 18 KB, allocated only as that many wait at once),
//! owned by the session's connection number. A hello in one datagram (most
//! clients) borrows a free slot and gives it back: one pass, no allocation.
//! A flow whose slot was taken meanwhile (more flows waiting than slots)
//! reads its datagrams again, which the layer holds anyway.

use core::cell::RefCell;

use ngx_stream::ffi::{ngx_msec_t, NGX_LOG_INFO, NGX_STREAM_INTERNAL_SERVER_ERROR};
use ngx_stream::{
    stream_log, DatagramAction, DatagramLimits, PhaseOutcome, Result, Session, TimerAction,
};
use sift_core::datagram::{self, DatagramProtocol};
use sift_core::quic::{self, HeldFlows, Progress, MAX_DATAGRAMS};

use crate::module::{Sift, SiftCtx};
use crate::tls::{self, TlsInspection};

thread_local! {
    /// The worker's waiting QUIC flows (sessions never read concurrently
    /// within a worker).
    static FLOWS: RefCell<HeldFlows> = RefCell::new(HeldFlows::default());
}

/// What a held session may keep: the QUIC reader's own datagram cap (the
/// first datagram is not held), and a generous byte bound.
const LIMITS: DatagramLimits = DatagramLimits {
    max_datagrams: MAX_DATAGRAMS - 1,
    max_bytes: 64 * 1024,
};

/// The preread handler for a datagram session.
pub fn preread(session: &Session<'_>, timeout: ngx_msec_t) -> Result<PhaseOutcome> {
    let ctx = session.ctx_or_insert_with::<Sift>(SiftCtx::default)?;
    if ctx.datagram.get().is_some() {
        return Ok(PhaseOutcome::Continue);
    }
    if session.is_held::<Sift>() {
        return Ok(PhaseOutcome::Done);
    }
    let first = session.preread();
    let protocol = datagram::classify(first);
    if protocol != DatagramProtocol::Quic {
        ctx.datagram.set(Some(protocol));
        return Ok(PhaseOutcome::Continue);
    }
    ctx.quic_version.set(quic::wire_version(first));
    if read_hello(session, ctx, timeout == 0)? {
        return Ok(PhaseOutcome::Continue);
    }
    session.arm_timer::<Sift>(timeout)?;
    session.hold_datagrams::<Sift>(LIMITS)
}

/// A later datagram of a held QUIC session (the layer holds it already).
pub fn on_datagram(session: &Session<'_>, last: bool) -> DatagramAction {
    let Some(ctx) = session.ctx::<Sift>() else {
        return DatagramAction::Resume;
    };
    match read_hello(session, ctx, last) {
        Ok(false) => DatagramAction::Wait,
        Ok(true) => {
            session.disarm_timer::<Sift>();
            DatagramAction::Resume
        }
        Err(_) => DatagramAction::Finalize(NGX_STREAM_INTERNAL_SERVER_ERROR),
    }
}

/// `sift_timeout` passed while waiting for more Initial datagrams:
/// decide with what there is.
pub fn on_silence(session: &Session<'_>, ctx: &SiftCtx) -> TimerAction {
    release(session);
    if let Some(log) = session.log() {
        stream_log!(
            NGX_LOG_INFO,
            log,
            "sift: QUIC ClientHello incomplete in sift_timeout"
        );
    }
    let _ = ctx.tls.set(TlsInspection::Malformed("incomplete"));
    ctx.datagram.set(Some(DatagramProtocol::Quic));
    TimerAction::ResumePhases
}

/// Reads the flow's datagrams so far; true once the session is decided
/// (recorded in the context). `no_more`: decide even if the hello is
/// incomplete.
fn read_hello(session: &Session<'_>, ctx: &SiftCtx, no_more: bool) -> Result<bool> {
    let owner = session.connection_number();
    FLOWS.with(|cell| {
        let mut flows = cell
            .try_borrow_mut()
            .map_err(|_| ngx_stream::Error::NoMemory)?;
        let flow = flows.flow(owner).ok_or(ngx_stream::Error::NoMemory)?;
        let datagrams = core::iter::once(session.preread()).chain(session.held_datagrams::<Sift>());
        let decided = match flow.feed_new(datagrams) {
            Progress::NeedMore if !no_more => return Ok(false),
            Progress::NeedMore => Ok(TlsInspection::Malformed("incomplete")),
            Progress::Hello(hello) => tls::keep_quic(session, &hello).map(TlsInspection::Hello),
            Progress::NotQuic => Ok(TlsInspection::Malformed("not_quic")),
            Progress::Malformed(reason) => {
                if let Some(log) = session.log() {
                    stream_log!(
                        NGX_LOG_INFO,
                        log,
                        "sift: malformed QUIC Initial ({})",
                        reason.as_str()
                    );
                }
                Ok(TlsInspection::Malformed(reason.as_str()))
            }
        };
        flows.release(owner);
        let inspection = decided?;
        // Decided once per session, so the cell is empty.
        let _ = ctx.tls.set(inspection);
        ctx.datagram.set(Some(DatagramProtocol::Quic));
        Ok(true)
    })
}

/// The session no longer waits: its slot (if it still has one) is free.
fn release(session: &Session<'_>) {
    let owner = session.connection_number();
    FLOWS.with(|cell| {
        if let Ok(mut flows) = cell.try_borrow_mut() {
            flows.release(owner);
        }
    });
}
