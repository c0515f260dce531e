//! Clients: who they are (authentication) and what each may do
//! (authorization).
//!
//! Each client holds a [`Credential`]: a name and a secret. The cluster's
//! [`AccessPolicy`] keeps, per name, a keyed BLAKE3 hash of the secret (never
//! the secret) and the grants: which [`Access`] on which key prefixes.
//! [`Cluster::client_as`](crate::Cluster::client_as) checks the secret in
//! constant time and opens a *session*: the client's id is bound to its
//! principal. From then on the node that receives a request looks the
//! client up and checks the grant **before the protocol sees the request**
//! (in the sans-I/O node core, so on threads and on the simulator alike):
//!
//! - a client with no session (made with plain [`crate::Cluster::client`]) is
//!   answered [`Error::Unauthenticated`];
//! - an operation its grants do not cover is answered
//!   [`Error::PermissionDenied`].
//!
//! Both are certain — no replica was asked — so the client records the
//! operation in the history as refused: returned, not `ok` (see
//! [`crate::history::Operation`]), which the checker and the lost-write count
//! treat as never applied.
//!
//! What this does not do: the client ↔ node link itself is not
//! authenticated per message, so an attacker on the network who forges a
//! request with an authorised client's id is believed. Real systems bind the
//! session to the connection (mutual TLS, or a token checked per request).

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
    /// `put`, `delete` and `compare_and_set`.
    Write,
    /// Both.
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
    /// The client's grants do not cover the operation.
    PermissionDenied(String),
}

/// The policy and the sessions, shared by the cluster and its nodes.
#[derive(Debug)]
pub(crate) struct AccessControl {
    policy: AccessPolicy,
    sessions: RwLock<HashMap<ClientId, usize>>,
}

impl AccessControl {
    pub(crate) fn new(policy: AccessPolicy) -> Self {
        AccessControl {
            policy,
            sessions: RwLock::new(HashMap::new()),
        }
    }

    /// Checks `credential`; on success the client `id` speaks for it.
    pub(crate) fn open_session(&self, id: ClientId, credential: &Credential) -> Result<()> {
        let principal = self.policy.authenticate(credential)?;
        self.sessions.write().insert(id, principal);
        Ok(())
    }

    /// Whether client `id` may have `access` to `key`.
    pub(crate) fn check(
        &self,
        id: ClientId,
        access: Access,
        key: &[u8],
    ) -> std::result::Result<(), Denial> {
        let Some(&principal) = self.sessions.read().get(&id) else {
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
            _ => "write",
        };
        Err(Denial::PermissionDenied(format!(
            "client {name:?} may not {what} {:?}",
            String::from_utf8_lossy(key)
        )))
    }
}
