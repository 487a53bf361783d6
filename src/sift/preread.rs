//! The PREREAD handler: classify the client's first bytes, then hand on;
//! and the `sift_timeout` timer that decides for silent clients.

use sift_core::protocol::{self, Classification, Protocol, Verdict};

use super::tls::{self, Step, TlsInspection};
use super::{Sift, SiftCtx};
use crate::stream::log::Log;
use crate::stream::timer::TimerHandler;
use crate::stream::{Phase, PhaseHandler, PhaseOutcome, Session};
use crate::{stream_debug, stream_log};

pub struct Preread;

impl PhaseHandler for Preread {
    const PHASE: Phase = Phase::Preread;
    const NAME: &'static str = "sift preread handler";

    fn handle(session: &mut Session<'_>) -> PhaseOutcome {
        let conf = session.srv_conf::<Sift>();
        if !conf.is_enabled() {
            return PhaseOutcome::Continue;
        }
        #[cfg(feature = "test-hooks")]
        if conf.test_panic == 1 {
            panic!("sift_test_panic is on");
        }
        // Datagrams are not classified yet; they pass untouched.
        if session.is_datagram() {
            return PhaseOutcome::Continue;
        }

        let raw = session.as_ptr();
        let Some(ctx) = session.ctx_or_insert_with::<Sift>(SiftCtx::default) else {
            return PhaseOutcome::Error;
        };
        if ctx.classification.is_some() {
            return PhaseOutcome::Continue;
        }
        if !ctx.timer_started && conf.timeout > 0 {
            ctx.timer_started = true;
            // SAFETY: the timer lives in this session's context.
            unsafe { ctx.timer.arm(raw, conf.timeout) };
        }

        let bytes = session.preread();
        let no_more = session.preread_is_full();
        match decide(session, bytes, no_more) {
            Some(Ok(())) => PhaseOutcome::Continue,
            Some(Err(())) => PhaseOutcome::Error,
            None => {
                // nginx >= 1.25.5 prereads with MSG_PEEK and empties the
                // buffer after each NGX_AGAIN (the bytes stay in the socket
                // and in the buffer's memory): keep them for the timer.
                let pending = session.keep(bytes);
                if let Some(ctx) = session.ctx_or_insert_with::<Sift>(SiftCtx::default) {
                    ctx.pending = pending;
                }
                PhaseOutcome::Again
            }
        }
    }
}

/// `sift_timeout` expired: decide with the bytes there are (`timeout` if
/// none), then let the session go on to its content phase.
pub struct SilenceTimer;

impl TimerHandler for SilenceTimer {
    const NAME: &'static str = "sift_timeout handler";

    fn fire(session: &mut Session<'_>) -> bool {
        let pending = match session.ctx::<Sift>() {
            Some(ctx) if ctx.classification.is_none() => ctx.pending.get(session),
            _ => return false,
        };
        if let Some(log) = session.log() {
            let waited = session.srv_conf::<Sift>().timeout;
            stream_log!(
                nginx_sys::NGX_LOG_INFO,
                log,
                "sift: no protocol decided in sift_timeout ({waited}ms, {} bytes)",
                pending.len()
            );
        }
        // An allocation failure leaves the session undecided; the preread
        // handler then fails it when resumed.
        let _ = decide(session, pending, true);
        true
    }
}

/// Classifies the client's bytes so far and records the result in the
/// session's context. `no_more`: no more bytes can come (buffer full, or
/// deadline): decide with what there is. Returns None to wait for more
/// bytes, and `Some(Err)` if the pool is out of memory.
fn decide<'s>(session: &mut Session<'s>, bytes: &'s [u8], no_more: bool) -> Option<Result<(), ()>> {
    let (classification, tls) = match protocol::detect(bytes) {
        Verdict::NeedMore if no_more => (Classification::undecided(bytes.len(), false), None),
        Verdict::NeedMore => return None,
        Verdict::Detected(Protocol::Tls) => {
            // The ClientHello must be whole: its variables need all of it.
            let capacity = session.preread_capacity().unwrap_or(0);
            let buffer_full = session.preread_is_full();
            let inspection = match tls::inspect(session, bytes, capacity, buffer_full) {
                None => return Some(Err(())),
                Some(Step::NeedMore) if no_more => TlsInspection::Malformed("incomplete"),
                Some(Step::NeedMore) => return None,
                Some(Step::Done(inspection)) => inspection,
            };
            (Classification::Protocol(Protocol::Tls), Some(inspection))
        }
        Verdict::Detected(found) => {
            if !no_more && !protocol::details_complete(found, bytes) {
                return None;
            }
            (Classification::Protocol(found), None)
        }
    };

    if let Some(log) = session.log() {
        log_decision(log, classification, tls.as_ref(), bytes.len());
    }
    let first_bytes = session.keep(bytes);
    let Some(ctx) = session.ctx_or_insert_with::<Sift>(SiftCtx::default) else {
        return Some(Err(()));
    };
    ctx.timer.disarm();
    ctx.classification = Some(classification);
    ctx.tls = tls;
    ctx.first_bytes = first_bytes;
    Some(Ok(()))
}

/// Client problems are logged at `info`, as nginx logs client errors.
fn log_decision(log: Log<'_>, found: Classification, tls: Option<&TlsInspection>, len: usize) {
    match tls {
        Some(TlsInspection::Malformed(reason)) => {
            stream_log!(
                nginx_sys::NGX_LOG_INFO,
                log,
                "sift: malformed ClientHello ({reason})"
            );
        }
        Some(TlsInspection::TooLarge) => {
            stream_log!(
                nginx_sys::NGX_LOG_INFO,
                log,
                "sift: ClientHello larger than preread_buffer_size"
            );
        }
        _ => {}
    }
    stream_debug!(log, "sift: protocol {} after {} bytes", found.as_str(), len);
}
