//! Clients: who they are (authentication) and what each may do
//! (authorization).
//!
//! Each client holds a [`Credential`]: a name and a secret. The cluster's
//! [`AccessPolicy`] keeps, per name, a *verifier* — a BLAKE3 hash of the
//! secret, salted with the name (the hash's key is derived from the name,
//! which is public, so this is a salted hash, not a MAC under a secret
//! key) — never the secret, and the grants: which [`Access`] on which key
//! prefixes. [`Cluster::client_as`](crate::Cluster::client_as) checks the
//! secret against the verifier in constant time and opens a *session*: the
//! client's id is bound to its principal, and client and nodes share a
//! session key derived from the verifier and the client id. The client puts
//! a tag under that key on every request (keyed BLAKE3 over its id, the
//! request number and the request: [`Payload::Authenticated`](crate::network::Payload::Authenticated)).
//! The node that receives a request checks, **before the protocol sees it**
//! (in the sans-I/O node core, so on threads and on the simulator alike):
//!
//! - a request that claims the id of a client with a session but whose tag
//!   is missing or does not verify — a client id rewritten on the network,
//!   a request altered — is dropped unanswered and counted as
//!   `forged_requests` in [`NodeLoad`](crate::metrics::NodeLoad) (an answer
//!   would go to the client whose id was stolen; the real sender, if any,
//!   times out, which is the truth: nothing was done). The check comes
//!   before the duplicate-request rule, so a forgery cannot use up a real
//!   request's number either;
//! - a client with no session (made with plain [`crate::Cluster::client`]) is
//!   answered [`Error::Unauthenticated`];
//! - an operation its grants do not cover is answered
//!   [`Error::PermissionDenied`]. A compare-and-set needs
//!   [`Access::ReadWrite`]: its answer says whether the value was the
//!   expected one, which reveals the value.
//!
//! Both are certain — no replica was asked — so the client records the
//! operation in the history as refused: returned, not `ok` (see
//! [`crate::history::Operation`]), which the checker and the lost-write count
//! treat as never applied.
//!
//! What this does not do:
//!
//! - the verifier is a fast hash: whoever reads the policy can guess weak
//!   secrets offline (real systems store a slow password hash such as
//!   Argon2), and since the session key derives from the verifier, the
//!   policy must be kept as secret as the secrets themselves;
//! - requests are authenticated, answers are not, and nothing is encrypted:
//!   an attacker on the network reads every value and can forge an answer.
//!   A request tag is not tied to a time either: the duplicate-request rule
//!   refuses a replay only within its memory. Real systems run client
//!   traffic over mutually authenticated TLS.

use crate::error::{Error, Result};
use crate::ids::ClientId;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fmt;

/// The shortest secret a [`Credential`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// What a grant allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `get`.
    Read,
    /// `put` and `delete`.
    Write,
    /// Both; `compare_and_set` needs it (its answer reveals whether the
    /// value was the expected one).
    ReadWrite,
}

impl Access {
    fn covers(self, needed: Access) -> bool {
        self == Access::ReadWrite || self == needed
    }
}

/// A client's name and secret. `Debug` shows the name only.
///
/// ```
/// use replikv::security::Credential;
/// let alice = Credential::new("alice", "correct horse battery staple")?;
/// assert_eq!(format!("{alice:?}"), "Credential { name: \"alice\", .. }");
/// assert!(Credential::new("bob", "short").is_err());
/// assert!(Credential::new("", "long enough secret!").is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    name: String,
    secret: Vec<u8>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A credential; the name must not be empty and the secret must be at
    /// least [`MIN_SECRET_LEN`] bytes.
    pub fn new(name: impl Into<String>, secret: impl AsRef<[u8]>) -> Result<Self> {
        let name = name.into();
        let secret = secret.as_ref().to_vec();
        if name.is_empty() {
            return Err(Error::InvalidConfig(
                "a credential needs a client name".into(),
            ));
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(Error::InvalidConfig(format!(
                "the secret of {name:?} is too short: {} bytes, at least {MIN_SECRET_LEN}",
                secret.len()
            )));
        }
        Ok(Credential { name, secret })
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the policy keeps instead of the secret.
    fn verifier(&self) -> blake3::Hash {
        let key = blake3::derive_key("replikv client credential v1", self.name.as_bytes());
        blake3::keyed_hash(&key, &self.secret)
    }
}

