//! Versioned values and tombstones.

use crate::ids::NodeId;
use serde::{Deserialize, Serialize};

/// A totally ordered version: a counter, ties broken by the node that made it.
///
/// Strong mode uses the counter as the ABD sequence number; eventual mode
/// packs a hybrid logical clock timestamp into it. Comparing versions is the
/// whole of "which write wins".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Sequence number or packed timestamp; compared first.
    pub counter: u64,
    /// The coordinator that made the version; breaks ties.
    pub node: NodeId,
}

impl Version {
    /// The version below every written one.
    pub const ZERO: Version = Version {
        counter: 0,
        node: NodeId(0),
    };

    /// A version with the given counter and tie-breaker.
    pub fn new(counter: u64, node: NodeId) -> Self {
        Version { counter, node }
    }
}

/// What a replica stores under a key: a version and a value, or a tombstone
/// (`value: None`) so that a delete is not undone by an older replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The version of this write.
    pub version: Version,
    /// The value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

impl Record {
    /// A live value.
    pub fn value(version: Version, value: Vec<u8>) -> Self {
        Record {
            version,
            value: Some(value),
        }
    }

    /// A tombstone.
    pub fn tombstone(version: Version) -> Self {
        Record {
            version,
            value: None,
        }
    }

    /// True for a delete marker.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}
