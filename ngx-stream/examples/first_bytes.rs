//! A complete stream module on `ngx-stream`: it waits for a client's first
//! bytes in the preread phase and exposes them, hex-encoded, as
//! `$first_bytes`.
//!
//! ```nginx
//! load_module modules/ngx_stream_module.so;
//! load_module /path/to/libfirst_bytes.so;
//! stream {
//!     log_format first '$remote_addr $first_bytes';
//!     server {
//!         listen 9000;
//!         first_bytes 4;              # wait for 4 bytes (default: off)
//!         first_bytes_timeout 500ms;  # then decide with what there is
//!         # optional: send "HEX\n" to a TCP service and wait, without
//!         # blocking the worker, for its one-line verdict
//!         first_bytes_report 127.0.0.1:9100;
//!         access_log /var/log/nginx/first.log first;
//!         return "$first_bytes $first_bytes_verdict\n";
//!     }
//!     # optional: every worker sends "heartbeat PID\n" to a TCP service
//!     # every 500ms, clients or not (a worker-level task), and counts
//!     # the answers in $first_bytes_heartbeats ("OK FAILED")
//!     first_bytes_heartbeat 127.0.0.1:9101 500ms;
//! }
//! ```
//!
//! Built by `cargo build -p ngx-stream --example first_bytes` (with
//! `NGINX_BUILD_DIR` pointing at a configured nginx, as for any ngx module);
//! tested through nginx in the project's `t/030-layer-example.t`.
#![forbid(unsafe_code)]
// ngx_modules! makes the undocumented statics nginx looks up.
#![allow(missing_docs)]

use core::cell::Cell;
use core::mem::offset_of;
use std::net::SocketAddr;

use ngx_stream::command::{self, CommandTable};
use ngx_stream::ffi::{ngx_flag_t, ngx_msec_t, NGX_LOG_INFO, NGX_STREAM_VAR_NOCACHEABLE};
use ngx_stream::log::Log;
use ngx_stream::module::{merge_msec, MSEC_UNSET};
use ngx_stream::task::{PeriodicTask, TaskCall};
use ngx_stream::{
    stream_log, CallOutcome, CallSpec, Conf, Error, MergeSrvConf, Phase, PhaseHandler,
    PhaseOutcome, Result, Session, SessionBytes, StreamModule, TimerAction, VariableSet,
    VariableSpec, VariableValue,
};

/// The module, as the layer's generics see it.
pub struct FirstBytes;

/// Per-server configuration.
#[derive(Debug)]
pub struct FirstBytesConf {
    /// `first_bytes N;` (0: off); `ngx_flag_t::MAX` while unset.
    wanted: ngx_flag_t,
    /// `first_bytes_timeout TIME;`, set by nginx's own msec slot.
    timeout: ngx_msec_t,
    /// `first_bytes_report ADDRESS;` (None: inherit, then off).
    report: Option<SocketAddr>,
}

impl Default for FirstBytesConf {
    fn default() -> Self {
        FirstBytesConf {
            wanted: ngx_flag_t::MAX,
            timeout: MSEC_UNSET,
            report: None,
        }
    }
}

impl MergeSrvConf for FirstBytesConf {
    fn merge(&mut self, prev: &Self) -> Result<()> {
        if self.wanted == ngx_flag_t::MAX {
            self.wanted = if prev.wanted == ngx_flag_t::MAX {
                0
            } else {
                prev.wanted
            };
        }
        merge_msec(&mut self.timeout, prev.timeout, 1000);
        self.report = self.report.or(prev.report);
        Ok(())
    }
}

/// What a session found: the bytes once decided. Changed through `Cell`s:
/// the layer hands out session state by shared reference only.
#[derive(Default)]
pub struct FirstBytesCtx {
    decided: Cell<bool>,
    bytes: Cell<SessionBytes>,
    waiting: Cell<SessionBytes>,
    /// The report service's verdict, once its call has ended.
    verdict: Cell<Option<SessionBytes>>,
}

impl StreamModule for FirstBytes {
    const NAME: &'static str = "first_bytes";
    type MainConf = ();
    type SrvConf = FirstBytesConf;
    type Ctx = FirstBytesCtx;

    fn preconfiguration(cf: &Conf<'_>) -> Result<()> {
        cf.add_variables::<Variables>()
    }

    fn postconfiguration(cf: &Conf<'_>) -> Result<()> {
        cf.add_phase_handler::<Preread>()
    }

    /// `first_bytes_timeout` passed: decide with the bytes there are.
    fn on_timer(session: &Session<'_>) -> TimerAction {
        if let Some(ctx) = session.ctx::<FirstBytes>() {
            if let Some(log) = session.log() {
                stream_log!(NGX_LOG_INFO, log, "first_bytes: timed out");
            }
            ctx.bytes.set(ctx.waiting.get());
            ctx.decided.set(true);
        }
        TimerAction::ResumePhases
    }