/// The session key client `id` and the nodes share, from the verifier.
fn session_key(verifier: &blake3::Hash, id: ClientId) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(verifier.as_bytes());
    hasher.update(b"replikv client session v1");
    hasher.update(&id.0.to_le_bytes());
    *hasher.finalize().as_bytes()
}

/// The tag a client with session key `key` puts on `payload` (a request or
/// compare-and-set with its number filled in); `None` for anything else.
pub(crate) fn request_tag(
    key: &[u8; 32],
    id: ClientId,
    payload: &crate::network::Payload,
) -> Option<blake3::Hash> {
    use crate::network::Payload;
    let body = match payload {
        Payload::Request { id, request } => crate::codec::encode(&(0u8, id, request)).ok()?,
        Payload::Cas { id, cas } => crate::codec::encode(&(1u8, id, cas)).ok()?,
        _ => return None,
    };
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(b"replikv client request v1");
    hasher.update(&id.0.to_le_bytes());
    hasher.update(&body);
    Some(hasher.finalize())
}

#[derive(Clone, Debug)]
struct Principal {
    name: String,
    verifier: blake3::Hash,
    grants: Vec<(Access, Vec<u8>)>,
}

/// Who may use the cluster, and for what: per client name, a secret's
/// verifier and a list of grants (an [`Access`] on every key that starts
/// with a prefix; the empty prefix is every key). Anything not granted is
/// refused. Install with
/// [`ClusterBuilder::access_control`](crate::ClusterBuilder::access_control).
///
/// ```
/// use replikv::security::{Access, AccessPolicy, Credential};
/// let admin = Credential::new("admin", "a long admin secret")?;
/// let reader = Credential::new("reader", "a long reader secret")?;
/// let policy = AccessPolicy::new()
///     .grant(&admin, Access::ReadWrite, "")?
///     .grant(&reader, Access::Read, "public/")?;
/// assert!(policy.allows("reader", Access::Read, b"public/motd"));
/// assert!(!policy.allows("reader", Access::Write, b"public/motd"));
/// assert!(!policy.allows("reader", Access::Read, b"private/x"));
/// assert!(policy.allows("admin", Access::Write, b"anything"));
/// // The same name twice with another secret is a mistake, not a second user.
/// let imposter = Credential::new("admin", "another long secret")?;
/// assert!(policy.grant(&imposter, Access::Read, "").is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    principals: Vec<Principal>,
}

impl AccessPolicy {
    /// A policy that allows nobody anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants `access` on keys starting with `prefix` to the holder of
    /// `credential` (registering it on first use). A name already registered
    /// with another secret is refused.
    pub fn grant(
        mut self,
        credential: &Credential,
        access: Access,
        prefix: impl AsRef<[u8]>,
    ) -> Result<Self> {
        let verifier = credential.verifier();
        let grant = (access, prefix.as_ref().to_vec());
        match self
            .principals
            .iter_mut()
            .find(|p| p.name == credential.name)
        {
            Some(p) if p.verifier != verifier => {
                return Err(Error::InvalidConfig(format!(
                    "client {:?} is already registered with another secret",
                    credential.name
                )));
            }
            Some(p) => p.grants.push(grant),
            None => self.principals.push(Principal {
                name: credential.name.clone(),
                verifier,
                grants: vec![grant],
            }),
        }
        Ok(self)
    }

