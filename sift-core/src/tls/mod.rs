//! TLS ClientHello parsing and fingerprints.
