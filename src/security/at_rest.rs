//! Data at rest: every stored value sealed with an AEAD under the cluster's
//! [`DataKey`], so the database files on disk hold no plaintext value, and a
//! record altered on disk reads as [`Error::Corrupt`] naming its node and key
//! instead of as a different value.
//!
//! The cipher is XChaCha20-Poly1305 from RustCrypto's `chacha20poly1305`
//! crate: ChaCha20-Poly1305 (RFC 8439) with a 24-byte nonce. The longer
//! nonce is there because the nonces here are drawn at random (from the
//! operating system, per write): with ChaCha20-Poly1305's 12 bytes, random
//! nonces under one key are safe for about 2^32 writes; with 24 bytes, far
//! beyond any cluster's life. A stored entry is
//!
//! ```text
//! nonce (24 bytes) | ciphertext of the engine's bytes | Poly1305 tag (16 bytes)
//! ```
//!
//! The associated data is a domain label and the *engine key* (the record's
//! key, or the metadata name): a valid entry moved under another key fails to
//! open, so an attacker with the files cannot swap two users' values either.
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
use std::fmt;
use std::sync::Arc;

/// Bytes of the nonce at the start of a sealed entry.
pub const NONCE_LEN: usize = 24;
/// Bytes of the Poly1305 tag at the end of a sealed entry.
pub const AEAD_TAG_LEN: usize = 16;

const DOMAIN: &[u8] = b"replikv at rest v1";

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
/// not open reads as [`Error::Corrupt`] naming the node and the key.
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
}

impl<S: ?Sized> fmt::Debug for Encrypted<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypted")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl<S: Storage + ?Sized> Encrypted<S> {
    /// Seals every value `node` stores in `inner` under `key`.
    pub fn new(inner: Arc<S>, key: DataKey, node: NodeId) -> Self {
        Encrypted { inner, key, node }
    }

    fn open(&self, engine_key: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        self.key
            .open(engine_key, sealed)
            .map_err(|reason| Error::Corrupt {
                node: self.node,
                // The engine key is a one-byte kind prefix and the user key.
                key: String::from_utf8_lossy(engine_key.get(1..).unwrap_or_default()).into_owned(),
                reason,
            })
    }
}

impl<S: Storage + ?Sized> Storage for Encrypted<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.inner.get(key)? {
            Some(sealed) => self.open(key, &sealed).map(Some),
            None => Ok(None),
        }
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let sealed = self.key.seal(key, value)?;
        self.inner.insert(key, &sealed)
    }

    fn remove(&self, key: &[u8]) -> Result<()> {
        self.inner.remove(key)
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
        self.inner.flush()
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
