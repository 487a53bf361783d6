//! Protocol detection from a client's first bytes.
