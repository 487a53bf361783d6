//! The parameters of `sift_rate_zone` and `sift_rate` other than the rate
//! itself ([`Rate::parse`](super::Rate::parse)): `zone=NAME:SIZE` and
//! `burst=N`. Sizes stay text: nginx's own size parser reads them, so
//! `10m` means what it means everywhere else in nginx.conf.

use core::fmt;

/// What is wrong with a `zone=` or `burst=` value. [`Display`](fmt::Display)
/// gives the whole message, in nginx's phrasing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamError {
    /// `zone=` without `NAME:SIZE` (the text after `zone=`).
    ZoneSize(String),
    /// `zone=` with an empty name.
    ZoneName(String),
    /// `burst=` that is not a number from 0 to 4294967295.
    Burst(String),
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::ZoneSize(text) => write!(f, "invalid zone size \"{text}\""),
            ParamError::ZoneName(text) => write!(f, "invalid zone name \"{text}\""),
            ParamError::Burst(text) => write!(f, "invalid burst value \"{text}\""),
        }
    }
}

impl std::error::Error for ParamError {}

/// `NAME:SIZE` (what follows `zone=` in `sift_rate_zone`): the name and
/// the size's text. The name may itself hold colons; the last one splits.
pub fn zone_name_and_size(value: &[u8]) -> Result<(&[u8], &[u8]), ParamError> {
    let text = || String::from_utf8_lossy(value).into_owned();
    let at = value
        .iter()
        .rposition(|&byte| byte == b':')
        .ok_or_else(|| ParamError::ZoneSize(text()))?;
    let (name, colon_size) = value.split_at(at);
    match (name, colon_size.get(1..)) {
        (b"", _) => Err(ParamError::ZoneName(text())),
        (name, Some(size)) if !size.is_empty() => Ok((name, size)),
        _ => Err(ParamError::ZoneSize(text())),
    }
}

/// `N` (what follows `burst=` in `sift_rate`).
pub fn burst(value: &[u8]) -> Result<u32, ParamError> {
    core::str::from_utf8(value)
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ParamError::Burst(String::from_utf8_lossy(value).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_values() {
        assert_eq!(
            zone_name_and_size(b"per_ip:10m"),
            Ok((&b"per_ip"[..], &b"10m"[..]))
        );
        assert_eq!(zone_name_and_size(b"a:b:1m"), Ok((&b"a:b"[..], &b"1m"[..])));
        assert_eq!(
            zone_name_and_size(b"per_ip").unwrap_err().to_string(),
            "invalid zone size \"per_ip\""
        );
        assert_eq!(
            zone_name_and_size(b"per_ip:").unwrap_err().to_string(),
            "invalid zone size \"per_ip:\""
        );
        assert_eq!(
            zone_name_and_size(b":1m").unwrap_err().to_string(),
            "invalid zone name \":1m\""
        );
    }

    #[test]
    fn burst_values() {
        assert_eq!(burst(b"0"), Ok(0));
        assert_eq!(burst(b"20"), Ok(20));
        assert_eq!(burst(b"4294967295"), Ok(u32::MAX));
        for bad in [&b""[..], b"-1", b"+1", b"4294967296", b"ten", b"1.5"] {
            assert_eq!(
                burst(bad).unwrap_err().to_string(),
                format!("invalid burst value \"{}\"", String::from_utf8_lossy(bad))
            );
        }
    }
}
