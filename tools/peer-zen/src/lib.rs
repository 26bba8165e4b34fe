//! Nothing but the `peer` bench; see `benches/peer.rs`.
