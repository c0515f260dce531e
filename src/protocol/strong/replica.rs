//! The replica's side: answer queries from storage, apply stores that are
//! newer. Stateless apart from storage, so duplicates and retransmissions
//! are harmless (a duplicate store is "not newer" and is acknowledged again).

use super::messages::{OpId, StrongMessage};
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::protocol::Context;
use crate::storage::Record;

/// Phase 1: report what this replica holds for `key`.
pub(super) fn on_query(
    ctx: &mut Context<StrongMessage>,
    from: NodeId,
    op: OpId,
    key: &[u8],
) -> Result<()> {
    match ctx.store().get_record(key) {
        Ok(record) => ctx.send(from, StrongMessage::QueryReply { op, record }),
        Err(Error::Corrupt { reason, .. }) => ctx.send(from, StrongMessage::Corrupt { op, reason }),
        Err(other) => return Err(other),
    }
    Ok(())
}

/// Phase 2: keep `record` if it is newer, *then* acknowledge. Storing before
/// acknowledging is what lets a restarted replica never go back in time: an
/// acknowledged record is in storage, which survives the crash. A storage
/// error means no acknowledgement (the coordinator retransmits or gives up).
pub(super) fn on_store(
    ctx: &mut Context<StrongMessage>,
    from: NodeId,
    op: OpId,
    key: &[u8],
    record: &Record,
) -> Result<()> {
    match ctx.store().put_if_newer(key, record) {
        Ok(_) => {}
        // A store carries a version a healthy majority agreed on; it
        // replaces an unreadable record (repair).
        Err(Error::Corrupt { .. }) => ctx.store().put_record(key, record)?,
        Err(other) => return Err(other),
    }
    ctx.send(from, StrongMessage::StoreAck { op });
    Ok(())
}
