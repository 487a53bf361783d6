//! Worker-level periodic tasks: work that must happen on time whether or
//! not clients connect (pulling shared state from a service, pushing
//! pending changes), with at most one non-blocking call in flight per task.
//!
//! A module registers a [`PeriodicTask`] while its configuration is read
//! ([`register`]); every worker of that configuration starts it in
//! `init_process` and runs [`PeriodicTask::tick`] at once, then every
//! interval. A tick may ask for a call ([`TaskCall`]); the layer makes it
//! with the same connection state machine, keepalive pool and backoff as
//! [`Session::call_with`](crate::Session::call_with) (`crate::call`), and
//! hands the outcome to [`PeriodicTask::done`]. Ticks that come while the
//! call is in flight are skipped.
//!
//! Lifetimes: the tick timer is cancelable, so it never keeps an exiting
//! worker alive (reload, `quit`); a call in flight keeps it until the
//! call ends or times out (its connection's timer is not cancelable: the
//! exchange is not cut in half), and no tick starts a call once the worker
//! is exiting. `exit_process` closes what is left and frees the tasks
//! before nginx checks for open sockets. A task's state lives on the Rust
//! heap, owned by the worker's list of tasks; the call's buffers are in
//! it, at fixed addresses for the call's life.
//!
//! Example (see `first_bytes.rs` for a whole module):
//!
//! ```ignore
//! struct Poll { peer: SocketAddr }
//! impl PeriodicTask for Poll {
//!     fn name(&self) -> &str { "poll" }
//!     fn tick(&mut self, _log: Option<Log<'_>>) -> Option<TaskCall> {
//!         Some(TaskCall::new(self.peer, b"PING\r\n".to_vec(), 1000, 64, |r| r.ends_with(b"\r\n")))
//!     }
//!     fn done(&mut self, outcome: CallOutcome<'_>, _log: Option<Log<'_>>) { /* ... */ }
//! }
//! // in a directive handler:
//! ngx_stream::task::register::<MyModule>(cf, 1000, Box::new(Poll { peer }))?;
//! ```

use core::cell::RefCell;
use core::ffi::c_void;
use core::ptr;
use std::net::SocketAddr;

use nginx_sys::{ngx_add_timer, ngx_connection_t, ngx_cycle_t, ngx_event_t, ngx_int_t, ngx_msec_t};

use crate::backoff::{self, Backoff};
use crate::call::{
    self, CallOptions, CallOutcome, CallSpec, CallState, Next, Prelude, PreludeReply,
};
use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::guard::contain;
use crate::keepalive::Keepalive;
use crate::log::Log;
use crate::module::Registered;

/// Work a worker does every interval.
pub trait PeriodicTask: 'static {
    /// Names the task in the layer's log lines.
    fn name(&self) -> &str;
    /// Runs at the worker's start and then every interval, unless the
    /// task's call is in flight; returns the call to make, if any.
    fn tick(&mut self, log: Option<Log<'_>>) -> Option<TaskCall>;
    /// Runs when the call ends (at once, with `Failed`, when it could not
    /// start or its peer is backing off).
    fn done(&mut self, outcome: CallOutcome<'_>, log: Option<Log<'_>>);
}

/// A call a task makes: [`CallSpec`] and [`CallOptions`] with owned bytes.
pub struct TaskCall {
    /// The peer (a fixed address).
    pub peer: SocketAddr,
    /// The bytes to send.
    pub request: Vec<u8>,
    /// For connecting, sending and the whole reply, in milliseconds.
    pub timeout: ngx_msec_t,
    /// The largest reply accepted (bytes allocated for the call).
    pub max_reply: usize,
    /// Whether the bytes read so far are a whole reply.
    pub complete: fn(&[u8]) -> bool,
    /// Keep the connection after a whole reply, and reuse kept ones.
    pub keepalive: Option<Keepalive>,
    /// Fail calls to a failing peer at once for a while.
    pub backoff: Option<Backoff>,
    /// Sent first on a new connection, and how its reply reads.
    pub prelude: Option<TaskPrelude>,
}

