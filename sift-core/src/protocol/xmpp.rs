//! XMPP: the opening stream header of RFC 6120 §4.2, optionally after an
//! XML declaration:
//! `<?xml version='1.0'?><stream:stream xmlns='jabber:client' ...>`.

use super::reader::{find, Parsed, Reader, Stop};

const DECLARATION_START: &[u8] = b"<?xml";
const STREAM_START: &[u8] = b"<stream:stream";
/// The content namespace is what makes it XMPP: `jabber:client` for
/// clients, `jabber:server` for server-to-server streams.
const NAMESPACES: [&[u8]; 2] = [b"jabber:client", b"jabber:server"];
/// Declaration plus stream header: real ones take about 200 bytes.
const MAX_HEADER_LEN: usize = 1024;

/// Decided as soon as a namespace appears inside the stream tag.
pub(crate) fn stream_header(bytes: &[u8]) -> Parsed<()> {
    let mut reader = Reader::with_limit(bytes, MAX_HEADER_LEN);
    if reader.one_of(&[DECLARATION_START, STREAM_START])? == DECLARATION_START {
        reader.byte_where(is_xml_space)?;
        reader.skip_past(b"?>")?;
        reader.skip_while(is_xml_space);
        reader.literal(STREAM_START)?;
    }
    reader.byte_where(is_xml_space)?;
    let attributes = reader.rest();
    let tag_end = attributes.iter().position(|&byte| byte == b'>');
    let tag = tag_end
        .and_then(|end| attributes.get(..end))
        .unwrap_or(attributes);
    if NAMESPACES
        .iter()
        .any(|namespace| find(tag, namespace).is_some())
    {
        Ok(())
    } else if tag_end.is_some() {
        Err(Stop::Invalid)
    } else {
        Err(reader.out_of_bytes())
    }
}

/// XML `S`: space, tab, CR, LF.
const fn is_xml_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &[u8] = b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

    #[test]
    fn decides_at_the_namespace() {
        let decided = find(CLIENT, b"jabber:client").unwrap() + b"jabber:client".len();
        for len in 0..decided {
            assert_eq!(
                stream_header(&CLIENT[..len]),
                Err(Stop::Incomplete),
                "{len}"
            );
        }
        for len in decided..=CLIENT.len() {
            assert_eq!(stream_header(&CLIENT[..len]), Ok(()));
        }
    }

    #[test]
    fn without_declaration_and_with_newlines() {
        assert_eq!(
            stream_header(b"<stream:stream xmlns=\"jabber:client\" to=\"a\" version=\"1.0\">"),
            Ok(())
        );
        assert_eq!(
            stream_header(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<stream:stream\n xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'>"),
            Ok(())
        );
    }

    #[test]
    fn near_misses() {
        for bytes in [
            &b" <stream:stream xmlns='jabber:client'>"[..],
            b"<?xml-stylesheet?>",
            b"<?xml version='1.0'?><html>",
            b"<stream:streamx",
            b"<stream:stream>",
            b"<stream:stream to='a' xmlns='urn:other'>xmlns='jabber:client'",
            b"<stream:features>",
            b"<html>",
        ] {
            assert_eq!(
                stream_header(bytes),
                Err(Stop::Invalid),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn header_must_fit_the_limit() {
        let mut long = b"<stream:stream to='".to_vec();
        long.resize(MAX_HEADER_LEN - 1, b'a');
        assert_eq!(stream_header(&long), Err(Stop::Incomplete));
        long.push(b'a');
        assert_eq!(stream_header(&long), Err(Stop::Invalid));
        let mut declaration = b"<?xml version='".to_vec();
        declaration.resize(MAX_HEADER_LEN, b'1');
        assert_eq!(stream_header(&declaration), Err(Stop::Invalid));
        // Namespace ending exactly at the limit still counts.
        let mut edge = b"<stream:stream to='".to_vec();
        edge.resize(MAX_HEADER_LEN - b"' xmlns='jabber:client".len(), b'a');
        edge.extend_from_slice(b"' xmlns='jabber:client");
        assert_eq!(edge.len(), MAX_HEADER_LEN);
        assert_eq!(stream_header(&edge), Ok(()));
    }
}
