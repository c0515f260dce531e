//! Exactly-once *effects* over at-least-once delivery: deduplicate by
//! message id.
//!
//! A queue cannot deliver exactly once: a consumer that acted and crashed
//! before its acknowledgement looks, to the queue, exactly like one that
//! crashed before acting, and the queue must deliver again so as not to
//! lose the message. The consumer can make the *second* action harmless:
//! remember which message ids it applied, and skip an id it has seen
//! (Helland, "Idempotence Is Not a Medical Condition", CACM 2012).
//!
//! The remembered ids — the idempotency keys — must change atomically with
//! the effect they guard. Kept under a key of their own, a crash between
//! the two writes either forgets an applied id (the effect happens twice)
//! or records one never applied (the effect is lost). replikv's one atomic
//! step is a compare-and-set of *one* key, so [`apply_once`] keeps the ids
//! in the same record as the state: one compare-and-set applies the effect
//! and records its id, or does neither. The ids of the last
//! [`IDEMPOTENCY_WINDOW`] messages applied to a key are kept; a duplicate
//! older than that would apply again (a real system bounds the window by
//! time, past the longest redelivery delay).
//!
//! [`apply_always`] is the same update without the ids — what a naive
//! consumer does — so that a run can count the duplicated effects the
//! window prevents.
//!
//! ```
//! use replikv::queue::exactly_once::{apply_once, read, Applied};
//! use replikv::queue::MessageId;
//! use replikv::{Cluster, Consistency, Runtime};
//!
//! let cluster = Cluster::builder().runtime(Runtime::Simulated)
//!     .consistency(Consistency::Consensus).build()?;
//! let mut client = cluster.client()?;
//! let add_one = |old: Option<&[u8]>| {
//!     let n = old.map_or(0, |b| b.len());
//!     vec![b'x'; n + 1]
//! };
//! let id = MessageId { producer: 1, number: 7 };
//! assert_eq!(apply_once(&mut client, "count", id, add_one)?, Applied::Now);
//! assert_eq!(apply_once(&mut client, "count", id, add_one)?, Applied::Duplicate);
//! assert_eq!(read(&mut client, "count")?, Some(b"x".to_vec()));
//! # Ok::<(), replikv::Error>(())
//! ```

use super::MessageId;
use crate::client::Client;
use crate::codec;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many message ids a guarded key remembers.
pub const IDEMPOTENCY_WINDOW: usize = 4096;

/// How many times an update retries a compare-and-set lost to a concurrent
/// update before it gives up with [`Error::Unavailable`].
const MAX_CONFLICTS: usize = 1000;

/// What [`apply_once`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The effect was applied now.
    Now,
    /// The id was applied before: nothing changed.
    Duplicate,
}

/// A value and the ids of the messages applied to it, stored as one record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Guarded {
    value: Option<Vec<u8>>,
    applied: VecDeque<MessageId>,
}

fn load(client: &mut Client, key: &[u8]) -> Result<(Option<Vec<u8>>, Guarded)> {
    match client.get(key)? {
        None => Ok((None, Guarded::default())),
        Some(raw) => {
            let guarded = codec::decode(&raw)
                .map_err(|e| Error::Decode(format!("not a guarded record: {e}")))?;
            Ok((Some(raw), guarded))
        }
    }
}

/// Applies `effect` to the value at `key` unless message `id` was applied
/// to it before, atomically with recording `id`. `effect` maps the current
/// value (`None`: none yet) to the new one; it may run more than once when
/// a concurrent update wins the compare-and-set, so it must be a pure
/// function of its input. A timeout leaves the outcome unknown, as for any
/// write: call again with the same id (on redelivery) and it will apply at
/// most once.
pub fn apply_once(
    client: &mut Client,
    key: impl AsRef<[u8]>,
    id: MessageId,
    effect: impl Fn(Option<&[u8]>) -> Vec<u8>,
) -> Result<Applied> {
    update(client, key.as_ref(), Some(id), effect)
}

/// The same update without deduplication: applied on every call, so twice
/// for a message delivered twice. For comparison with [`apply_once`].
pub fn apply_always(
    client: &mut Client,
    key: impl AsRef<[u8]>,
    effect: impl Fn(Option<&[u8]>) -> Vec<u8>,
) -> Result<()> {
    update(client, key.as_ref(), None, effect).map(|_| ())
}

/// The value at a key written by [`apply_once`] or [`apply_always`].
pub fn read(client: &mut Client, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
    Ok(load(client, key.as_ref())?.1.value)
}

fn update(
    client: &mut Client,
    key: &[u8],
    id: Option<MessageId>,
    effect: impl Fn(Option<&[u8]>) -> Vec<u8>,
) -> Result<Applied> {
    for _ in 0..MAX_CONFLICTS {
        let (raw, mut guarded) = load(client, key)?;
        if let Some(id) = id {
            if guarded.applied.contains(&id) {
                return Ok(Applied::Duplicate);
            }
            guarded.applied.push_back(id);
            if guarded.applied.len() > IDEMPOTENCY_WINDOW {
                guarded.applied.pop_front();
            }
        }
        guarded.value = Some(effect(guarded.value.as_deref()));
        let bytes = codec::encode(&guarded).map_err(Error::Encode)?;
        if client.compare_and_set(key, raw.as_deref(), Some(&bytes))? {
            return Ok(Applied::Now);
        }
    }
    Err(Error::Unavailable(format!(
        "{MAX_CONFLICTS} concurrent updates of one key in a row"
    )))
}
