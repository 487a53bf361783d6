//! Initial packet protection (RFC 9001 §5): the client's Initial secret
//! from the Destination Connection ID, its AEAD key, IV and header
//! protection key, header-protection masks, and AES-128-GCM opening.
//!
//! # Why these crates
//!
//! The primitives come from RustCrypto: `hkdf` (with the `sha2` the JA4
//! code already uses), `aes` for the header-protection block cipher and
//! `aes-gcm` for the AEAD. They are pure Rust, so the fuzz build (with
//! sanitizer flags) and the Debian package need no C or assembly toolchain
//! and no build script; they are `no_std` without allocation, which is
//! what a per-datagram hot path wants; `aes` and `aes-gcm` have had a
//! public audit (NCC Group, 2020) and pick AES-NI and PCLMULQDQ at run time
//! with a constant-time software fallback. Their declared minimum Rust is
//! 1.56 (edition 2018 for `hkdf`), below the workspace's 1.82 and Debian
//! trixie's 1.85. `ring` would be as fast but brings C and assembly built
//! by a build script, and a second copy of SHA-256 beside `sha2`.
//!
//! Nothing here is secret: Initial keys are derived from bytes on the wire
//! and protect against nothing but off-path tampering. Constant time does
//! not matter, correctness does.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use super::version::Version;

/// AES-128-GCM's authentication tag length.
pub(crate) const TAG_LEN: usize = 16;
/// The header-protection sample length (RFC 9001 §5.4.2).
pub(crate) const SAMPLE_LEN: usize = 16;

/// The keys that open the client's Initial packets of one connection.
#[derive(Clone)]
pub(crate) struct InitialKeys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    header: Aes128,
}

impl core::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("InitialKeys")
    }
}

/// The AEAD refused the packet: wrong keys, or bytes changed on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpenError;

impl InitialKeys {
    /// The client's keys for a connection whose first Initial packet had
    /// Destination Connection ID `dcid`. `None` only if HKDF refused an
    /// output length, which these fixed lengths never trigger.
    pub(crate) fn client(version: Version, dcid: &[u8]) -> Option<Self> {
        let initial = Hkdf::<Sha256>::new(Some(version.initial_salt()), dcid);
        let client_secret: [u8; 32] = expand_label(&initial, b"client in")?;
        let client = Hkdf::<Sha256>::from_prk(&client_secret).ok()?;
        let labels = version.labels();
        let key: [u8; 16] = expand_label(&client, labels.key)?;
        let iv: [u8; 12] = expand_label(&client, labels.iv)?;
        let hp: [u8; 16] = expand_label(&client, labels.hp)?;
        Some(Self {
            aead: Aes128Gcm::new(&key.into()),
            iv,
            header: Aes128::new(&hp.into()),
        })
    }

    /// The five mask bytes for `sample` (RFC 9001 §5.4.3): the first
    /// masks the low 4 bits of a long header's first byte, the others the
    /// packet number.
    pub(crate) fn header_mask(&self, sample: [u8; SAMPLE_LEN]) -> [u8; 5] {
        let mut block = sample.into();
        self.header.encrypt_block(&mut block);
        let mut mask = [0u8; 5];
        for (out, byte) in mask.iter_mut().zip(block.iter()) {
            *out = *byte;
        }
        mask
    }

    /// Opens a packet in place: `header` (first byte and packet number
    /// already unmasked) is the associated data, `body` the ciphertext and
    /// its tag. Returns the plaintext length; the plaintext is at the start
    /// of `body`.
    pub(crate) fn open(
        &self,
        packet_number: u64,
        header: &[u8],
        body: &mut [u8],
    ) -> Result<usize, OpenError> {
        let plaintext_len = body.len().checked_sub(TAG_LEN).ok_or(OpenError)?;
        let (ciphertext, tag) = body.split_at_mut(plaintext_len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| OpenError)?;
        // RFC 9001 §5.3: the nonce is the IV XORed with the packet number,
        // left-padded to the IV's length.
        let mut nonce = self.iv;
        for (byte, pn) in nonce.iter_mut().rev().zip(packet_number.to_le_bytes()) {
            *byte ^= pn;
        }
        self.aead
            .decrypt_in_place_detached(&Nonce::from(nonce), header, ciphertext, &Tag::from(tag))
            .map_err(|_| OpenError)?;
        Ok(plaintext_len)
    }
}