    /// The principal's index when `credential` is one of the policy's, with
    /// the right secret (compared in constant time); otherwise
    /// [`Error::Unauthenticated`], which does not say which part was wrong.
    pub(crate) fn authenticate(&self, credential: &Credential) -> Result<usize> {
        let verifier = credential.verifier();
        self.principals
            .iter()
            .position(|p| p.name == credential.name && p.verifier == verifier)
            .ok_or_else(|| {
                Error::Unauthenticated(format!(
                    "unknown client {:?} or wrong secret",
                    credential.name
                ))
            })
    }

    /// Whether the client named `name` may have `access` to `key`.
    pub fn allows(&self, name: &str, access: Access, key: &[u8]) -> bool {
        self.principals
            .iter()
            .position(|p| p.name == name)
            .is_some_and(|i| self.allows_principal(i, access, key))
    }

    fn allows_principal(&self, principal: usize, access: Access, key: &[u8]) -> bool {
        self.principals.get(principal).is_some_and(|p| {
            p.grants
                .iter()
                .any(|(granted, prefix)| granted.covers(access) && key.starts_with(prefix))
        })
    }
}

/// Why a node refused a client's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Denial {
    /// The client has no session.
    Unauthenticated(String),
    /// The request claims a client with a session, but its tag is missing
    /// or does not verify: dropped, not answered.
    Forged,
    /// The client's grants do not cover the operation.
    PermissionDenied(String),
}

/// The policy and the sessions, shared by the cluster and its nodes.
#[derive(Debug)]
pub(crate) struct AccessControl {
    policy: AccessPolicy,
    /// Per client id: its principal and its session key.
    sessions: RwLock<HashMap<ClientId, (usize, [u8; 32])>>,
}

impl AccessControl {
    pub(crate) fn new(policy: AccessPolicy) -> Self {
        AccessControl {
            policy,
            sessions: RwLock::new(HashMap::new()),
        }
    }

    /// Checks `credential`; on success the client `id` speaks for it, and
    /// signs its requests with the session key returned.
    pub(crate) fn open_session(&self, id: ClientId, credential: &Credential) -> Result<[u8; 32]> {
        let principal = self.policy.authenticate(credential)?;
        let key = session_key(&credential.verifier(), id);
        self.sessions.write().insert(id, (principal, key));
        Ok(key)
    }

    /// Whether `payload`, claiming to come from client `id` with `tag`, is
    /// really from it: [`Denial::Forged`] when `id` has a session and the
    /// tag is missing or wrong, [`Denial::Unauthenticated`] when `id` has
    /// none.
    pub(crate) fn authenticate(
        &self,
        id: ClientId,
        payload: &crate::network::Payload,
        tag: Option<&[u8; 32]>,
    ) -> std::result::Result<(), Denial> {
        let Some(&(_, key)) = self.sessions.read().get(&id) else {
            return Err(Denial::Unauthenticated(format!(
                "client {id} presented no credential"
            )));
        };
        match (tag, request_tag(&key, id, payload)) {
            // `blake3::Hash` compares in constant time.
            (Some(tag), Some(expected)) if expected == blake3::Hash::from_bytes(*tag) => Ok(()),
            _ => Err(Denial::Forged),
        }
    }

    /// Whether client `id` may have `access` to `key`.
    pub(crate) fn check(
        &self,
        id: ClientId,
        access: Access,
        key: &[u8],
    ) -> std::result::Result<(), Denial> {
        let Some(&(principal, _)) = self.sessions.read().get(&id) else {
            return Err(Denial::Unauthenticated(format!(
                "client {id} presented no credential"
            )));
        };
        if self.policy.allows_principal(principal, access, key) {
            return Ok(());
        }
        let name = self
            .policy
            .principals
            .get(principal)
            .map_or("?", |p| p.name.as_str());
        let what = match access {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "compare-and-set (read and write)",
        };
        Err(Denial::PermissionDenied(format!(
            "client {name:?} may not {what} {:?}",
            String::from_utf8_lossy(key)
        )))
    }
}
