//! One event loop: a fixed set of connection slots on one epoll instance.
//!
//! Every slot always holds a connection in flight. A connection is opened
//! non-blocking; on loopback the TCP handshake has normally finished inside
//! `connect()`, so the payload is sent at once (else on EPOLLOUT). Then the
//! slot waits for EPOLLIN, reads until the server's FIN, closes with
//! SO_LINGER 0 and opens the next connection in the same slot straight away.

use std::io;
use std::mem;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::cli::{Config, MAX_EXPECT};

/// When the run starts, when counting starts (after warm-up), when it ends.
#[derive(Clone, Copy)]
pub struct Plan {
    pub measure_from: Instant,
    pub end: Instant,
}

/// What one loop saw inside the measured window.
#[derive(Default)]
pub struct Tally {
    pub ok: u64,
    /// Successful connections whose answer was followed by an RST rather
    /// than a FIN (nginx closing with the payload still unread).
    pub ok_reset: u64,
    pub connect_errors: u64,
    pub resets: u64,
    pub mismatches: u64,
    pub timeouts: u64,
    pub latencies_us: Vec<u32>,
    pub samples: Vec<String>,
}

impl Tally {
    pub fn errors(&self) -> u64 {
        self.connect_errors + self.resets + self.mismatches + self.timeouts
    }

    pub fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.ok_reset += other.ok_reset;
        self.connect_errors += other.connect_errors;
        self.resets += other.resets;
        self.mismatches += other.mismatches;
        self.timeouts += other.timeouts;
        self.latencies_us.extend(other.latencies_us);
        for s in other.samples {
            if self.samples.len() < MAX_SAMPLES {
                self.samples.push(s);
            }
        }
    }
}

const MAX_SAMPLES: usize = 8;
const MAX_EVENTS: usize = 256;
const TIMEOUT_SCAN: Duration = Duration::from_millis(100);
/// How long a slot whose connection failed at once waits before the next try
/// (a server that is down must not turn the loop into a busy spin).
const RETRY_PAUSE_MS: i32 = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Connecting,
    Reading,
}

struct Slot {
    fd: RawFd,
    generation: u32,
    state: State,
    sent: usize,
    started: Instant,
    head: [u8; MAX_EXPECT],
    head_len: usize,
    received: usize,
}

enum Failure {
    Connect,
    Reset,
    Mismatch,
    Timeout,
}

enum Send {
    Done,
    WouldBlock,
    Failed(io::Error),
}

pub struct Engine<'a> {
    cfg: &'a Config,
    plan: Plan,
    epfd: RawFd,
    sockaddr: libc::sockaddr_in,
    slots: Vec<Slot>,
    /// Slots to open a connection in, after the current batch of events.
    idle: Vec<usize>,
    /// Slots whose last attempt failed at once: opened again after a pause.
    retry: Vec<usize>,
    tally: Tally,
}

impl Drop for Engine<'_> {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if slot.fd >= 0 {
                // SAFETY: the fd is ours and open; it is closed exactly once here.
                unsafe { libc::close(slot.fd) };
                slot.fd = -1;
            }
        }
        // SAFETY: epfd was returned by epoll_create1 and is closed only here.
        unsafe { libc::close(self.epfd) };
    }
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

/// The connection was made and then closed by the server (as opposed to a
/// connection that never came about).
fn closed_by_peer(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPIPE) | Some(libc::ECONNRESET))
        || e.raw_os_error().is_none()
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN) | Some(libc::EINPROGRESS) | Some(libc::ENOTCONN)
    )
}

