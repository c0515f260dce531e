//! Security you can run: authenticated node links, and an attacker on the
//! network to test them against.
//!
//! # The threat
//!
//! Without this module every node trusts every message: whoever can put
//! bytes on the network between two nodes can make a replica store anything.
//! The lesson's fifth challenge ("securing communication and data") starts
//! here, with an attacker who sits on the network ([`crate::network::Adversary`];
//! the built-in one is [`Attacker`]) and can
//!
//! - **forge**: inject node messages it made itself — a `Store` of a value no
//!   client wrote, with a version far ahead of the one it copies, so that it
//!   wins every comparison with the writes of its time (the classic "write
//!   from the future" against last-writer-wins);
//! - **tamper**: alter messages in flight (flip bytes of a value, a key, a
//!   version);
//! - **replay**: send again messages it captured earlier.
//!
//! `tests/security.rs` measures what each attack does to a cluster with no
//! defence: the linearizability checker's verdict in strong mode, and in
//! eventual mode acknowledged writes lost and values read that no client
//! wrote.
//!
//! # The defences
//!
//! - authenticated node links (below);
//! - client credentials and permissions ([`AccessPolicy`], [`Credential`],
//!   [`Access`]): the node drops a request whose session tag does not
//!   verify, refuses a request from a client with no session
//!   ([`Error::Unauthenticated`](crate::Error::Unauthenticated)) or outside
//!   its grants ([`Error::PermissionDenied`](crate::Error::PermissionDenied))
//!   before its protocol sees it;
//! - data at rest sealed with XChaCha20-Poly1305 ([`DataKey`], [`Encrypted`],
//!   [`ClusterBuilder::encrypt_at_rest`](crate::ClusterBuilder::encrypt_at_rest)).
//!
//! The lab runs the attacker too ([`Experiment::attack`](crate::lab::Experiment::attack),
//! `replikv run --attack forge|tamper|replay [--authenticate-links]`), and
//! reports what it injected, what was refused and the values no client
//! wrote ([`SecurityReport`](crate::lab::SecurityReport)).
//!
//! ## Authenticated links
//!
//! [`ClusterBuilder::authenticate_links`](crate::ClusterBuilder::authenticate_links)
//! gives every node the cluster's [`LinkKey`]. The sans-I/O node core seals
//! each peer message it sends ([`seal`]): a header with the cluster epoch, the
//! sender's incarnation, a per-link sequence number and the send time, then a keyed
//! BLAKE3 tag over the link (sender and receiver ids), the header and the
//! message. The receiving core checks the tag in constant time ([`open`]),
//! then the replay rules ([`Replay`]), and only then decodes the message and
//! hands it to the protocol. Forged and altered messages are counted as
//! `unauthentic_messages`, replays as `replayed_messages` in
//! [`NodeLoad`](crate::metrics::NodeLoad); neither reaches the protocol. The
//! protocols and their messages are unchanged, and because the check lives in
//! the node core it is the same on threads and on the simulator.
//!
//! ## Sequence numbers and restarts
//!
//! A per-link counter alone does not survive restarts: a restarted sender
//! counts from 1 again, and a restarted receiver has forgotten what it saw.
//! The rules (see [`Replay`]):
//!
//! - the **cluster epoch** is in the authenticated header: a number drawn
//!   when the cluster is built (at random on threads, so every run of a
//!   program is a new epoch; from the seed on the simulator, so runs stay
//!   reproducible). Counters start at 0 in every cluster, so without it a
//!   capture from another cluster, or from an earlier run, under the same
//!   key would look fresh; a receiver refuses every other epoch;
//! - the **sender's incarnation** is in the authenticated header; a receiver
//!   keeps one window per sender, restarts it when a newer incarnation
//!   speaks, and refuses an incarnation older than the newest it heard;
//! - the **send time** is in the header too; a receiver refuses anything
//!   stamped before its own incarnation started. Such a message was sent to
//!   an earlier incarnation of the receiver, and the network already drops
//!   those (a connection dies with its process), so only a replay can carry
//!   one — this is what keeps a freshly restarted receiver, which has no
//!   windows yet, from accepting old captures;
//! - within an incarnation a sliding window of [`REPLAY_WINDOW`] sequence
//!   numbers accepts reordered messages once; anything older is refused.
//!   Refusing a legitimate message is a loss, which every protocol here
//!   already tolerates; accepting a replay is not.
//!
//! A message is delivered once at most to the protocol, so with links
//! authenticated the network's own duplicates are refused too (and counted as
//! replays). The protocols must still tolerate duplicates without it.
//!
//! # What this does not cover
//!
//! - **Byzantine nodes**: a node that holds the key can say anything, and the
//!   tag will verify. Tolerating lying members needs Byzantine fault-tolerant
//!   protocols (PBFT, and 3f + 1 replicas for f liars), not a MAC.
//! - **Confidentiality**: tags authenticate, they do not hide. Anyone on the
//!   network still reads every value. Real links use TLS or Noise, which
//!   encrypt and authenticate with keys agreed per connection.
//! - **Client messages**: requests from a client made with
//!   [`Cluster::client_as`](crate::Cluster::client_as) carry a tag under a
//!   session key, so a rewritten client id or an altered request is dropped
//!   (see [`AccessPolicy`]); but answers are not authenticated, nothing is
//!   encrypted, and the credential's verifier is a fast salted hash. Real
//!   systems run client traffic over mutually authenticated TLS.
//! - **Keys at rest**: [`Encrypted`] seals values and protocol metadata, not
//!   the keys they are stored under (the engine must order and scan them), and
//!   not the sizes or the access pattern.
//! - **Rollback at rest**: an older sealed entry put back in the files, or
//!   the whole directory rolled back with its high-water mark, opens fine;
//!   detecting it needs a trusted monotonic counter (see [`Encrypted`]'s
//!   module docs for exactly what damage at rest is detected).
//! - **Key management**: one static link key and one static data key for the
//!   whole cluster, no rotation, no revocation; a leaked link key means every
//!   link is open until every node is restarted with a new one, and data
//!   sealed under a data key can only be read with that key (re-encryption
//!   under a new one is not offered). A real system distributes keys per node
//!   (certificates) and rotates them.
//! - **Side channels, denial of service**: an attacker who drops or delays
//!   messages is the ordinary fault model (partitions, loss), which the
//!   protocols survive only as far as their quorums allow; timing and
//!   resource-exhaustion attacks are out of scope.
//!
//! # Further reading
//!
//! - Kleppmann, *Designing Data-Intensive Applications*, ch. 8, "Byzantine
//!   Faults".
//! - Castro and Liskov, "Practical Byzantine Fault Tolerance" (OSDI 1999).
//! - RFC 8439 (ChaCha20-Poly1305) and the XChaCha draft
//!   (draft-irtf-cfrg-xchacha) for the AEAD at rest.
//! - Anderson, *Security Engineering* (3rd ed.), on access control (ch. 6)
//!   and side channels (ch. 19).
//! - RFC 4303 §3.4.3 (IPsec ESP's anti-replay window, the model for
//!   [`Replay`]), and RFC 8446 (TLS 1.3).
//! - The BLAKE3 paper, §5 on keyed hashing; Bernstein's "Cryptography in
//!   NaCl" on why an authenticator must be compared in constant time.

mod access;
mod at_rest;
mod attack;
pub mod link;

pub use access::{Access, AccessPolicy, Credential, MIN_SECRET_LEN};
pub(crate) use access::{AccessControl, Denial, request_tag};
pub use at_rest::{AEAD_TAG_LEN, DataKey, Encrypted, NONCE_LEN};
pub use attack::{AttackKind, Attacker, FORGED_LEAP, is_attacker_value};
pub use link::{Header, LinkKey, REPLAY_WINDOW, Refusal, Replay, open, seal};
