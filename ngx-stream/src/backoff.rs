//! Reconnect backoff for calls ([`crate::call`]): after a call to a peer
//! fails (no connection, a timeout, a broken reply, or the caller's own
//! [`peer_failed`]), calls to that peer fail at once for a while, so a
//! dead or stalled peer costs each session nothing rather than a timeout.
//! The period doubles with each failure in a row up to a cap, and a call
//! that succeeds ends it. A failing peer is logged at most once per
//! `log_interval`, with the number of failures since. Per worker, per peer
//! and [`Backoff::key`]: calls to one peer set up differently (e.g. with
//! other credentials, which may be the ones that fail) back off apart.

use core::cell::RefCell;
use std::net::SocketAddr;

use nginx_sys::{ngx_msec_t, NGX_LOG_ERR};

use crate::log::Log;

/// How calls to a failing peer back off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first period after a failure, in milliseconds.
    pub initial: ngx_msec_t,
    /// The longest period.
    pub max: ngx_msec_t,
    /// At most one log line per peer per this many milliseconds.
    pub log_interval: ngx_msec_t,
    /// Tells apart calls to one peer that may fail for reasons of their
    /// own (0 for calls that all fail alike).
    pub key: u64,
}

#[derive(Clone, Copy)]
struct PeerState {
    peer: SocketAddr,
    key: u64,
    failures: u32,
    until: u64,
    logged: u64,
    unlogged: u64,
}

/// Peers tracked at most (the oldest is forgotten beyond).
const MAX_PEERS: usize = 64;

thread_local! {
    static PEERS: RefCell<Vec<PeerState>> = const { RefCell::new(Vec::new()) };
}

/// Whether calls to `peer` with a [`Backoff::key`] of 0 fail at once now.
pub fn in_backoff(peer: SocketAddr) -> bool {
    in_backoff_for(peer, 0)
}

/// Whether calls to `peer` with [`Backoff::key`] `key` fail at once now.
pub fn in_backoff_for(peer: SocketAddr, key: u64) -> bool {
    let now = crate::time::current_msec();
    PEERS.with(|peers| {
        peers.try_borrow().is_ok_and(|peers| {
            peers
                .iter()
                .any(|state| state.peer == peer && state.key == key && state.until > now)
        })
    })
}

/// A call to `peer` succeeded: no more backoff for it, whatever the key
/// (the peer is there; calls that failed otherwise try again).
pub fn peer_succeeded(peer: SocketAddr) {
    PEERS.with(|peers| {
        if let Ok(mut peers) = peers.try_borrow_mut() {
            peers.retain(|state| state.peer != peer);
        }
    });
}

/// A call to `peer` failed (`why`): back off, and log if due.
pub fn peer_failed(peer: SocketAddr, backoff: &Backoff, why: &str, log: Option<Log<'_>>) {
    let now = crate::time::current_msec();
    let report = PEERS.with(|peers| {
        let mut peers = peers.try_borrow_mut().ok()?;
        let at = match peers
            .iter()
            .position(|state| state.peer == peer && state.key == backoff.key)
        {
            Some(at) => at,
            None => {
                if peers.len() >= MAX_PEERS {
                    peers.remove(0);
                }
                peers.push(PeerState {
                    peer,
                    key: backoff.key,
                    failures: 0,
                    until: 0,
                    logged: 0,
                    unlogged: 0,
                });
                peers.len() - 1
            }
        };
        let state = peers.get_mut(at)?;
        state.failures = state.failures.saturating_add(1);
        let shift = state.failures.saturating_sub(1).min(16);
        let period = (backoff.initial as u64)
            .saturating_mul(1 << shift)
            .min(backoff.max as u64);
        state.until = now.saturating_add(period);
        if state.logged != 0 && now.saturating_sub(state.logged) < (backoff.log_interval as u64) {
            state.unlogged = state.unlogged.saturating_add(1);
            return None;
        }
        state.logged = now.max(1);
        Some((core::mem::take(&mut state.unlogged), period))
    });
    if let (Some((unlogged, period)), Some(log)) = (report, log) {
        log.error(
            NGX_LOG_ERR as usize,
            format_args!(
                "call to {peer} failed ({why}); calls to it fail at once for {period} ms; {unlogged} more failures since the last report"
            ),
        );
    }
}
