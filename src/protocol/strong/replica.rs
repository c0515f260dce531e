//! The replica's side: answer queries from storage, apply stores that are
//! newer. Stateless apart from storage, so duplicates and retransmissions
//! are harmless (a duplicate store is "not newer" and is acknowledged again).

use super::messages::{OpId, StrongMessage};
use crate::error::Result;
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
    let record = ctx.store().get_record(key)?;
    ctx.send(from, StrongMessage::QueryReply { op, record });
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
    ctx.store().put_if_newer(key, record)?;
    ctx.send(from, StrongMessage::StoreAck { op });
    Ok(())
}