#[cfg(any(test, feature = "testing"))]
impl InitialKeys {
    /// Encrypts `payload` in place for packet `packet_number` with `header`
    /// as associated data and returns the tag (the sealing side of
    /// [`open`](Self::open), for [`super::seal`]).
    pub(crate) fn seal(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let mut nonce = self.iv;
        for (byte, pn) in nonce.iter_mut().rev().zip(packet_number.to_le_bytes()) {
            *byte ^= pn;
        }
        self.aead
            .encrypt_in_place_detached(&Nonce::from(nonce), header, payload)
            .map(Into::into)
            .unwrap_or([0; TAG_LEN])
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, for an
/// output of `N` bytes.
fn expand_label<const N: usize>(secret: &Hkdf<Sha256>, label: &[u8]) -> Option<[u8; N]> {
    const PREFIX: &[u8] = b"tls13 ";
    // u16 length, u8 label length, "tls13 " label, u8 context length (0).
    let mut info = [0u8; 2 + 1 + 6 + 16 + 1];
    let label_len = PREFIX.len().checked_add(label.len())?;
    let info_len = label_len.checked_add(4)?;
    let info = info.get_mut(..info_len)?;
    let (length, rest) = info.split_at_mut(2);
    length.copy_from_slice(&u16::try_from(N).ok()?.to_be_bytes());
    let (label_len_byte, rest) = rest.split_first_mut()?;
    *label_len_byte = u8::try_from(label_len).ok()?;
    let (prefix, rest) = rest.split_at_mut(PREFIX.len());
    prefix.copy_from_slice(PREFIX);
    rest.get_mut(..label.len())?.copy_from_slice(label);
    let mut out = [0u8; N];
    secret.expand(info, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    const RFC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    /// RFC 9001 Appendix A.1: client key, IV and hp for DCID
    /// 0x8394c8f03e515708; RFC 9369 Appendix A.1 the same for v2.
    #[test]
    fn initial_keys_of_the_rfc_appendices() {
        for (version, key, iv, hp) in [
            (
                Version::V1,
                "1f369613dd76d5467730efcbe3b1a22d",
                "fa044b2f42a3fd3b46fb255c",
                "9f50449e04a0e810283a1e9933adedd2",
            ),
            (
                Version::V2,
                "8b1a0bc121284290a29e0971b5cd045d",
                "91f73e2351d8fa91660e909f",
                "45b95e15235d6f45a6b19cbcb0294ba9",
            ),
        ] {
            let initial = Hkdf::<Sha256>::new(Some(version.initial_salt()), &RFC_DCID);
            let secret: [u8; 32] = expand_label(&initial, b"client in").unwrap();
            let client = Hkdf::<Sha256>::from_prk(&secret).unwrap();
            let labels = version.labels();
            assert_eq!(
                expand_label::<16>(&client, labels.key).unwrap().to_vec(),
                hex(key)
            );
            assert_eq!(
                expand_label::<12>(&client, labels.iv).unwrap().to_vec(),
                hex(iv)
            );
            assert_eq!(
                expand_label::<16>(&client, labels.hp).unwrap().to_vec(),
                hex(hp)
            );
        }
    }

    /// RFC 9001 Appendix A.2: the sample and the mask it gives.
    #[test]
    fn header_mask_of_rfc9001_a2() {
        let keys = InitialKeys::client(Version::V1, &RFC_DCID).unwrap();
        let sample: [u8; 16] = hex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(keys.header_mask(sample).to_vec(), hex("437b9aec36"));
    }

    #[test]
    fn open_rejects_short_and_forged_bodies() {
        let keys = InitialKeys::client(Version::V1, &RFC_DCID).unwrap();
        assert_eq!(keys.open(0, b"hdr", &mut [0u8; 15]), Err(OpenError));
        assert_eq!(keys.open(0, b"hdr", &mut [0u8; 40]), Err(OpenError));
    }
}
