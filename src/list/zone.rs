//! A list zone: its per-cycle description, the table laid out in its
//! shared memory, and every change made to it (the API's writes, saved to
//! the state file in the order of the table's versions).

use std::path::PathBuf;

use ngx_stream::ffi::{NGX_LOG_ERR, NGX_LOG_NOTICE, NGX_LOG_WARN};
use ngx_stream::log::Log;
use ngx_stream::{Error, Result, SharedRegion, ZoneKind, ZoneMemory, ZoneTag};
use sift_core::list::{Change, Entry, ListError, ListKind, ListTable};

use crate::list::state;
use crate::module::Sift;

/// Bytes before the table: the version last saved to the state file (so a
/// worker never replaces a newer file with an older snapshot).
const HEADER: usize = 64;

/// A list zone's per-cycle description (the shared zone's data).
pub struct ListZone {
    pub name: String,
    pub kind: ListKind,
    /// `timeout=`: an entry expires this long after it was written (0: never).
    pub timeout_ms: u64,
    /// `state=FILE`.
    pub state: Option<PathBuf>,
    /// Why this cycle does not write the state file: it exists but could not
    /// be read at start, and sift never replaces what it could not read.
    pub state_off: Option<String>,
    /// The zone's memory, once nginx has mapped it.
    pub table: Option<SharedRegion>,
    /// `sync=NAME`: shared through Redis (`crate::list::sync`).
    pub sync: Option<crate::list::sync::ListSync>,
}

/// Why a change was not made.
pub enum WriteError {
    List(ListError),
    /// The zone is not mapped or its table is damaged.
    Unavailable,
}

fn saved_version(header: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&header[..8]);
    u64::from_ne_bytes(word)
}

fn set_saved_version(header: &mut [u8], version: u64) {
    header[..8].copy_from_slice(&version.to_ne_bytes());
}

