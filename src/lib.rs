//! replikv: an embedded, replicated key-value store that runs a whole cluster
//! inside one process.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
mod error;
pub mod history;
mod ids;
pub mod partition;
pub mod storage;

pub use error::{Error, Result};
pub use ids::{ClientId, Endpoint, NodeId};

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// The longest value accepted, in bytes (1 MiB).
pub const MAX_VALUE_LEN: usize = 1024 * 1024;