/// A [`Prelude`] with owned bytes.
pub struct TaskPrelude {
    /// The bytes.
    pub request: Vec<u8>,
    /// Reads the prelude's reply at the start of what came.
    pub reply: fn(&[u8]) -> PreludeReply,
}

impl TaskCall {
    /// A call with no keepalive, backoff or prelude.
    pub fn new(
        peer: SocketAddr,
        request: Vec<u8>,
        timeout: ngx_msec_t,
        max_reply: usize,
        complete: fn(&[u8]) -> bool,
    ) -> Self {
        TaskCall {
            peer,
            request,
            timeout,
            max_reply,
            complete,
            keepalive: None,
            backoff: None,
            prelude: None,
        }
    }
}

/// A registered task, waiting for its configuration's workers.
struct Pending {
    cycle: usize,
    module: usize,
    interval: ngx_msec_t,
    task: Box<dyn PeriodicTask>,
}

/// A running task: its timer event (whose data points here) and its call.
struct Slot {
    event: ngx_event_t,
    interval: ngx_msec_t,
    task: Box<dyn PeriodicTask>,
    call: Option<Box<InFlight>>,
}

/// A call in flight: its state and the buffers it points into.
struct InFlight {
    state: CallState,
    _request: Vec<u8>,
    _reply: Vec<u8>,
    _name: Vec<u8>,
}

thread_local! {
    static PENDING: RefCell<Vec<Pending>> = const { RefCell::new(Vec::new()) };
    /// The worker's running tasks (boxed: their events are in nginx's
    /// timer tree and their calls' connections point at them).
    static RUNNING: RefCell<Vec<*mut Slot>> = const { RefCell::new(Vec::new()) };
}

/// Registers `task` for the configuration `cf` is reading: each worker of
/// it ticks the task every `interval` milliseconds (at least 1). Dropped
/// with the configuration if it never runs (`nginx -t`, a failed reload).
pub fn register<M: Registered>(
    cf: &Conf<'_>,
    interval: ngx_msec_t,
    task: Box<dyn PeriodicTask>,
) -> Result<()> {
    // SAFETY: a live conf's cycle and pool (the cycle's).
    let (cycle, pool) = unsafe { ((*cf.as_ptr()).cycle, (*cf.as_ptr()).pool) };
    let first = PENDING.with(|pending| {
        let mut pending = pending
            .try_borrow_mut()
            .map_err(|_| Error::from("tasks busy"))?;
        let first = !pending.iter().any(|entry| entry.cycle == cycle as usize);
        pending.push(Pending {
            cycle: cycle as usize,
            module: M::module() as usize,
            interval: interval.max(1),
            task,
        });
        Ok::<bool, Error>(first)
    })?;
    if first {
        // The cycle's pool goes with the configuration: forget its tasks then.
        // SAFETY: `pool` is the live cycle pool; no extra data asked.
        let cleanup = unsafe { nginx_sys::ngx_pool_cleanup_add(pool, 0) };
        if cleanup.is_null() {
            return Err(Error::NoMemory);
        }
        // SAFETY: a live cleanup entry of `pool`.
        unsafe {
            (*cleanup).handler = Some(forget_cycle);
            (*cleanup).data = cycle.cast();
        }
    }
    Ok(())
}

unsafe extern "C" fn forget_cycle(data: *mut c_void) {
    contain(
        "ngx_stream task",
        None,
        "cycle cleanup",
        || (),
        || {
            PENDING.with(|pending| {
                if let Ok(mut pending) = pending.try_borrow_mut() {
                    pending.retain(|entry| entry.cycle != data as usize);
                }
            })
        },
    )
}

/// Tasks running in this worker.
pub fn running_count() -> usize {
    RUNNING.with(|running| running.try_borrow().map_or(0, |running| running.len()))
}

fn exiting() -> bool {
    // SAFETY: nginx's process globals, read on the worker's only thread.
    unsafe {
        nginx_sys::ngx_exiting != 0 || nginx_sys::ngx_terminate != 0 || nginx_sys::ngx_quit != 0
    }
}