impl ListZone {
    /// Runs `f` on the table under the zone's lock (None: not mapped, or
    /// this process holds the lock already).
    pub fn with_table<R>(&self, f: impl FnOnce(&mut [u8], ListTable<'_>) -> R) -> Option<R> {
        let mut guard = self.table.as_ref()?.lock()?;
        let (header, rest) = guard.bytes().split_at_mut(HEADER);
        let table = ListTable::attach(rest)?;
        Some(f(header, table))
    }

    /// The live entries (for the API and the metrics).
    pub fn entries(&self, now_ms: u64) -> Option<Vec<Entry>> {
        self.with_table(|_, table| table.entries(now_ms))
    }

    /// Entries in force now (expired ones excluded, even before a write
    /// reclaims them): a walk of the zone under its lock, for the metrics.
    pub fn live_len(&self, now_ms: u64) -> Option<usize> {
        self.with_table(|_, table| table.live_len(now_ms))
    }

    /// The deadline of an entry written now.
    pub fn expiry(&self, now_ms: u64) -> u64 {
        if self.timeout_ms == 0 {
            0
        } else {
            now_ms + self.timeout_ms
        }
    }

    /// Changes the table under the zone's lock with `f` (expired entries
    /// purged first), then, if its version moved, saves the state file.
    /// `f` must leave the table as it was when it fails (`apply` does).
    pub fn change<R>(
        &self,
        now_ms: u64,
        log: Option<Log<'_>>,
        f: impl FnOnce(&mut ListTable<'_>) -> core::result::Result<R, ListError>,
    ) -> core::result::Result<R, WriteError> {
        // The whole list is copied out under the lock only for a file.
        let to_file = self.state.is_some() && self.state_off.is_none();
        let changed = self.with_table(|_, mut table| {
            table.purge_expired(now_ms);
            let before = table.version();
            let result = f(&mut table)?;
            let after = table.version();
            let snapshot = (after != before).then(|| {
                let entries = if to_file {
                    table.entries(now_ms)
                } else {
                    Vec::new()
                };
                (after, entries)
            });
            Ok((result, snapshot))
        });
        match changed {
            None => Err(WriteError::Unavailable),
            Some(Err(error)) => {
                if matches!(error, ListError::Full) {
                    if let Some(log) = log {
                        log.error(
                            NGX_LOG_ERR as usize,
                            format_args!(
                                "sift_list_zone \"{}\" is full: the change is refused",
                                self.name
                            ),
                        );
                    }
                }
                Err(WriteError::List(error))
            }
            Some(Ok((result, snapshot))) => {
                if let Some((version, entries)) = snapshot {
                    self.save(version, &entries, log);
                }
                Ok(result)
            }
        }
    }

    /// Writes `entries` (the table at `version`) to the state file:
    /// a temporary file in the same directory, renamed over the state file
    /// under the zone's lock unless a newer version got there first.
    fn save(&self, version: u64, entries: &[Entry], log: Option<Log<'_>>) {
        let Some(path) = &self.state else {
            return;
        };
        let complain = |why: &dyn core::fmt::Display| {
            if let Some(log) = log {
                log.error(
                    NGX_LOG_ERR as usize,
                    format_args!(
                        "sift_list_zone \"{}\": state file \"{}\" not written ({why}): the change is live but will not survive a restart",
                        self.name,
                        path.display()
                    ),
                );
            }
        };
        if let Some(why) = &self.state_off {
            complain(why);
            return;
        }
        let temp = match state::write_temp(path, self.kind, entries) {
            Ok(temp) => temp,
            Err(error) => return complain(&error),
        };
        let renamed = self.with_table(|header, _| {
            if saved_version(header) >= version {
                // A newer snapshot is already in place.
                return Ok(false);
            }
            std::fs::rename(&temp, path)?;
            set_saved_version(header, version);
            Ok::<bool, std::io::Error>(true)
        });
        match renamed {
            Some(Ok(true)) => {}
            Some(Ok(false)) => {
                let _ = std::fs::remove_file(&temp);
            }
            Some(Err(error)) => {
                let _ = std::fs::remove_file(&temp);
                complain(&error);
            }
            None => {
                let _ = std::fs::remove_file(&temp);
                complain(&"the zone is not available");
            }
        }
    }
}

/// `sift_list_zone` zones.
pub struct ListZoneKind;

impl ZoneKind for ListZoneKind {
    type Module = Sift;
    type Data = ListZone;

    fn tag() -> &'static ZoneTag {
        static TAG: ZoneTag = ZoneTag::new();
        &TAG
    }

    /// Keeps the previous cycle's table (same name, size and type), copies
    /// what fits from a resized one, or lays a fresh one out and loads the
    /// state file.
    fn init(
        data: &mut ListZone,
        previous: Option<&ListZone>,
        zone: &ZoneMemory,
        log: Option<Log<'_>>,
    ) -> Result<()> {
        let changed_type = |old: &ListZone| {
            Error::Invalid(format!(
                "sift_list_zone \"{}\" has type={} while previously it had type={}",
                data.name,
                kind_name(data.kind),
                kind_name(old.kind)
            ))
        };
        if let Some(previous) = previous {
            if previous.kind != data.kind {
                return Err(changed_type(previous));
            }
            data.table = previous.table.clone();
            if previous.state == data.state {
                data.state_off = previous.state_off.clone();
            }
            return Ok(());
        }
        let resized = zone.resized_previous::<ListZoneKind>();
        if let Some(old) = resized {
            if old.kind != data.kind {
                return Err(changed_type(old));
            }
        }

        let name = data.name.clone();
        let too_small = || Error::Invalid(format!("zone \"{name}\" is too small"));
        let region = zone.take_all_free().map_err(|_| too_small())?;
        let now_ms = ngx_stream::time::wall_msec();
        // What the new table starts with, and where it came from.
        let (entries, source) = match resized {
            Some(old) => (old.entries(now_ms).unwrap_or_default(), "the resized zone"),
            None => match data.state.clone() {
                Some(path) => match state::load(&path, data.kind, now_ms) {
                    state::Loaded::Entries(entries) => (entries, "the state file"),
                    state::Loaded::Missing => (Vec::new(), ""),
                    state::Loaded::Corrupt(why) => {
                        data.state_off =
                            state::set_aside(&data.name, &path, &why, zone.is_config_test(), log);
                        (Vec::new(), "")
                    }
                    state::Loaded::Unreadable(why) => {
                        if let Some(log) = log {
                            log.error(
                                NGX_LOG_ERR as usize,
                                format_args!(
                                    "sift_list_zone \"{}\": cannot read state file \"{}\" ({why}): the list starts empty and the file is left alone (not written until nginx restarts with a readable file)",
                                    data.name,
                                    path.display()
                                ),
                            );
                        }
                        data.state_off = Some(format!("it could not be read at start: {why}"));
                        (Vec::new(), "")
                    }
                },
                None => (Vec::new(), ""),
            },
        };
        let (kept, capacity) = {
            let mut guard = region.lock().ok_or_else(too_small)?;
            let (header, rest) = guard.bytes().split_at_mut(HEADER);
            let mut table = ListTable::init(rest, data.kind).ok_or_else(too_small)?;
            let kept = fill(&mut table, &entries, now_ms);
            // The file holds what was loaded (or nothing): the next change saves.
            set_saved_version(header, table.version());
            (kept, table.capacity_bytes())
        };
        if let Some(log) = log {
            if !source.is_empty() {
                let level = if kept < entries.len() {
                    NGX_LOG_WARN
                } else {
                    NGX_LOG_NOTICE
                };
                log.error(
                    level as usize,
                    format_args!(
                        "sift_list_zone \"{}\": {kept} of {} entries kept from {source}",
                        data.name,
                        entries.len()
                    ),
                );
            }
            log.error(
                NGX_LOG_NOTICE as usize,
                format_args!(
                    "sift_list_zone \"{}\": {capacity} bytes for entries",
                    data.name
                ),
            );
        }
        data.table = Some(region);
        Ok(())
    }
}

/// Writes `entries` into a fresh table: all at once if they fit, else one
/// by one, as many as fit. Returns how many are in.
fn fill(table: &mut ListTable<'_>, entries: &[Entry], now_ms: u64) -> usize {
    fn change(entry: &Entry) -> Change<'_> {
        Change::Upsert {
            key: entry.key.as_bytes(),
            value: entry.value.as_bytes(),
            expires_at_ms: entry.expires_at_ms,
        }
    }
    let all: Vec<Change<'_>> = entries.iter().map(change).collect();
    if table.apply(&all, now_ms).is_ok() {
        return entries.len();
    }
    entries
        .iter()
        .filter(|entry| table.apply(&[change(entry)], now_ms).is_ok())
        .count()
}

/// `type=` as written.
pub fn kind_name(kind: ListKind) -> &'static str {
    kind.name()
}