impl<'a> Engine<'a> {
    pub fn new(cfg: &'a Config, slots: usize, plan: Plan) -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(errno());
        }
        let sockaddr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: cfg.addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(cfg.addr.ip().octets()),
            },
            sin_zero: [0; 8],
        };
        let now = Instant::now();
        let slots = (0..slots)
            .map(|_| Slot {
                fd: -1,
                generation: 0,
                state: State::Idle,
                sent: 0,
                started: now,
                head: [0; MAX_EXPECT],
                head_len: 0,
                received: 0,
            })
            .collect::<Vec<_>>();
        let idle = (0..slots.len()).collect();
        Ok(Engine {
            cfg,
            plan,
            epfd,
            sockaddr,
            slots,
            idle,
            retry: Vec::new(),
            tally: Tally::default(),
        })
    }

    /// Runs until `plan.end`, then closes whatever is still in flight.
    pub fn run(mut self) -> io::Result<Tally> {
        // Latencies for a full window at a generous rate, to avoid regrowth.
        self.tally.latencies_us.reserve(1 << 20);
        // SAFETY: epoll_event is plain data; all-zero is a valid value.
        let mut events: [libc::epoll_event; MAX_EVENTS] = unsafe { mem::zeroed() };
        let mut next_scan = Instant::now() + TIMEOUT_SCAN;
        let mut starting = Vec::with_capacity(self.slots.len());
        loop {
            let now = Instant::now();
            if now >= self.plan.end {
                break;
            }
            mem::swap(&mut starting, &mut self.idle);
            for i in starting.drain(..) {
                if !self.start(i) {
                    self.retry.push(i);
                }
            }
            let wait_ms = if !self.retry.is_empty() {
                RETRY_PAUSE_MS
            } else {
                let until = next_scan.min(self.plan.end).saturating_duration_since(now);
                until.as_millis().clamp(1, 100) as i32
            };
            // SAFETY: events is a writable array of MAX_EVENTS entries.
            let n = unsafe {
                libc::epoll_wait(self.epfd, events.as_mut_ptr(), MAX_EVENTS as i32, wait_ms)
            };
            if n < 0 {
                let e = errno();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(e);
            }
            for ev in &events[..n as usize] {
                let data = ev.u64;
                let (i, generation) = ((data & 0xffff_ffff) as usize, (data >> 32) as u32);
                let slot = &self.slots[i];
                if slot.generation != generation || slot.state == State::Idle {
                    continue; // an event for a connection this slot already closed
                }
                self.on_event(i, ev.events);
            }
            // Failed attempts waited one epoll_wait (RETRY_PAUSE_MS): try them again.
            self.idle.append(&mut self.retry);
            let now = Instant::now();
            if now >= next_scan {
                next_scan = now + TIMEOUT_SCAN;
                self.expire(now);
            }
        }
        Ok(mem::take(&mut self.tally))
    }

    /// Opens a connection in slot `i`. False if that failed at once (counted).
    fn start(&mut self, i: usize) -> bool {
        let started = Instant::now();
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            self.count_failure(Failure::Connect, format!("socket: {}", errno()));
            return false;
        }
        // Close with an RST: neither side keeps a TIME_WAIT entry, so a long
        // run at tens of thousands of connections per second neither exhausts
        // ephemeral ports nor fills nginx's side with TIME_WAIT sockets.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: fd is open; linger is a valid struct of the given size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        // SAFETY: sockaddr is a valid sockaddr_in of the given size.
        let rc = unsafe {
            libc::connect(
                fd,
                &self.sockaddr as *const libc::sockaddr_in as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            let e = errno();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                // SAFETY: fd is open and not yet stored anywhere.
                unsafe { libc::close(fd) };
                self.count_failure(Failure::Connect, format!("connect: {e}"));
                return false;
            }
        }
        let slot = &mut self.slots[i];
        slot.fd = fd;
        slot.generation = slot.generation.wrapping_add(1);
        slot.started = started;
        slot.sent = 0;
        slot.head_len = 0;
        slot.received = 0;
        let interest = match self.send(i) {
            Send::Done => {
                self.slots[i].state = State::Reading;
                libc::EPOLLIN
            }
            Send::WouldBlock => {
                self.slots[i].state = State::Connecting;
                libc::EPOLLOUT
            }
            Send::Failed(e) => {
                self.count_failure(Failure::Connect, format!("send: {e}"));
                self.close(i);
                return false;
            }
        };
        if let Err(e) = self.watch(i, libc::EPOLL_CTL_ADD, interest) {
            self.count_failure(Failure::Connect, format!("epoll_ctl: {e}"));
            self.close(i);
            return false;
        }
        true
    }

    fn watch(&self, i: usize, op: libc::c_int, interest: libc::c_int) -> io::Result<()> {
        let slot = &self.slots[i];
        let mut ev = libc::epoll_event {
            events: interest as u32,
            u64: ((slot.generation as u64) << 32) | i as u64,
        };
        // SAFETY: epfd and slot.fd are open; ev is a valid epoll_event.
        if unsafe { libc::epoll_ctl(self.epfd, op, slot.fd, &mut ev) } < 0 {
            return Err(errno());
        }
        Ok(())
    }

    /// Sends what is left of the payload on slot `i`.
    fn send(&mut self, i: usize) -> Send {
        let payload = &self.cfg.payload;
        let slot = &mut self.slots[i];
        while slot.sent < payload.len() {
            let rest = &payload[slot.sent..];
            // SAFETY: rest is a live byte slice; fd is open.
            let n = unsafe {
                libc::send(
                    slot.fd,
                    rest.as_ptr() as *const libc::c_void,
                    rest.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let e = errno();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return if would_block(&e) {
                    Send::WouldBlock
                } else {
                    Send::Failed(e)
                };
            }
            slot.sent += n as usize;
        }
        Send::Done
    }

    fn on_event(&mut self, i: usize, events: u32) {
        match self.slots[i].state {
            State::Connecting => {
                if events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                    let e = self.socket_error(i);
                    if !closed_by_peer(&e) {
                        self.fail(i, Failure::Connect, format!("connect: {e}"));
                        return;
                    }
                }
                match self.send(i) {
                    Send::Done => {
                        self.slots[i].state = State::Reading;
                        if let Err(e) = self.watch(i, libc::EPOLL_CTL_MOD, libc::EPOLLIN) {
                            self.fail(i, Failure::Connect, format!("epoll_ctl: {e}"));
                        }
                    }
                    Send::WouldBlock => {}
                    // Connected, but the server has already answered and
                    // closed (a server that does not wait for the payload):
                    // its answer may be waiting to be read.
                    Send::Failed(e) if closed_by_peer(&e) => {
                        self.slots[i].state = State::Reading;
                        self.read(i);
                    }
                    Send::Failed(e) => self.fail(i, Failure::Connect, format!("send: {e}")),
                }
            }
            State::Reading => self.read(i),
            State::Idle => {}
        }
    }

    fn socket_error(&self, i: usize) -> io::Error {
        let mut err: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: err and len are valid out-pointers of the right size.
        unsafe {
            libc::getsockopt(
                self.slots[i].fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                &mut err as *mut libc::c_int as *mut libc::c_void,
                &mut len,
            )
        };
        if err == 0 {
            io::Error::other("connection closed")
        } else {
            io::Error::from_raw_os_error(err)
        }
    }

    /// Reads what the server sent; at EOF the connection is complete.
    fn read(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        loop {
            let fd = self.slots[i].fd;
            // SAFETY: buf is writable for its length; fd is open.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if n > 0 {
                let slot = &mut self.slots[i];
                let n = n as usize;
                let take = n.min(MAX_EXPECT - slot.head_len);
                slot.head[slot.head_len..slot.head_len + take].copy_from_slice(&buf[..take]);
                slot.head_len += take;
                slot.received += n;
                continue;
            }
            if n == 0 {
                self.complete(i, false);
                return;
            }
            let e = errno();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return,
                Some(libc::ECONNRESET) => {
                    // nginx closed with unread input (no preread): the
                    // answer, if any, came first.
                    self.complete(i, true);
                    return;
                }
                _ => {
                    self.fail(i, Failure::Reset, format!("recv: {e}"));
                    return;
                }
            }
        }
    }

    /// The server closed: check the answer, count, and reuse the slot.
    fn complete(&mut self, i: usize, reset: bool) {
        let slot = &self.slots[i];
        let head = &slot.head[..slot.head_len];
        let answered = match &self.cfg.expect {
            Some(want) => head.starts_with(want),
            None => !reset || slot.received > 0,
        };
        if !answered {
            let what = if reset && slot.received == 0 {
                (Failure::Reset, "reset before any answer".to_string())
            } else {
                (
                    Failure::Mismatch,
                    format!(
                        "answer {:?} ({} bytes{}) does not start with the expected text",
                        String::from_utf8_lossy(head),
                        slot.received,
                        if reset { ", then RST" } else { "" }
                    ),
                )
            };
            self.fail(i, what.0, what.1);
            return;
        }
        let now = Instant::now();
        if now >= self.plan.measure_from && now < self.plan.end {
            self.tally.ok += 1;
            if reset {
                self.tally.ok_reset += 1;
            }
            let us = now.duration_since(slot.started).as_micros();
            self.tally
                .latencies_us
                .push(us.min(u32::MAX as u128) as u32);
        }
        self.close(i);
        self.idle.push(i);
    }

    fn fail(&mut self, i: usize, why: Failure, detail: String) {
        self.count_failure(why, detail);
        self.close(i);
        self.idle.push(i);
    }

    fn count_failure(&mut self, why: Failure, detail: String) {
        let now = Instant::now();
        if now < self.plan.measure_from || now >= self.plan.end {
            return;
        }
        match why {
            Failure::Connect => self.tally.connect_errors += 1,
            Failure::Reset => self.tally.resets += 1,
            Failure::Mismatch => self.tally.mismatches += 1,
            Failure::Timeout => self.tally.timeouts += 1,
        }
        if self.tally.samples.len() < MAX_SAMPLES {
            self.tally.samples.push(detail);
        }
    }

    fn close(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if slot.fd >= 0 {
            // The fd is open and owned by this slot; closing it also
            // removes it from the epoll set.
            // SAFETY: for the reasons just above.
            unsafe { libc::close(slot.fd) };
            slot.fd = -1;
        }
        slot.state = State::Idle;
    }

    /// Gives up on connections older than --timeout.
    fn expire(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if slot.state != State::Idle && now.duration_since(slot.started) > self.cfg.timeout {
                let detail = format!(
                    "timeout after {:?} ({} of {} payload bytes sent, {} answer bytes)",
                    self.cfg.timeout,
                    slot.sent,
                    self.cfg.payload.len(),
                    slot.received
                );
                self.fail(i, Failure::Timeout, detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddrV4, TcpListener};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread;

    /// A server that reads `want` bytes, answers `answer` and closes.
    fn serve(want: usize, answer: &'static [u8]) -> (SocketAddrV4, Arc<AtomicBool>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let std::net::SocketAddr::V4(addr) = listener.local_addr().unwrap() else {
            unreachable!()
        };
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let mut buf = vec![0u8; want];
                        if s.read_exact(&mut buf).is_ok() {
                            let _ = s.write_all(answer);
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        (addr, stop)
    }

    fn config(addr: SocketAddrV4, expect: &[u8]) -> Config {
        Config {
            addr,
            payload: b"hello, server".to_vec(),
            payload_name: "test".into(),
            concurrency: 4,
            threads: 1,
            duration: Duration::from_millis(300),
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(2),
            expect: Some(expect.to_vec()),
            name: "test".into(),
            server_pid: None,
        }
    }

    fn run(cfg: &Config) -> Tally {
        let now = Instant::now();
        let plan = Plan {
            measure_from: now,
            end: now + cfg.duration,
        };
        Engine::new(cfg, cfg.concurrency, plan)
            .unwrap()
            .run()
            .unwrap()
    }

    #[test]
    fn counts_answers() {
        let (addr, stop) = serve(13, b"tls");
        let tally = run(&config(addr, b"tls"));
        stop.store(true, Ordering::Relaxed);
        assert!(tally.ok > 10, "only {} connections", tally.ok);
        assert_eq!(tally.errors(), 0, "{:?}", tally.samples);
        assert_eq!(tally.latencies_us.len() as u64, tally.ok);
    }

    #[test]
    fn counts_wrong_answers_as_errors() {
        let (addr, stop) = serve(13, b"http");
        let tally = run(&config(addr, b"tls"));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(tally.ok, 0);
        assert!(tally.mismatches > 0);
    }

    #[test]
    fn counts_refused_connections() {
        // Bind and drop: nothing listens on this port any more.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let tally = run(&config(
            SocketAddrV4::new([127, 0, 0, 1].into(), port),
            b"tls",
        ));
        assert_eq!(tally.ok, 0);
        assert!(tally.connect_errors > 0);
    }
}
