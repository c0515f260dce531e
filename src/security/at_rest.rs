//! Data at rest: every stored value sealed with an AEAD under the cluster's
//! [`DataKey`], so the database files on disk hold no plaintext value, and
//! damage to the files is reported as [`Error::Corrupt`] instead of read as
//! a different value or silently lost (what exactly holds is below).
//!
//! The cipher is XChaCha20-Poly1305 from RustCrypto's `chacha20poly1305`
//! crate: ChaCha20-Poly1305 (RFC 8439) with a 24-byte nonce. The longer
//! nonce is there because the nonces here are drawn at random (from the
//! operating system, per write): with ChaCha20-Poly1305's 12 bytes, random
//! nonces under one key are safe for about 2^32 writes; with 24 bytes, far
//! beyond any cluster's life. A stored entry is
//!
//! ```text
//! nonce (24 bytes) | ciphertext of (write number (u64 LE) | the engine's bytes) | Poly1305 tag (16 bytes)
//! ```
//!
//! The write number counts the node's writes (inserts and removals) through
//! [`Encrypted`]; it is what the high-water mark below is checked against.
//!
//! The associated data is a domain label and the *engine key* (the record's
//! key, or the metadata name): a valid entry moved under another key fails to
//! open, so an attacker with the files cannot swap two users' values either.
//!
//! # What is detected, and where
//!
//! Two layers see damage to the files, and each catches a different part:
//!
//! - **An entry whose bytes reach replikv altered** — changed in place with
//!   the engine's own checksum recomputed, or written through the engine by
//!   anything without the data key, or moved under another key — fails the
//!   AEAD and reads as [`Error::Corrupt`] naming the node and the key. The
//!   AEAD catches every such alteration (short of forging a Poly1305 tag,
//!   which has negligible probability).
//! - **Damage the engine detects itself** never reaches replikv as bytes.
//!   sled checksums its log and, when it opens, cuts the log at the first
//!   damaged entry: that entry and *everything written after it* vanish,
//!   with no error. So [`Encrypted::with_high_water`] (what the cluster uses
//!   on [`StorageKind::Directory`](crate::StorageKind::Directory)) keeps the
//!   number of the last flushed write in a small sealed file beside the
//!   node's directory (`node-<id>.high-water`), written after each
//!   successful flush. On opening, if the newest write left in the engine is
//!   older than that mark, durable writes vanished, and the node does not
//!   start: [`Error::Corrupt`] naming the node, key `"(store)"`. A crash
//!   cannot raise a false alarm: the mark only ever names writes already
//!   flushed. `tests/security_at_rest.rs` flips single bits at seeded
//!   places in a real sled file and checks that each trial either reopens
//!   with every record intact or fails with `Corrupt` naming the node.
//!
//! What this check does **not** give:
//!
//! - it sees that the *newest* writes vanished. A loss that spares the
//!   newest write (an engine dropping a page in the middle of its history
//!   while keeping later ones) is not seen at open; sled cuts a damaged log
//!   from the damage on, which always takes the newest write with it;
//! - **rollback**: an attacker who can write the files can put back an
//!   *older* sealed entry for the same key (its tag is valid, and it is
//!   bound to the right key), or roll back the whole directory together with
//!   its mark, or delete the mark (a store never flushed has none). The AEAD
//!   proves who wrote an entry, not that it is the latest one. Detecting
//!   rollback needs state the attacker cannot roll back: a trusted monotonic
//!   counter (a TPM, a remote replica), which replikv does not have. In a
//!   replicated cluster the other replicas' newer versions still win reads
//!   and anti-entropy, but a single-copy store would serve the old value;
//! - only [`StorageKind::Directory`](crate::StorageKind::Directory) keeps a
//!   mark: temporary and in-memory engines are not reopened, and a
//!   [`StorageKind::Custom`](crate::StorageKind::Custom) engine has no
//!   directory (wrap it in [`Encrypted::with_high_water`] yourself).
//!
//! [`Encrypted`] wraps any [`Storage`] engine; the cluster puts it around
//! each node's engine when built with
//! [`ClusterBuilder::encrypt_at_rest`](crate::ClusterBuilder::encrypt_at_rest).
//! Keys (the engine's keys, the user keys inside them) stay in the clear:
//! the engine has to order and scan them. Protocol metadata (hints, clocks)
//! is sealed like records, since a hint carries a value.