/// nginx's `init_process` for `M`: starts `M`'s tasks of this cycle.
///
/// # Safety
/// nginx calls it in a new worker with its live cycle.
pub unsafe extern "C" fn init_process<M: Registered>(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: the cycle and its log are live for the worker.
    let log_ptr = unsafe { (*cycle).log };
    // SAFETY: as above.
    let log = unsafe { Log::from_raw(log_ptr) };
    contain(
        M::NAME,
        log,
        "init_process",
        || nginx_sys::NGX_OK as ngx_int_t,
        || {
            let mine: Vec<Pending> = PENDING.with(|pending| {
                let Ok(mut pending) = pending.try_borrow_mut() else {
                    return Vec::new();
                };
                let (mine, rest) = core::mem::take(&mut *pending)
                    .into_iter()
                    .partition(|entry| {
                        entry.cycle == cycle as usize && entry.module == M::module() as usize
                    });
                *pending = rest;
                mine
            });
            for entry in mine {
                // SAFETY: all-zero is a valid idle event.
                let event: ngx_event_t = unsafe { core::mem::zeroed() };
                let slot = Box::into_raw(Box::new(Slot {
                    event,
                    interval: entry.interval,
                    task: entry.task,
                    call: None,
                }));
                // The slot stays at this address until exit_process.
                // SAFETY: just made; its event is not in the timer tree yet.
                unsafe {
                    (*slot).event.handler = Some(tick_event::<M>);
                    (*slot).event.data = slot.cast();
                    (*slot).event.log = log_ptr;
                    (*slot).event.set_cancelable(1);
                    // The first tick as soon as the worker's loop runs.
                    ngx_add_timer(&mut (*slot).event, 1);
                }
                RUNNING.with(|running| {
                    if let Ok(mut running) = running.try_borrow_mut() {
                        running.push(slot);
                    }
                });
            }
            nginx_sys::NGX_OK as ngx_int_t
        },
    )
}

/// nginx's `exit_process` for `M`: ends calls in flight and frees the
/// tasks (before nginx looks for sockets left open).
///
/// # Safety
/// nginx calls it once, as the worker exits, with its live cycle.
pub unsafe extern "C" fn exit_process<M: Registered>(_cycle: *mut ngx_cycle_t) {
    contain(
        M::NAME,
        Log::cycle(),
        "exit_process",
        || (),
        || {
            let slots = RUNNING.with(|running| {
                running
                    .try_borrow_mut()
                    .map(|mut running| core::mem::take(&mut *running))
                    .unwrap_or_default()
            });
            for slot in slots {
                // made by init_process with Box::into_raw, given up here
                // once; dropping an in-flight call closes its connection.
                // SAFETY: for the reasons just above.
                let mut slot = unsafe { Box::from_raw(slot) };
                if slot.event.timer_set() != 0 {
                    // SAFETY: the slot's own event, in the timer tree.
                    unsafe { nginx_sys::ngx_del_timer(&mut slot.event) };
                }
                drop(slot);
            }
        },
    )
}

/// The tick timer.
unsafe extern "C" fn tick_event<M: Registered>(ev: *mut ngx_event_t) {
    // SAFETY: the event is a slot's, whose data is the slot itself.
    let slot = unsafe { (*ev).data as *mut Slot };
    if exiting() {
        return;
    }
    contain(
        M::NAME,
        Log::cycle(),
        "task timer",
        || (),
        || {
            // A timer handler runs alone on the worker's thread.
            // SAFETY: so this is the only reference to the slot now.
            let slot_ref = unsafe { &mut *slot };
            // SAFETY: the slot's own event, not in the tree (it just fired).
            unsafe { ngx_add_timer(&mut slot_ref.event, slot_ref.interval) };
            if slot_ref.call.is_some() {
                return;
            }
            if let Some(spec) = slot_ref.task.tick(Log::cycle()) {
                start::<M>(slot, spec);
            }
        },
    )
}

