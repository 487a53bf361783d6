//! Rates as `limit_req_zone`'s `rate=` parameter spells them.

use core::fmt;

/// A connection rate: N per second or N per minute, N ≥ 1.
///
/// The bucket drains at [`Rate::per_second_milli`] thousandths of a
/// connection per second, computed as nginx does (`N * 1000 / 60` for a
/// per-minute rate, rounded down: `1r/m` drains 16 milli-connections per
/// second, one connection every 62.5 s, exactly as in `limit_req`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    count: u32,
    per_minute: bool,
}

impl Rate {
    /// `count` connections per second; `None` for 0.
    pub const fn per_second(count: u32) -> Option<Rate> {
        if count == 0 {
            return None;
        }
        Some(Rate {
            count,
            per_minute: false,
        })
    }

    /// `count` connections per minute; `None` for 0.
    pub const fn per_minute(count: u32) -> Option<Rate> {
        if count == 0 {
            return None;
        }
        Some(Rate {
            count,
            per_minute: true,
        })
    }

    /// Parses `10r/s` or `30r/m`: ASCII digits (leading zeros allowed, no
    /// sign), then the unit. As in nginx, digits with no unit are a rate
    /// per second (`10` is `10r/s`).
    pub fn parse(text: &str) -> Result<Rate, RateError> {
        let (digits, per_minute) = if let Some(digits) = text.strip_suffix("r/s") {
            (digits, false)
        } else if let Some(digits) = text.strip_suffix("r/m") {
            (digits, true)
        } else {
            (text, false)
        };
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(RateError::Invalid);
        }
        let mut count: u64 = 0;
        for byte in digits.bytes() {
            count = count
                .saturating_mul(10)
                .saturating_add(u64::from(byte.wrapping_sub(b'0')));
        }
        let count = u32::try_from(count).map_err(|_| RateError::TooLarge)?;
        if count == 0 {
            return Err(RateError::Zero);
        }
        Ok(Rate { count, per_minute })
    }

    /// The drain rate in thousandths of a connection per second, as nginx
    /// stores `limit_req_zone`'s rate: `10r/s` is 10000, `30r/m` is 500.
    pub const fn per_second_milli(&self) -> u64 {
        // A u32 count times 1000 cannot overflow a u64.
        let milli = (self.count as u64).wrapping_mul(1000);
        if self.per_minute {
            milli / 60
        } else {
            milli
        }
    }

    /// N, the number of connections per unit.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// Whether the unit is the minute (`r/m`) rather than the second.
    pub const fn is_per_minute(&self) -> bool {
        self.per_minute
    }
}

impl fmt::Display for Rate {
    /// `10r/s`, `30r/m`: what [`Rate::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.per_minute { 'm' } else { 's' };
        write!(f, "{}r/{unit}", self.count)
    }
}

/// Why a `rate=` value is not a rate. [`Display`](fmt::Display) gives a
/// short phrase; the caller adds the text (`invalid rate "rate=fast"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateError {
    /// Not digits followed by `r/s` or `r/m`.
    Invalid,
    /// The number is 0.
    Zero,
    /// The number is above 4294967295.
    TooLarge,
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateError::Invalid => "rate must be a number followed by \"r/s\" or \"r/m\"",
            RateError::Zero => "rate must be at least 1",
            RateError::TooLarge => "rate must be at most 4294967295",
        })
    }
}

impl std::error::Error for RateError {}
