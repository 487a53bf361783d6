//! tinc VPN: the first line of a meta connection, the ID request
//! `0 NAME MAJOR\n` (tinc 1.0) or `0 NAME MAJOR.MINOR\n` (tinc 1.1), where
//! 0 is the request number of ID and NAME the node name.

use super::reader::{Parsed, Reader, Stop};

/// tinc has no limit of its own; node names are file names.
const MAX_NAME_LEN: usize = 255;
/// tinc 1.0 and 1.1 both speak major version 17.
const MAX_VERSION: usize = 255;

/// Decided at the LF that ends the line; the node name is returned.
pub(crate) fn id_request(bytes: &[u8]) -> Parsed<&[u8]> {
    let mut reader = Reader::new(bytes);
    reader.literal(b"0 ")?;
    // tinc's check_id: letters, digits and `_` only.
    let name = reader.until(b' ', MAX_NAME_LEN, |byte| {
        byte.is_ascii_alphanumeric() || byte == b'_'
    })?;
    if name.is_empty() {
        return Err(Stop::Invalid);
    }
    let major = reader.decimal(MAX_VERSION)?;
    if major == 0 {
        return Err(Stop::Invalid);
    }
    if reader.rest().first() == Some(&b'.') {
        reader.byte()?;
        reader.decimal(MAX_VERSION)?;
    }
    reader.literal(b"\n")?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tinc_1_0_and_1_1() {
        let line = b"0 sift_alice 17\n";
        for len in 0..line.len() {
            assert_eq!(id_request(&line[..len]), Err(Stop::Incomplete), "{len}");
        }
        assert_eq!(id_request(line), Ok(&b"sift_alice"[..]));
        assert_eq!(id_request(b"0 node1 17.7\n"), Ok(&b"node1"[..]));
        assert_eq!(id_request(b"0 node1 17.7"), Err(Stop::Incomplete));
        // Followed by the next request (METAKEY) in the same read.
        assert_eq!(id_request(b"0 a 17\n1 94 64 0 0 "), Ok(&b"a"[..]));
    }

    #[test]
    fn near_misses() {
        for bytes in [
            &b"1 node 17\n"[..],
            b"0  node 17\n",
            b"0 no-de 17\n",
            b"0 node 0\n",
            b"0 node 017\n",
            b"0 node 17\r\n",
            b"0 node 17.\n",
            b"0 node 17.7.1\n",
            b"0 node HTTP/1.1\r\n",
            b"00 node 17\n",
            b"0 node 256\n",
        ] {
            assert_eq!(
                id_request(bytes),
                Err(Stop::Invalid),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let mut long = b"0 ".to_vec();
        long.resize(2 + MAX_NAME_LEN, b'n');
        assert_eq!(id_request(&long), Err(Stop::Incomplete));
        long.push(b'n');
        assert_eq!(id_request(&long), Err(Stop::Invalid));
    }
}