use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::storage::Storage;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use parking_lot::Mutex;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bytes of the nonce at the start of a sealed entry.
pub const NONCE_LEN: usize = 24;
/// Bytes of the Poly1305 tag at the end of a sealed entry.
pub const AEAD_TAG_LEN: usize = 16;

const DOMAIN: &[u8] = b"replikv at rest v2";

/// The cluster's key for data at rest: 32 secret bytes. `Debug` never shows
/// them.
///
/// ```
/// use replikv::security::DataKey;
/// let key = DataKey::from_hex(&"7c".repeat(32))?;
/// assert_eq!(format!("{key:?}"), "DataKey(..)");
/// let sealed = key.seal(b"r/colour", b"blue")?;
/// assert_eq!(key.open(b"r/colour", &sealed).as_deref(), Ok(&b"blue"[..]));
/// assert!(key.open(b"r/other", &sealed).is_err(), "bound to its key");
/// assert!(DataKey::from_hex("7c7c").is_err(), "too short");
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone)]
pub struct DataKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A key from 32 bytes; an all-zero key is refused (an unset key).
    pub fn new(bytes: [u8; 32]) -> Result<Self> {
        if bytes == [0; 32] {
            return Err(Error::InvalidConfig(
                "the data key is all zero: that is an unset key, not a secret".into(),
            ));
        }
        Ok(DataKey {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        })
    }

    /// A key from a byte slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Self::new(super::link::key_bytes("data key", bytes)?)
    }

    /// A key from 64 hexadecimal digits.
    pub fn from_hex(hex: &str) -> Result<Self> {
        Self::new(super::link::key_hex("data key", hex)?)
    }

    /// A key derived from a seed, for experiments and tests only.
    ///
    /// ```
    /// use replikv::security::DataKey;
    /// let sealed = DataKey::for_experiment(1).seal(b"k", b"v")?;
    /// assert!(DataKey::for_experiment(2).open(b"k", &sealed).is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn for_experiment(seed: u64) -> Self {
        let derived = blake3::derive_key("replikv experiment data key v1", &seed.to_le_bytes());
        DataKey {
            cipher: XChaCha20Poly1305::new(&derived.into()),
        }
    }

    /// Encrypts `plaintext`, bound to `label` (the engine key it is stored
    /// under), with a fresh random nonce.
    pub fn seal(&self, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let nonce = XNonce::try_generate()
            .map_err(|e| Error::Encode(format!("no randomness for a nonce: {e}")))?;
        let aad = [DOMAIN, label].concat();
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Encode("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts an entry sealed under `label`; the error says why it does
    /// not open (too short, or altered, or under another key or label).
    pub fn open(&self, label: &[u8], sealed: &[u8]) -> std::result::Result<Vec<u8>, String> {
        if sealed.len() < NONCE_LEN + AEAD_TAG_LEN {
            return Err(format!(
                "{} bytes is too short for an encrypted entry (at least {})",
                sealed.len(),
                NONCE_LEN + AEAD_TAG_LEN
            ));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| "bad nonce length".to_string())?;
        let aad = [DOMAIN, label].concat();
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                "the authentication tag does not match: altered on disk, or written under \
                 another data key"
                    .to_string()
            })
    }
}

/// A [`Storage`] engine whose values are sealed under a [`DataKey`]: what
/// reaches the inner engine (and its files) is ciphertext. A value that does
/// not open reads as [`Error::Corrupt`] naming the node and the key; records
/// that vanish are caught only with [`Encrypted::with_high_water`] (see the
/// module docs for exactly what is detected).
///
/// ```
/// use replikv::security::{DataKey, Encrypted};
/// use replikv::storage::{MemoryStorage, Storage};
/// use replikv::{Error, NodeId};
/// use std::sync::Arc;
///
/// let raw = Arc::new(MemoryStorage::new());
/// let engine = Encrypted::new(raw.clone(), DataKey::for_experiment(1), NodeId(2));
/// engine.insert(b"rcolour", b"blue")?;
/// assert_eq!(engine.get(b"rcolour")?, Some(b"blue".to_vec()));
/// let stored = raw.get(b"rcolour")?.unwrap();
/// assert!(!stored.windows(4).any(|w| w == b"blue"), "no plaintext below");
/// let mut altered = stored.clone();
/// altered[30] ^= 1;
/// raw.insert(b"rcolour", &altered)?;
/// assert!(matches!(engine.get(b"rcolour"),
///     Err(Error::Corrupt { node: NodeId(2), key, .. }) if key == "colour"));
/// # Ok::<(), replikv::Error>(())
/// ```
pub struct Encrypted<S: ?Sized> {
    inner: Arc<S>,
    key: DataKey,
    node: NodeId,
    /// The number of the last write (insert or removal) made through this
    /// engine; held while a write reaches the inner engine, so a flush that
    /// reads it knows every write up to it is in the engine.
    written: Mutex<u64>,
    /// Where the number of the last flushed write is kept, outside the
    /// engine's files (see "Records that vanish"), and the last one kept.
    high_water: Option<(PathBuf, Mutex<u64>)>,
}

