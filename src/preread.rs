//! The PREREAD handler: classify the client's first bytes, then hand on;
//! and the `sift_timeout` expiry that decides for silent clients.

use ngx_stream::ffi::NGX_LOG_INFO;
use ngx_stream::log::Log;
use ngx_stream::{
    stream_debug, stream_log, Phase, PhaseHandler, PhaseOutcome, Result, Session, TimerAction,
};
use sift_core::protocol::{
    self, detect_with, detect_with_final, Classification, Detection, Protocol,
};

use crate::module::{Sift, SiftCtx};
use crate::tls::{self, Step, TlsInspection};

pub struct Preread;

impl PhaseHandler for Preread {
    type Module = Sift;
    const PHASE: Phase = Phase::Preread;
    const NAME: &'static str = "sift preread handler";

    fn handle(session: &Session<'_>) -> PhaseOutcome {
        let conf = session.srv_conf::<Sift>();
        if !conf.is_enabled() {
            return PhaseOutcome::Continue;
        }
        #[cfg(feature = "test-hooks")]
        if conf.test_panic == 1 {
            panic!("sift_test_panic is on");
        }
        if session.is_datagram() {
            return crate::udp::preread(session, conf.timeout).unwrap_or(PhaseOutcome::Error);
        }
        match step(session, conf.timeout) {
            Ok(true) => PhaseOutcome::Continue,
            Ok(false) => PhaseOutcome::Again,
            Err(_) => PhaseOutcome::Error,
        }
    }
}

/// One preread call: true once decided, false to wait for more bytes.
fn step(session: &Session<'_>, timeout: ngx_stream::ffi::ngx_msec_t) -> Result<bool> {
    let ctx = session.ctx_or_insert_with::<Sift>(SiftCtx::default)?;
    if ctx.classification.get().is_some() {
        return Ok(true);
    }
    if !ctx.timer_started.get() && timeout > 0 {
        ctx.timer_started.set(true);
        session.arm_timer::<Sift>(timeout)?;
    }
    let bytes = session.preread();
    if decide(session, ctx, bytes, session.preread_is_full())? {
        return Ok(true);
    }
    // nginx >= 1.25.5 prereads with MSG_PEEK and empties the buffer after
    // each NGX_AGAIN (the bytes stay in the socket and in the buffer's
    // memory): keep them for the timer.
    ctx.pending.set(session.keep(bytes));
    Ok(false)
}

/// `sift_timeout` expired: decide with the bytes there are (`timeout` if
/// none), then let the session go on to its content phase.
pub fn on_silence(session: &Session<'_>) -> TimerAction {
    let Some(ctx) = session.ctx::<Sift>() else {
        return TimerAction::Wait;
    };
    if session.is_datagram() {
        if ctx.datagram.get().is_some() {
            return TimerAction::Wait;
        }
        return crate::udp::on_silence(session, ctx);
    }
    if ctx.classification.get().is_some() {
        return TimerAction::Wait;
    }
    let pending = ctx.pending.get().get(session);
    if let Some(log) = session.log() {
        let waited = session.srv_conf::<Sift>().timeout;
        stream_log!(
            NGX_LOG_INFO,
            log,
            "sift: no protocol decided in sift_timeout ({waited}ms, {} bytes)",
            pending.len()
        );
    }
    match decide(session, ctx, pending, true) {
        Ok(_) => TimerAction::ResumePhases,
        // Out of memory: the session cannot be inspected; end it.
        Err(_) => TimerAction::Finalize(ngx_stream::ffi::NGX_STREAM_INTERNAL_SERVER_ERROR),
    }
}

/// Classifies the client's bytes so far and records the result in the
/// session's context. `no_more`: no more bytes can come (buffer full, or
/// deadline): decide with what there is. Ok(false) means wait for more.
fn decide<'s>(
    session: &Session<'s>,
    ctx: &SiftCtx,
    bytes: &'s [u8],
    no_more: bool,
) -> Result<bool> {
    let detection = match session.srv_conf::<Sift>().signatures() {
        Some(signatures) if no_more => detect_with_final(signatures, bytes),
        Some(signatures) => detect_with(signatures, bytes),
        None => match protocol::detect(bytes) {
            protocol::Verdict::NeedMore => Detection::NeedMore,
            protocol::Verdict::Detected(found) => Detection::Protocol(found),
        },
    };
    let classification = match detection {
        Detection::NeedMore if no_more => Classification::undecided(bytes.len(), false),
        Detection::NeedMore => return Ok(false),
        Detection::Signature(index) => Classification::Signature(index),
        Detection::Protocol(Protocol::Tls) => {
            // The ClientHello must be whole: its variables need all of it.
            // The inspection goes straight into the context's cell.
            let capacity = session.preread_capacity().unwrap_or(0);
            match tls::inspect(
                session,
                &ctx.tls,
                bytes,
                capacity,
                session.preread_is_full(),
            )? {
                Step::NeedMore if no_more => {
                    tls::record(&ctx.tls, TlsInspection::Malformed("incomplete"))?
                }
                Step::NeedMore => return Ok(false),
                Step::Done => {}
            }
            Classification::Protocol(Protocol::Tls)
        }
        Detection::Protocol(found) => {
            if !no_more && !protocol::details_complete(found, bytes) {
                return Ok(false);
            }
            Classification::Protocol(found)
        }
    };

    if let Some(log) = session.log() {
        log_decision(log, classification, ctx.tls.get(), bytes.len());
    }
    session.disarm_timer::<Sift>();
    crate::metrics::observe_decision(session);
    ctx.first_bytes.set(session.keep(bytes));
    ctx.classification.set(Some(classification));
    Ok(true)
}

/// Client problems are logged at `info`, as nginx logs client errors.
fn log_decision(log: Log<'_>, found: Classification, tls: Option<&TlsInspection>, len: usize) {
    match tls {
        Some(TlsInspection::Malformed(reason)) => {
            stream_log!(NGX_LOG_INFO, log, "sift: malformed ClientHello ({reason})");
        }
        Some(TlsInspection::TooLarge) => {
            stream_log!(
                NGX_LOG_INFO,
                log,
                "sift: ClientHello larger than preread_buffer_size"
            );
        }
        _ => {}
    }
    stream_debug!(log, "sift: protocol {} after {} bytes", found.as_str(), len);
}
