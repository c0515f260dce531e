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
    /// The value, or `None` for a delete. (Encoded as one byte string, not
    /// byte by byte: the encoding is the same, the work is a copy.)
    #[serde(with = "serde_bytes")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    /// `Record` as it was declared before its value became a byte string:
    /// records written by older builds are encoded like this.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct RecordBeforeByteStrings {
        version: Version,
        value: Option<Vec<u8>>,
    }

    #[test]
    fn byte_string_values_encode_exactly_as_byte_sequences_did() {
        let version = Version::new(0x0123_4567_89AB, NodeId(7));
        for value in [
            None,
            Some(vec![]),
            Some(b"blue".to_vec()),
            Some(vec![0xFF; 300]),
        ] {
            let old = RecordBeforeByteStrings {
                version,
                value: value.clone(),
            };
            let new = Record { version, value };
            let old_bytes = codec::encode(&old).unwrap();
            assert_eq!(codec::encode(&new).unwrap(), old_bytes, "{new:?}");
            assert_eq!(codec::decode::<Record>(&old_bytes).unwrap(), new);
        }
    }
}
