//! What a cluster is built from: consistency mode and storage kind.

use std::path::PathBuf;

/// The built-in consistency modes. A protocol of your own goes in with
/// [`crate::ClusterBuilder::protocol`] instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Consistency {
    /// One copy per key, on the head of its preference list
    /// ([`crate::protocol::SingleCopy`]). The baseline: no replication.
    #[default]
    SingleCopy,
    /// Linearizable reads and writes per key: majority quorums of the key's
    /// N replicas, ABD ([`crate::protocol::Strong`]). Survives any minority
    /// of crashed or partitioned replicas per key.
    Strong,
    /// Dynamo-style eventual consistency ([`crate::protocol::Eventual`]):
    /// N copies per key (the cluster's replication factor), reads wait for
    /// `r` replicas and writes for `w` acknowledgements; sloppy quorums,
    /// read repair, anti-entropy, last-writer-wins. Both must be in `1..=N`.
    Eventual {
        /// Read quorum R.
        r: usize,
        /// Write quorum W.
        w: usize,
    },
}

/// Where each node keeps its data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StorageKind {
    /// A temporary sled database per node, removed when the cluster drops.
    #[default]
    Temporary,
    /// A sled database per node under `dir/node-<id>`, kept after the
    /// cluster drops and recovered when a cluster is built on it again.
    Directory(PathBuf),
    /// An in-memory map per node (no sled): fastest, for unit tests.
    Memory,
}
