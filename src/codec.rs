//! bincode encoding with size limits, for stored records and wire messages.
//!
//! Every decode goes through a configuration with a byte limit, so a corrupt
//! or hostile length prefix cannot make the decoder allocate gigabytes: it
//! fails with an error instead. bincode 2's `standard()` configuration uses
//! variable-length integers, which keeps small records small.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest encoded record or message the decoders accept (16 MiB). A
/// record holds at most one [`crate::MAX_VALUE_LEN`] value; messages may carry
/// batches (anti-entropy), hence the headroom.
pub const DECODE_LIMIT: usize = 16 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Encodes `value` with bincode.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| e.to_string())
}

/// Decodes a `T` from `bytes`, rejecting trailing bytes and anything over
/// [`DECODE_LIMIT`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > DECODE_LIMIT {
        return Err(format!(
            "{} bytes is over the decode limit of {DECODE_LIMIT}",
            bytes.len()
        ));
    }
    let (value, read) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    if read != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - read));
    }
    Ok(value)
}