impl<S: ?Sized> fmt::Debug for Encrypted<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypted")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl<S: Storage + ?Sized> Encrypted<S> {
    /// Seals every value `node` stores in `inner` under `key`. No record
    /// of flushed writes is kept: see [`Encrypted::with_high_water`].
    pub fn new(inner: Arc<S>, key: DataKey, node: NodeId) -> Self {
        Encrypted {
            inner,
            key,
            node,
            written: Mutex::new(0),
            high_water: None,
        }
    }

    /// Like [`Encrypted::new`], and keeps the number of the last flushed
    /// write in the file `high_water` (sealed under `key`), outside the
    /// engine's own files. Opening checks the engine against it: when the
    /// newest write found in `inner` is older than the last one flushed
    /// before it closed, writes that were durable have vanished — what sled
    /// does with a damaged log, which it cuts at the damage when it opens —
    /// and the result is [`Error::Corrupt`] naming the node (key
    /// `"(store)"`), not a store silently missing records. A `high_water`
    /// file that does not open is `Error::Corrupt` too (key
    /// `"(high-water mark)"`); a missing or empty one is a store never
    /// flushed.
    ///
    /// ```
    /// use replikv::security::{DataKey, Encrypted};
    /// use replikv::storage::{MemoryStorage, Storage};
    /// use replikv::{Error, NodeId};
    /// use std::sync::Arc;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let mark = dir.path().join("node-0.high-water");
    /// let key = DataKey::for_experiment(1);
    /// let raw = Arc::new(MemoryStorage::new());
    /// let engine = Encrypted::with_high_water(raw.clone(), key.clone(), NodeId(0), &mark)?;
    /// engine.insert(b"ra", b"1")?;
    /// engine.insert(b"rb", b"2")?;
    /// engine.flush()?;
    /// drop(engine);
    /// // The engine loses its newest record behind replikv's back.
    /// raw.remove(b"rb")?;
    /// let reopened = Encrypted::with_high_water(raw, key, NodeId(0), &mark);
    /// assert!(matches!(reopened, Err(Error::Corrupt { node: NodeId(0), .. })));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn with_high_water(
        inner: Arc<S>,
        key: DataKey,
        node: NodeId,
        high_water: &Path,
    ) -> Result<Self> {
        let corrupt = |what: &str, reason: String| Error::Corrupt {
            node,
            key: what.into(),
            reason,
        };
        let flushed = match std::fs::read(high_water) {
            Ok(bytes) if bytes.is_empty() => 0,
            Ok(bytes) => {
                let plain = key.open(HIGH_WATER_LABEL, &bytes).map_err(|reason| {
                    corrupt(
                        "(high-water mark)",
                        format!("{}: {reason}", high_water.display()),
                    )
                })?;
                let word: [u8; 8] = plain.as_slice().try_into().map_err(|_| {
                    corrupt("(high-water mark)", format!("{} bytes, not 8", plain.len()))
                })?;
                u64::from_le_bytes(word)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(Error::Io(e)),
        };
        let newest = inner
            .scan_prefix(b"")?
            .into_iter()
            .filter_map(|(label, sealed)| write_number(&key.open(&label, &sealed).ok()?))
            .max()
            .unwrap_or(0);
        if newest < flushed {
            return Err(corrupt(
                "(store)",
                format!(
                    "writes up to #{flushed} were flushed, but the newest record left is \
                     #{newest}: records vanished from the engine's files (sled cuts a \
                     damaged log at the damage when it opens)"
                ),
            ));
        }
        Ok(Encrypted {
            inner,
            key,
            node,
            written: Mutex::new(newest),
            high_water: Some((high_water.to_path_buf(), Mutex::new(flushed))),
        })
    }

    fn open(&self, engine_key: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let corrupt = |reason| Error::Corrupt {
            node: self.node,
            // The engine key is a one-byte kind prefix and the user key.
            key: String::from_utf8_lossy(engine_key.get(1..).unwrap_or_default()).into_owned(),
            reason,
        };
        let mut plain = self.key.open(engine_key, sealed).map_err(corrupt)?;
        if plain.len() < 8 {
            return Err(corrupt("no write number in the sealed entry".into()));
        }
        Ok(plain.split_off(8))
    }

    /// Writes the high-water mark `flushed` (a new file moved into place,
    /// so a crash leaves the old mark or the new one).
    fn keep_high_water(&self, path: &Path, flushed: u64) -> Result<()> {
        let sealed = self.key.seal(HIGH_WATER_LABEL, &flushed.to_le_bytes())?;
        let fresh = path.with_extension("new");
        std::fs::write(&fresh, sealed)?;
        std::fs::rename(&fresh, path)?;
        Ok(())
    }
}

