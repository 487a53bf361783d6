//! QUIC Initial benchmarks (being written).
fn main() {}