    /// The report call ended: keep its verdict, then let the preread
    /// handler (called again) hand on.
    fn on_call_done(session: &Session<'_>, outcome: CallOutcome<'_>) -> TimerAction {
        let verdict: &[u8] = match outcome {
            CallOutcome::Reply(line) => line.strip_suffix(b"\n").unwrap_or(line),
            CallOutcome::Closed(_) => b"closed",
            CallOutcome::Timeout => b"timeout",
            CallOutcome::Failed => b"failed",
        };
        match (session.ctx::<FirstBytes>(), session.pool_copy(verdict)) {
            (Some(ctx), Ok(kept)) => {
                ctx.verdict.set(Some(session.keep(kept)));
                TimerAction::ResumePhases
            }
            _ => TimerAction::Finalize(ngx_stream::ffi::NGX_STREAM_INTERNAL_SERVER_ERROR),
        }
    }
}

/// `first_bytes_report ADDRESS;`
struct FirstBytesReport;

impl command::Directive for FirstBytesReport {
    type Module = FirstBytes;

    fn set(cf: &Conf<'_>, conf: &mut FirstBytesConf) -> Result<()> {
        let value = cf.arg(0).unwrap_or_default();
        let address = core::str::from_utf8(value)
            .ok()
            .and_then(|text| text.parse::<SocketAddr>().ok())
            .ok_or_else(|| cf.invalid_value(value))?;
        conf.report = Some(address);
        Ok(())
    }
}

/// `first_bytes N;`: parsed in Rust to show a directive handler.
struct FirstBytesDirective;

impl command::Directive for FirstBytesDirective {
    type Module = FirstBytes;

    fn set(cf: &Conf<'_>, conf: &mut FirstBytesConf) -> Result<()> {
        let value = cf.arg(0).unwrap_or_default();
        let wanted = core::str::from_utf8(value)
            .ok()
            .and_then(|text| text.parse::<u8>().ok())
            .filter(|&n| n <= 64)
            .ok_or_else(|| cf.invalid_value(value))?;
        conf.wanted = ngx_flag_t::from(wanted);
        Ok(())
    }
}

/// `first_bytes_heartbeat ADDRESS INTERVAL;` (stream level): a worker
/// task that calls ADDRESS every INTERVAL.
struct FirstBytesHeartbeat;

impl command::MainDirective for FirstBytesHeartbeat {
    type Module = FirstBytes;

    fn set(cf: &Conf<'_>, _conf: &mut ()) -> Result<()> {
        let value = cf.arg(0).unwrap_or_default();
        let peer = core::str::from_utf8(value)
            .ok()
            .and_then(|text| text.parse::<SocketAddr>().ok())
            .ok_or_else(|| cf.invalid_value(value))?;
        let interval = cf.arg(1).unwrap_or_default();
        let interval = cf
            .parse_time(interval)
            .map_err(|_| cf.invalid_value(interval))?;
        ngx_stream::task::register::<FirstBytes>(cf, interval, Box::new(Heartbeat { peer }))
    }
}