/// The label the high-water mark is sealed under.
const HIGH_WATER_LABEL: &[u8] = b"\0replikv high-water mark";
/// Where a removal leaves its write number (a removal leaves no record).
const LAST_REMOVAL: &[u8] = b"\xffreplikv last removal";

/// The write number at the start of an opened entry.
fn write_number(plain: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(plain.get(..8)?.try_into().ok()?))
}

impl<S: Storage + ?Sized> Storage for Encrypted<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.inner.get(key)? {
            Some(sealed) => self.open(key, &sealed).map(Some),
            None => Ok(None),
        }
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut written = self.written.lock();
        let number = *written + 1;
        let sealed = self
            .key
            .seal(key, &[&number.to_le_bytes()[..], value].concat())?;
        self.inner.insert(key, &sealed)?;
        *written = number;
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<()> {
        let mut written = self.written.lock();
        let number = *written + 1;
        self.inner.remove(key)?;
        if self.high_water.is_some() {
            let sealed = self.key.seal(LAST_REMOVAL, &number.to_le_bytes())?;
            self.inner.insert(LAST_REMOVAL, &sealed)?;
        }
        *written = number;
        Ok(())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner
            .scan_prefix(prefix)?
            .into_iter()
            .map(|(key, sealed)| {
                let value = self.open(&key, &sealed)?;
                Ok((key, value))
            })
            .collect()
    }

    fn flush(&self) -> Result<()> {
        // Every write numbered up to `written` is in the engine now.
        let written = *self.written.lock();
        self.inner.flush()?;
        if let Some((path, kept)) = &self.high_water {
            let mut kept = kept.lock();
            if written > *kept {
                self.keep_high_water(path, written)?;
                *kept = written;
            }
        }
        Ok(())
    }

    fn on_crash(&self) {
        self.inner.on_crash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flipped_bit_and_every_truncation_fails_to_open() {
        let key = DataKey::for_experiment(5);
        let sealed = key.seal(b"rk", b"value").unwrap();
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(key.open(b"rk", &bad).is_err(), "bit {i}");
        }
        for len in 0..sealed.len() {
            assert!(key.open(b"rk", &sealed[..len]).is_err(), "{len} bytes");
        }
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let key = DataKey::for_experiment(5);
        assert_ne!(
            key.seal(b"rk", b"v").unwrap(),
            key.seal(b"rk", b"v").unwrap()
        );
    }

    #[test]
    fn key_errors_say_what_is_wrong() {
        let short = DataKey::from_slice(&[1; 31]).map(|_| ()).unwrap_err();
        assert!(
            short.to_string().contains("data key is 32 bytes; 31"),
            "{short}"
        );
        let missing = DataKey::from_hex("").map(|_| ()).unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
        let zero = DataKey::new([0; 32]).map(|_| ()).unwrap_err();
        assert!(zero.to_string().contains("all zero"), "{zero}");
    }
}
