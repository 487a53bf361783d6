//! Live lists (`sift_list_zone`): key → value tables in a zone's shared
//! memory, changed at runtime through the HTTP API and read by every
//! worker on the next connection. Modelled on nginx Plus's `keyval`.
//!
//! - [`ListTable`]: the table over a fixed byte region (no growth): exact
//!   string keys, or (`type=ip`) addresses and CIDR ranges matched longest
//!   prefix first; per-entry expiry; batches applied all or nothing.
//! - [`api`]: the JSON bodies of the HTTP API.
//! - [`state`]: the `state=FILE` format (versioned, checksummed).

pub mod api;
mod ip;
pub mod journal;
mod layout;
pub mod state;
mod table;

pub use table::ListTable;

use core::fmt;

/// How keys are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// Exact match on the key's bytes.
    String,
    /// Addresses and CIDR ranges (IPv4 and IPv6), longest prefix first.
    Ip,
}

impl ListKind {
    /// The name used in `type=` and in the state file.
    pub fn name(self) -> &'static str {
        match self {
            ListKind::String => "string",
            ListKind::Ip => "ip",
        }
    }

    /// The kind named `type=NAME`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "string" => Some(ListKind::String),
            "ip" => Some(ListKind::Ip),
            _ => None,
        }
    }
}

/// The longest key, in bytes (of its text, for `type=ip`).
pub const KEY_MAX: usize = 256;
/// The longest value, in bytes.
pub const VALUE_MAX: usize = 1024;

/// One change of a batch given to [`ListTable::apply`]. Keys are text
/// (`type=ip`: an address or a CIDR, any spelling; it is canonicalised);
/// `expires_at_ms` is on the caller's millisecond clock, 0 for never. Use
/// a wall clock (milliseconds since the Unix epoch) when entries go to a
/// state file: expiry has to mean the same after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<'a> {
    /// Adds the key; the batch fails with [`ListError::Exists`] if it is
    /// present (and not expired).
    Insert {
        key: &'a [u8],
        value: &'a [u8],
        expires_at_ms: u64,
    },
    /// Adds the key or replaces its value and expiry.
    Upsert {
        key: &'a [u8],
        value: &'a [u8],
        expires_at_ms: u64,
    },
    /// Removes the key (nothing if it is absent).
    Remove { key: &'a [u8] },
}

impl<'a> Change<'a> {
    /// The key the change is about.
    pub fn key(&self) -> &'a [u8] {
        match *self {
            Change::Insert { key, .. } | Change::Upsert { key, .. } | Change::Remove { key } => key,
        }
    }
}

/// A live entry, owned (for the API and the state file).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The key; for `type=ip` in canonical form (`10.0.0.0/8`, `192.0.2.1`,
    /// `2001:db8::/32`).
    pub key: String,
    /// The value.
    pub value: String,
    /// When the entry expires, on the caller's millisecond clock; 0 = never.
    pub expires_at_ms: u64,
}

/// Why a change or a batch was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListError {
    /// The batch does not fit in the zone (entries or bytes), even after
    /// expired entries are reclaimed and the arena is compacted.
    Full,
    /// An insert's key is already present (its canonical form).
    Exists(String),
    /// A key longer than [`KEY_MAX`].
    KeyTooLong,
    /// A value longer than [`VALUE_MAX`].
    ValueTooLong,
    /// A key that is not valid for the list: empty, not UTF-8, or (for
    /// `type=ip`) not an address or CIDR. The text says why.
    BadKey(String),
    /// A value that is not UTF-8.
    BadValue(String),
}

impl ListError {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            ListError::Full => 507,
            ListError::Exists(_) => 409,
            _ => 400,
        }
    }

    /// The machine-readable code of the API's JSON error.
    pub fn code(&self) -> &'static str {
        match self {
            ListError::Full => "ListFull",
            ListError::Exists(_) => "KeyExists",
            ListError::KeyTooLong => "KeyTooLong",
            ListError::ValueTooLong => "ValueTooLong",
            ListError::BadKey(_) => "BadKey",
            ListError::BadValue(_) => "BadValue",
        }
    }
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::Full => f.write_str("the list zone is full"),
            ListError::Exists(key) => write!(f, "key \"{key}\" already exists"),
            ListError::KeyTooLong => write!(f, "key longer than {KEY_MAX} bytes"),
            ListError::ValueTooLong => write!(f, "value longer than {VALUE_MAX} bytes"),
            ListError::BadKey(why) => write!(f, "bad key: {why}"),
            ListError::BadValue(why) => write!(f, "bad value: {why}"),
        }
    }
}

impl std::error::Error for ListError {}

/// The canonical text of `key` for a list of `kind` (`type=ip`:
/// `10.1.2.3/8` → `10.0.0.0/8`, `192.0.2.1/32` → `192.0.2.1`,
/// `::ffff:192.0.2.1` → `192.0.2.1`; `type=string`: the key itself), or
/// why it is not a valid key. For the API's `DELETE /sift/lists/NAME/KEY`.
pub fn canonical_key(kind: ListKind, key: &[u8]) -> Result<String, ListError> {
    if key.len() > KEY_MAX {
        return Err(ListError::KeyTooLong);
    }
    match kind {
        ListKind::String => {
            if key.is_empty() {
                return Err(ListError::BadKey("empty key".into()));
            }
            core::str::from_utf8(key)
                .map(str::to_owned)
                .map_err(|_| ListError::BadKey("not UTF-8".into()))
        }
        ListKind::Ip => ip::parse_prefix(key).map(|prefix| prefix.to_string()),
    }
}

#[cfg(test)]
mod tests;