thread_local! {
    /// This worker's heartbeats: answered, and failed.
    static HEARTBEATS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Sends `heartbeat PID\n` and waits for one line.
struct Heartbeat {
    peer: SocketAddr,
}

impl PeriodicTask for Heartbeat {
    fn name(&self) -> &str {
        "first_bytes heartbeat"
    }

    fn tick(&mut self, _log: Option<Log<'_>>) -> Option<TaskCall> {
        let request = format!("heartbeat {}\n", std::process::id()).into_bytes();
        Some(TaskCall::new(self.peer, request, 1000, 256, |reply| {
            reply.ends_with(b"\n")
        }))
    }

    fn done(&mut self, outcome: CallOutcome<'_>, _log: Option<Log<'_>>) {
        HEARTBEATS.with(|count| {
            let (ok, failed) = count.get();
            count.set(match outcome {
                CallOutcome::Reply(_) => (ok + 1, failed),
                _ => (ok, failed + 1),
            });
        });
    }
}

static COMMANDS: CommandTable<5> = CommandTable::new([
    command::main_directive::<FirstBytesHeartbeat>(
        c"first_bytes_heartbeat",
        command::STREAM | command::TAKE2,
    ),
    command::directive::<FirstBytesReport>(
        c"first_bytes_report",
        command::STREAM | command::SERVER | command::TAKE1,
    ),
    command::directive::<FirstBytesDirective>(
        c"first_bytes",
        command::STREAM | command::SERVER | command::TAKE1,
    ),
    command::msec(
        c"first_bytes_timeout",
        command::STREAM | command::SERVER,
        offset_of!(FirstBytesConf, timeout),
    ),
    command::END,
]);

ngx_stream::stream_module!(ngx_stream_first_bytes_module, FirstBytes, COMMANDS);
ngx::ngx_modules!(ngx_stream_first_bytes_module);

struct Preread;

impl PhaseHandler for Preread {
    type Module = FirstBytes;
    const PHASE: Phase = Phase::Preread;
    const NAME: &'static str = "first_bytes preread handler";

    fn handle(session: &Session<'_>) -> PhaseOutcome {
        let conf = session.srv_conf::<FirstBytes>();
        let wanted = usize::try_from(conf.wanted).unwrap_or(0);
        if wanted == 0 {
            return PhaseOutcome::Continue;
        }
        match wait(session, wanted, conf.timeout) {
            Ok(true) => report(session, conf),
            Ok(false) => PhaseOutcome::Again,
            Err(_) => PhaseOutcome::Error,
        }
    }
}

/// True once decided; false to wait for more bytes.
fn wait(session: &Session<'_>, wanted: usize, timeout: ngx_msec_t) -> Result<bool> {
    let first_call = session.ctx::<FirstBytes>().is_none();
    let ctx = session.ctx_or_insert_with::<FirstBytes>(FirstBytesCtx::default)?;
    if ctx.decided.get() {
        return Ok(true);
    }
    if first_call {
        session.arm_timer::<FirstBytes>(timeout)?;
    }
    let bytes = session.preread();
    if bytes.len() >= wanted || session.preread_is_full() || session.client_closed() {
        let taken = bytes.get(..wanted).unwrap_or(bytes);
        ctx.bytes.set(session.keep(taken));
        ctx.decided.set(true);
        session.disarm_timer::<FirstBytes>();
        return Ok(true);
    }
    // nginx >= 1.25.5 empties the buffer between calls: keep what we saw.
    ctx.waiting.set(session.keep(bytes));
    Ok(false)
}

/// Sends the bytes to the report service once, and waits for its verdict
/// without blocking the worker (the layer parks the session meanwhile).
fn report(session: &Session<'_>, conf: &FirstBytesConf) -> PhaseOutcome {
    let Some(peer) = conf.report else {
        return PhaseOutcome::Continue;
    };
    let Some(ctx) = session.ctx::<FirstBytes>() else {
        return PhaseOutcome::Error;
    };
    if ctx.verdict.get().is_some() {
        return PhaseOutcome::Continue;
    }
    if session.call_in_progress::<FirstBytes>() {
        return PhaseOutcome::Done;
    }
    let mut request = hex(ctx.bytes.get().get(session));
    request.push(b'\n');
    let spec = CallSpec {
        peer,
        request: &request,
        timeout: conf.timeout,
        max_reply: 256,
        complete: |reply| reply.contains(&b'\n'),
    };
    match session.call::<FirstBytes>(spec) {
        Ok(outcome) => outcome,
        // Could not even connect: say so, and go on.
        Err(_) => match session.pool_copy(b"failed") {
            Ok(kept) => {
                ctx.verdict.set(Some(session.keep(kept)));
                PhaseOutcome::Continue
            }
            Err(_) => PhaseOutcome::Error,
        },
    }
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]])
        .collect()
}

struct Variables;

impl VariableSet for Variables {
    type Module = FirstBytes;
    const VARIABLES: &'static [VariableSpec] = &[
        VariableSpec {
            name: "first_bytes",
            get: first_bytes,
            flags: NGX_STREAM_VAR_NOCACHEABLE,
        },
        VariableSpec {
            name: "first_bytes_verdict",
            get: verdict,
            flags: NGX_STREAM_VAR_NOCACHEABLE,
        },
        VariableSpec {
            name: "first_bytes_heartbeats",
            get: heartbeats,
            flags: NGX_STREAM_VAR_NOCACHEABLE,
        },
    ];
}

/// `$first_bytes_heartbeats`: this worker's answered and failed heartbeats.
fn heartbeats<'s>(session: &Session<'s>) -> Result<VariableValue<'s>> {
    let (ok, failed) = HEARTBEATS.with(Cell::get);
    let text = format!("{ok} {failed}");
    session.pool_copy(text.as_bytes()).map(VariableValue::Bytes)
}

/// `$first_bytes_verdict`: the report service's one-line answer, or
/// `timeout`, `closed`, `failed`; empty without `first_bytes_report`.
fn verdict<'s>(session: &Session<'s>) -> Result<VariableValue<'s>> {
    let verdict = session
        .ctx::<FirstBytes>()
        .and_then(|ctx| ctx.verdict.get());
    Ok(verdict.map_or(VariableValue::NotFound, |kept| {
        VariableValue::Bytes(kept.get(session))
    }))
}

/// `$first_bytes`: the bytes in lowercase hex; empty until decided.
fn first_bytes<'s>(session: &Session<'s>) -> Result<VariableValue<'s>> {
    let Some(ctx) = session.ctx::<FirstBytes>().filter(|ctx| ctx.decided.get()) else {
        return Ok(VariableValue::NotFound);
    };
    let bytes = ctx.bytes.get().get(session);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let text = session.pool_copy_with(bytes.len() * 2, |out| {
        for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
    });
    text.map(VariableValue::Bytes)
        .map_err(|_: Error| Error::NoMemory)
}
