//! JA3 (salesforce/ja3): the ClientHello summarised as
//! `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`,
//! fields in decimal, list items joined with `-`, GREASE values left out,
//! and the MD5 of that string.

use core::fmt::{self, Write};

use md5::{Digest, Md5};

use super::hello::ClientHello;
use super::text::{hex_prefix, write_decimal, write_joined, DigestWriter, Fingerprint};
use super::values::is_grease;

/// A JA3 hash: 32 lower-case hex characters.
pub type Ja3Hash = Fingerprint<32>;

/// Appends the JA3 string to `out`. `SSLVersion` is the hello's
/// `legacy_version` (not supported_versions, not the record version);
/// lists keep wire order; an absent extension gives an empty field.
pub fn write_ja3_string<W: Write + ?Sized>(hello: &ClientHello<'_>, out: &mut W) -> fmt::Result {
    write_decimal(out, hello.legacy_version())?;
    out.write_char(',')?;
    let ciphers = hello.cipher_suites().filter(|&suite| !is_grease(suite));
    write_joined(out, ciphers, '-', write_decimal)?;
    out.write_char(',')?;
    let extensions = hello
        .extensions()
        .map(|(extension_type, _)| extension_type)
        .filter(|&extension_type| !is_grease(extension_type));
    write_joined(out, extensions, '-', write_decimal)?;
    out.write_char(',')?;
    let groups = hello
        .supported_groups()
        .into_iter()
        .flatten()
        .filter(|&group| !is_grease(group));
    write_joined(out, groups, '-', write_decimal)?;
    out.write_char(',')?;
    let formats = hello.ec_point_formats().unwrap_or_default();
    write_joined(out, formats, '-', |out, &format| {
        write_decimal(out, u16::from(format))
    })
}

/// The JA3 fingerprint: MD5 of the JA3 string, in hex.
pub fn ja3(hello: &ClientHello<'_>) -> Ja3Hash {
    let mut digest = DigestWriter(Md5::new());
    // Writing into a digest cannot fail.
    let _ = write_ja3_string(hello, &mut digest);
    hex_prefix(&digest.0.finalize()).unwrap_or(Fingerprint::ZEROS)
}