/// Starts a task's call; reports a call that cannot start at once.
fn start<M: Registered>(slot: *mut Slot, spec: TaskCall) {
    let log = Log::cycle();
    // SAFETY: the caller's slot, referenced by nobody else during this.
    let slot_ref = unsafe { &mut *slot };
    if spec
        .backoff
        .is_some_and(|backoff| backoff::in_backoff_for(spec.peer, backoff.key))
    {
        slot_ref.task.done(CallOutcome::Failed, log);
        return;
    }
    let prelude_bytes = spec
        .prelude
        .as_ref()
        .map_or(&[][..], |prelude| &prelude.request[..]);
    let mut request = Vec::with_capacity(prelude_bytes.len() + spec.request.len());
    request.extend_from_slice(prelude_bytes);
    request.extend_from_slice(&spec.request);
    let mut reply = vec![0u8; spec.max_reply];
    let name = spec.peer.to_string().into_bytes();
    let options = CallOptions {
        keepalive: spec.keepalive,
        backoff: spec.backoff,
        prelude: spec.prelude.as_ref().map(|prelude| Prelude {
            request: &prelude.request,
            reply: prelude.reply,
        }),
    };
    let call_spec = CallSpec {
        peer: spec.peer,
        request: &[],
        timeout: spec.timeout,
        max_reply: spec.max_reply,
        complete: spec.complete,
    };
    let state = CallState::new(
        &call_spec,
        &options,
        (request.as_ptr(), request.len()),
        (reply.as_mut_ptr(), reply.len()),
        &name,
        None,
    );
    let mut flight = Box::new(InFlight {
        state,
        _request: request,
        _reply: reply,
        _name: name,
    });
    flight.state.bind();
    let log_ptr = log.map_or(ptr::null_mut(), |log| log.as_ptr());
    if log_ptr.is_null() {
        slot_ref.task.done(CallOutcome::Failed, log);
        return;
    }
    let opened = call::open_with(
        &mut flight.state,
        log_ptr,
        ptr::null_mut(),
        slot.cast(),
        task_call_event::<M>,
        true,
    );
    if opened.is_err() {
        flight.state.fail_to_start(log);
        drop(flight);
        slot_ref.task.done(CallOutcome::Failed, log);
        return;
    }
    slot_ref.call = Some(flight);
}

/// Read and write events of a task's call connection.
unsafe extern "C" fn task_call_event<M: Registered>(ev: *mut ngx_event_t) {
    // The event belongs to the call's connection, whose data is the slot.
    // SAFETY: nginx calls handlers with their own event.
    let (c, slot) = unsafe {
        let c = (*ev).data as *mut ngx_connection_t;
        (c, (*c).data as *mut Slot)
    };
    let log = Log::cycle();
    let ended = contain(
        M::NAME,
        log,
        "task call handler",
        || Some(call::Ended::Failed),
        || {
            // An event handler runs alone on the worker's thread.
            // SAFETY: so this is the only reference to the slot now.
            let flight = unsafe { &mut *slot }.call.as_mut()?;
            // SAFETY: the event is live for this call.
            match call::advance(&mut flight.state, c, unsafe { &*ev }) {
                Next::Wait => None,
                Next::End(ended) => Some(ended),
                Next::Retry => {
                    flight.state.prepare_retry();
                    let log_ptr = log.map_or(ptr::null_mut(), |log| log.as_ptr());
                    call::open_with(
                        &mut flight.state,
                        log_ptr,
                        ptr::null_mut(),
                        slot.cast(),
                        task_call_event::<M>,
                        false,
                    )
                    .err()
                    .map(|()| call::Ended::Failed)
                }
            }
        },
    );
    let Some(ended) = ended else {
        return;
    };
    // The call's handlers are done with it.
    // SAFETY: so this is the only reference to the slot now.
    let slot_ref = unsafe { &mut *slot };
    let Some(mut flight) = slot_ref.call.take() else {
        return;
    };
    let task = &mut slot_ref.task;
    contain(
        M::NAME,
        log,
        "task done handler",
        || (),
        || {
            let outcome = call::settle(&mut flight.state, ended, log);
            task.done(outcome, log);
        },
    );
    // Dropping the flight closes a connection still open (a panic above).
    drop(flight);
}
