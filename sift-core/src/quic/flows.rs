//! [`HeldFlows`]: the reader state of the flows a worker is waiting on
//! (a ClientHello that spans several datagrams), so each datagram is
//! decrypted once.
//!
//! A bounded table of slots, each an [`InitialReader`] and its CRYPTO
//! buffer, owned by a session number. A flow decided by its first datagram
//! (most clients) borrows a free slot and gives it back at once: one slot,
//! no allocation after the first session. A flow that needs more keeps its
//! slot until it is decided. When every slot is owned, the least recently
//! fed one is taken: its flow, if still waiting, reads all its datagrams
//! again into another slot on its next one (correct, only slower), as does
//! a slot whose session ended without giving it back.

use super::reader::{InitialReader, Progress, CRYPTO_BUFFER_LEN};

/// How many flows can wait with their state kept, per table (about 18 KB
/// each, allocated only when that many wait at once). A client sends its
/// Initial datagrams back to back, so a flow waits about a round trip.
pub const HELD_FLOW_SLOTS: usize = 32;

/// One flow's reader, its CRYPTO buffer and how many of its datagrams the
/// reader has read.
pub struct FlowState {
    reader: InitialReader,
    buffer: Box<[u8; CRYPTO_BUFFER_LEN]>,
    fed: usize,
}

impl FlowState {
    fn new() -> Self {
        Self {
            reader: InitialReader::new(),
            buffer: Box::new([0; CRYPTO_BUFFER_LEN]),
            fed: 0,
        }
    }

    fn reset(&mut self) {
        self.reader = InitialReader::new();
        self.fed = 0;
    }

    /// Feeds the flow's datagrams, all of them so far in arrival order,
    /// skipping those this state has read already, until the outcome is
    /// final (a final outcome is repeated without reading anything).
    pub fn feed_new<'d>(&mut self, datagrams: impl Iterator<Item = &'d [u8]>) -> Progress<'_> {
        let mut unread = datagrams.skip(self.fed).peekable();
        while let Some(datagram) = unread.next() {
            if self.reader.is_decided() {
                break;
            }
            self.fed = self.fed.saturating_add(1);
            if unread.peek().is_none() {
                // The newest datagram's outcome is the flow's.
                return self.reader.feed(datagram, &mut self.buffer[..]);
            }
            let _ = self.reader.feed(datagram, &mut self.buffer[..]);
        }
        if self.reader.is_decided() {
            // Repeats the kept outcome (parsing the hello again), reading
            // no datagram.
            self.reader.feed(&[], &mut self.buffer[..])
        } else {
            Progress::NeedMore
        }
    }

    /// Datagrams read into this state.
    pub fn fed(&self) -> usize {
        self.fed
    }
}

struct Slot {
    owner: Option<u64>,
    last_used: u64,
    state: FlowState,
}

/// The table (one per worker). See the module documentation.
pub struct HeldFlows {
    slots: Vec<Slot>,
    clock: u64,
    capacity: usize,
}

impl Default for HeldFlows {
    fn default() -> Self {
        Self::new(HELD_FLOW_SLOTS)
    }
}

impl HeldFlows {
    /// A table of at most `capacity` slots (at least one), none allocated.
    pub const fn new(capacity: usize) -> Self {
        Self {
            slots: Vec::new(),
            clock: 0,
            capacity: if capacity == 0 { 1 } else { capacity },
        }
    }

    /// The state of `owner`'s flow: its own slot if it still has one,
    /// otherwise a fresh one (a free slot, a new one under the capacity,
    /// or the least recently used), now owned by `owner`. `None` only if
    /// the table breaks its own invariant (a chosen slot missing).
    pub fn flow(&mut self, owner: u64) -> Option<&mut FlowState> {
        self.clock = self.clock.wrapping_add(1);
        let mut own = None;
        let mut free = None;
        let mut oldest: Option<(usize, u64)> = None;
        for (index, slot) in self.slots.iter().enumerate() {
            match slot.owner {
                Some(o) if o == owner => {
                    own = Some(index);
                    break;
                }
                None if free.is_none() => free = Some(index),
                Some(_) if oldest.is_none_or(|(_, used)| slot.last_used < used) => {
                    oldest = Some((index, slot.last_used));
                }
                _ => {}
            }
        }
        let (index, fresh) = match (own, free, oldest) {
            (Some(index), _, _) => (index, false),
            (None, Some(index), _) => (index, true),
            (None, None, Some((index, _))) if self.slots.len() >= self.capacity => (index, true),
            (None, None, _) => {
                self.slots.push(Slot {
                    owner: None,
                    last_used: 0,
                    state: FlowState::new(),
                });
                (self.slots.len().saturating_sub(1), false)
            }
        };
        let clock = self.clock;
        let slot = self.slots.get_mut(index)?;
        if fresh {
            slot.state.reset();
        }
        slot.owner = Some(owner);
        slot.last_used = clock;
        Some(&mut slot.state)
    }

    /// `owner`'s flow is decided (or gone): its slot is free again.
    pub fn release(&mut self, owner: u64) {
        if let Some(slot) = self.slots.iter_mut().find(|slot| slot.owner == Some(owner)) {
            slot.owner = None;
        }
    }

    /// Slots allocated so far.
    pub fn allocated(&self) -> usize {
        self.slots.len()
    }

    /// Slots owned by a waiting flow.
    pub fn waiting(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.owner.is_some())
            .count()
    }
}
