//! The sled engine: one sled database per node, temporary or under a directory.

use super::Storage;
use crate::error::{Error, Result};
use std::path::Path;

/// sled's page cache is a soft limit; its 1 GB default is far too much when
/// one process opens a database per node, so each node gets 16 MiB.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// [`Storage`] on a sled database.
#[derive(Debug, Clone)]
pub struct SledStorage {
    db: sled::Db,
}

impl SledStorage {
    /// A database that lives in memory-backed temporary files and is removed
    /// when dropped.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(CACHE_BYTES)
            .open()?;
        Ok(SledStorage { db })
    }

    /// Opens (or creates) the database in `dir`. A directory that cannot be
    /// created, or that another open database holds, is an
    /// [`Error::StorageDirectory`].
    pub fn open(dir: &Path) -> Result<Self> {
        let fail = |reason: String| Error::StorageDirectory {
            path: dir.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create: {e}")))?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| match e {
                // sled takes an exclusive file lock on open; a second open of
                // the same directory (in this process or another) fails to get it.
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    fail(format!("already in use by another open cluster ({io})"))
                }
                sled::Error::Io(io) => fail(format!("cannot open: {io}")),
                other => fail(format!("cannot open: {other}")),
            })?;
        Ok(SledStorage { db })
    }
}

impl Storage for SledStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.insert(key, value)?;
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<()> {
        self.db.remove(key)?;
        Ok(())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.db
            .scan_prefix(prefix)
            .map(|entry| {
                let (k, v) = entry?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// One insert or removal after another, not a `sled::Batch`. sled
    /// 0.34's `Db::apply_batch` takes a *process-wide* write lock (its
    /// concurrency control is a global), and from the first batch on every
    /// sled operation in the process takes that lock's read side. A cluster
    /// keeps one database per node in one process, so each node's batch
    /// stopped the other nodes' storage: on the 2-core machine of
    /// `benches/pipeline.rs`, a lone eventual put took 120 µs with
    /// `sled::Batch` commits against 20 µs without batching. The batch's
    /// atomicity is not needed here: nothing written in a batch is
    /// acknowledged before the whole batch is applied and (under
    /// `FlushBeforeAck`) flushed, so a crash half-way through loses only
    /// writes that nobody was told about.
    fn apply_batch(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        for (key, value) in writes {
            match value {
                Some(value) => self.db.insert(key.as_slice(), value.as_slice())?,
                None => self.db.remove(key.as_slice())?,
            };
        }
        Ok(())
    }
}
