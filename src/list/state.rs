//! The state file of a list zone (`state=FILE`): read once when the zone is
//! made, written whole after every change through a temporary file in the
//! same directory and a rename, so the file is always a complete snapshot.
//! The format is `sift_core::list::state`.
//!
//! Degradation, in short: a missing file is an empty list; a corrupt one is
//! renamed aside (`FILE.corrupt-SECONDS`, kept for the operator) and the
//! list starts empty; an unreadable one is left alone, the list starts
//! empty and this cycle never writes the file (it would replace entries
//! sift could not read). Every case is logged at `error`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use ngx_stream::ffi::NGX_LOG_ERR;
use ngx_stream::log::Log;
use sift_core::list::{state, Entry, ListKind};

/// The largest state file read (a zone's memory bounds what is written).
const MAX_FILE: u64 = 256 << 20;

/// What reading the state file found.
pub enum Loaded {
    /// The live entries (expired ones dropped).
    Entries(Vec<Entry>),
    Missing,
    Corrupt(String),
    Unreadable(String),
}

/// Reads and decodes the state file.
pub fn load(path: &Path, kind: ListKind, now_ms: u64) -> Loaded {
    let bytes = match read_capped(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Loaded::Missing,
        Err(error) => return Loaded::Unreadable(error.to_string()),
    };
    match state::decode(&bytes, kind) {
        Ok(mut entries) => {
            entries.retain(|entry| entry.expires_at_ms == 0 || entry.expires_at_ms > now_ms);
            Loaded::Entries(entries)
        }
        Err(error) => Loaded::Corrupt(error.to_string()),
    }
}

fn read_capped(path: &Path) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{len} bytes, more than the {MAX_FILE} read"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    io::Read::read_to_end(&mut io::Read::take(file, MAX_FILE + 1), &mut bytes)?;
    Ok(bytes)
}

/// A corrupt state file at start: renamed aside so its entries stay with
/// the operator and the next write does not replace them (not under
/// `nginx -t`, which only reports it). If it cannot be renamed, this
/// cycle does not write the file.
pub fn set_aside(
    name: &str,
    path: &Path,
    why: &str,
    testing: bool,
    log: Option<Log<'_>>,
) -> Option<String> {
    let say = |what: &dyn core::fmt::Display| {
        if let Some(log) = log {
            log.error(
                NGX_LOG_ERR as usize,
                format_args!(
                    "sift_list_zone \"{name}\": state file \"{}\" is corrupt ({why}): {what}",
                    path.display()
                ),
            );
        }
    };
    if testing {
        say(&"the list would start empty and the file be renamed aside");
        return None;
    }
    let aside = aside_name(path);
    match fs::rename(path, &aside) {
        Ok(()) => {
            say(&format_args!(
                "the list starts empty; the file is kept as \"{}\"",
                aside.display()
            ));
            None
        }
        Err(error) => {
            say(&format_args!(
                "the list starts empty; renaming it aside failed ({error}), so it is left alone and not written until nginx restarts"
            ));
            Some(format!(
                "it was corrupt at start and could not be renamed aside: {error}"
            ))
        }
    }
}

fn aside_name(path: &Path) -> PathBuf {
    let seconds = ngx_stream::time::wall_msec() / 1000;
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".corrupt-{seconds}"));
    PathBuf::from(name)
}

/// Writes a complete snapshot next to `path` and flushes it to disk;
/// returns the temporary file's name (removed again on any error).
pub fn write_temp(path: &Path, kind: ListKind, entries: &[Entry]) -> io::Result<PathBuf> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let bytes = state::encode(kind, entries);
    // Only nginx's users read it: the lists decide who gets in.
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(&bytes)?;
            file.sync_all()
        });
    match written {
        Ok(()) => Ok(temp),
        Err(error) => {
            let _ = fs::remove_file(&temp);
            Err(error)
        }
    }
}
