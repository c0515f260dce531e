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

/// Seeds of the node hashes of the newer strategies (ASCII tags), each
/// distinct so that no two strategies' node positions are correlated.
const MAGLEV_OFFSET_SEED: u64 = 0x6d61_676c_6f66_6600; // "maglofs\0"
const MAGLEV_SKIP_SEED: u64 = 0x6d61_676c_736b_6900; // "maglski\0"
const MULTI_PROBE_POINT_SEED: u64 = 0x6d70_726f_6265_7000; // "mprobep\0"
const BOUNDED_SLOT_SEED: u64 = 0x626f_756e_6473_6c00; // "boundsl\0"

/// XXH3-64 of a node id (little-endian `u32`) under `seed`.
fn node_hash(node: u32, seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(&node.to_le_bytes(), seed)
}

/// Maglev's per-node permutation of a table of prime size `m`: the node
/// fills slots `offset, offset + skip, offset + 2·skip, …` (mod `m`), with
/// `offset` in `0..m` and `skip` in `1..m` — coprime with the prime `m`, so
/// the sequence visits every slot (Eisenbud et al., NSDI 2016, §3.4).
pub(crate) fn maglev_offset_skip(node: u32, m: u32) -> (u32, u32) {
    let m64 = u64::from(m);
    let offset = node_hash(node, MAGLEV_OFFSET_SEED) % m64;
    let skip = node_hash(node, MAGLEV_SKIP_SEED) % (m64 - 1).max(1) + 1;
    // Both are below m, itself a u32.
    (offset as u32, skip as u32)
}

/// The single ring position of a node under multi-probe consistent hashing.
pub(crate) fn multi_probe_point(node: u32) -> u64 {
    node_hash(node, MULTI_PROBE_POINT_SEED)
}

/// The ring position of slot `slot` of the bounded-loads strategy: slots are
/// the top bits of key hashes, and each starts its walk at an unrelated
/// position so that neighbouring slots do not crowd one arc.
pub(crate) fn bounded_slot_point(slot: u32) -> u64 {
    mix(u64::from(slot) ^ BOUNDED_SLOT_SEED)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING_POINT_0_0: u64 = 0xe72f_47f2_8aae_785e;
    const MAGLEV_0: (u32, u32) = (1289, 4683);
    const MAGLEV_7: (u32, u32) = (23_149, 10_072);
    const MAGLEV_7_13: (u32, u32) = (11, 12);
    const MULTI_PROBE_0: u64 = 0x6799_fd7f_38c9_0869;
    const MULTI_PROBE_7: u64 = 0xe45a_f713_5250_9722;
    const BOUNDED_SLOT_0: u64 = 0xb029_5edc_71ab_c3ce;
    const BOUNDED_SLOT_LAST: u64 = 0xfbd3_faf7_1f31_16fa;
    const PROBE_1234_3: u64 = 0x8a85_ffda_ea35_a5a6;

    /// Stable vectors: these hashes decide placement, so they must never
    /// change (see the frozen tables in `tests/partitioning.rs`).
    #[test]
    fn node_hash_vectors() {
        // SplitMix64's published first output for seed 0 is mix(γ).
        assert_eq!(mix(GOLDEN_GAMMA), 0xe220_a839_7b1d_cdaf);
        assert_eq!(mix(0), 0);
        assert_eq!(ring_point(0, 0), RING_POINT_0_0);
        assert_eq!(maglev_offset_skip(0, 65_537), MAGLEV_0);
        assert_eq!(maglev_offset_skip(7, 65_537), MAGLEV_7);
        assert_eq!(maglev_offset_skip(7, 13), MAGLEV_7_13);
        assert_eq!(multi_probe_point(0), MULTI_PROBE_0);
        assert_eq!(multi_probe_point(7), MULTI_PROBE_7);
        assert_eq!(bounded_slot_point(0), BOUNDED_SLOT_0);
        assert_eq!(bounded_slot_point(65_535), BOUNDED_SLOT_LAST);
        assert_eq!(probe_hash(0x1234, 0), 0x1234);
        assert_eq!(probe_hash(0x1234, 3), PROBE_1234_3);
    }

    /// Skips are in 1..m, so every node's sequence visits every slot.
    #[test]
    fn maglev_skip_is_coprime_with_the_table() {
        for node in 0..200 {
            for m in [2, 3, 13, 251, 65_537] {
                let (offset, skip) = maglev_offset_skip(node, m);
                assert!(offset < m && (1..m).contains(&skip), "{node} {m}");
            }
        }
    }
}
