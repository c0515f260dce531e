//! The stable hashes that decide placement.
//!
//! Placement is part of a cluster's on-disk state: a node holds the keys that
//! the partitioner gave it, so if a new build of the crate hashed differently,
//! every key would suddenly "belong" somewhere else. Every hash here is
//! therefore a *specified* function, identical on every platform, run and
//! release:
//!
//! * keys are hashed with XXH3-64, seed 0 ([`key_hash`]), a published
//!   algorithm with test vectors;
//! * node positions (ring points, rendezvous scores, jump-hash replica
//!   probes) are derived from node ids and small integers with XXH3 or with
//!   SplitMix64's finalizer ([`mix`]), a fixed arithmetic permutation.
//!
//! `std`'s `DefaultHasher` is never used: its algorithm is explicitly allowed
//! to change between Rust releases, and `RandomState` is seeded per process.
//! The frozen placement table in `tests/partitioning.rs` pins all of this.

/// The stable 64-bit hash of a key: XXH3-64 with seed 0.
///
/// ```
/// assert_eq!(replikv::partition::key_hash(b"user:42"), 0x9fc1e605fa7174aa);
/// assert_eq!(replikv::partition::key_hash(b""), 0x2d06800538d394c2);
/// ```
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key, 0)
}

/// SplitMix64's finalizer (Steele, Lea & Flood, OOPSLA 2014): a fixed,
/// well-mixed bijection on 64-bit integers. Cheap enough to run once per
/// member per lookup (rendezvous) and good enough that consecutive inputs
/// (node 0, 1, 2, …) give unrelated outputs.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seed separating ring-point hashes from key hashes (ASCII "ringpnt\0"), so
/// that a key that happens to equal a point's 8 input bytes is not thereby
/// placed exactly on that point.
const RING_POINT_SEED: u64 = 0x7269_6e67_706e_7400;

/// The position on the ring of virtual node `index` of `node`: XXH3-64 of
/// the node id and the index, both little-endian `u32`, with a fixed seed.
pub(crate) fn ring_point(node: u32, index: u32) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&node.to_le_bytes());
    bytes[4..].copy_from_slice(&index.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, RING_POINT_SEED)
}

/// The golden-ratio increment of SplitMix64, used to spread probe numbers.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hash fed to jump hash for replica probe `probe` of a key. Probe 0 is
/// the key hash itself, so a key's owner is exactly the classic jump hash of
/// its hash; later probes are independent-looking rehashes.
pub(crate) fn probe_hash(key_hash: u64, probe: u64) -> u64 {
    if probe == 0 {
        key_hash
    } else {
        mix(key_hash.wrapping_add(probe.wrapping_mul(GOLDEN_GAMMA)))
    }
}
