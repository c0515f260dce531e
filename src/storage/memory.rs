//! An in-memory engine: a `BTreeMap` behind a lock. Fast, and handy in unit
//! tests; it keeps its data across a simulated node crash (the engine outlives
//! the node thread) but not across processes.

use super::Storage;
use crate::error::Result;
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// In-memory [`Storage`].
#[derive(Debug, Default)]
pub struct MemoryStorage {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Storage for MemoryStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.lock().get(key).cloned())
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.map.lock().insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<()> {
        self.map.lock().remove(key);
        Ok(())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .map
            .lock()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Under one lock.
    fn apply_batch(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        let mut map = self.map.lock();
        for (key, value) in writes {
            match value {
                Some(value) => map.insert(key.clone(), value.clone()),
                None => map.remove(key),
            };
        }
        Ok(())
    }
}
