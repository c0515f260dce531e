//! What a message is for: the label its sender puts on the envelope, so
//! that the network can give each kind of message its own delay.
//!
//! # Why the sender labels, and the network never looks
//!
//! The network carries peer messages as opaque bytes (it counts them, it
//! never decodes them), so it cannot tell a write from an acknowledgement.
//! But the PBS paper's WARS model (see [`crate::lab::pbs`]) needs exactly
//! that distinction: production networks and replicas are not symmetric,
//! and its fits give the write request (**W**), the write acknowledgement
//! (**A**), the read request (**R**) and the read response (**S**) four
//! different distributions. So the *protocol* says what each of its
//! messages is ([`crate::protocol::Protocol::message_kind`], default
//! [`MessageKind::Other`]), the node core writes that on the envelope, and
//! the client labels its own requests and the core the replies
//! ([`MessageKind::of_request`], [`MessageKind::of_response`]). The fault
//! model then picks a latency by kind
//! ([`crate::network::Network::set_kind_latency`]) and a
//! [`crate::network::FaultHook`] sees the kind in
//! [`crate::network::EnvelopeInfo`].
//!
//! A label is a claim by the sender, not a fact the network checked: a
//! protocol that labels nothing gets one latency for all its messages, as
//! before.

use crate::error::{Error, Result};
use crate::protocol::{Request, Response};
use std::fmt;

/// The role of a message in a read or a write, as its sender labels it.
///
/// ```
/// use replikv::network::MessageKind;
/// let kind: MessageKind = "ack".parse()?;
/// assert_eq!(kind, MessageKind::WriteAck);
/// assert_eq!(kind.to_string(), "ack");
/// assert_eq!("A".parse::<MessageKind>()?, MessageKind::WriteAck); // the WARS letter
/// assert!("gossip".parse::<MessageKind>().is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKind {
    /// Asks a replica to store a write (WARS **W**); a client's put or
    /// delete to its coordinator.
    WriteRequest,
    /// A replica saying it stored a write (WARS **A**); a coordinator's
    /// `Done` to its client.
    WriteAck,
    /// Asks a replica what it holds (WARS **R**); a client's get.
    ReadRequest,
    /// A replica's answer to a read (WARS **S**); a coordinator's value to
    /// its client.
    ReadResponse,
    /// Anything else: repair, hinted handoff, anti-entropy, a protocol's
    /// messages it does not label, error replies.
    #[default]
    Other,
}

impl MessageKind {
    /// Every kind, in declaration order.
    pub const ALL: [MessageKind; 5] = [
        MessageKind::WriteRequest,
        MessageKind::WriteAck,
        MessageKind::ReadRequest,
        MessageKind::ReadResponse,
        MessageKind::Other,
    ];

    /// The kind of a client's request: a get reads, a put or delete writes.
    ///
    /// ```
    /// use replikv::network::MessageKind;
    /// use replikv::protocol::Request;
    /// assert_eq!(MessageKind::of_request(&Request::Get { key: b"k".to_vec() }), MessageKind::ReadRequest);
    /// ```
    pub fn of_request(request: &Request) -> MessageKind {
        match request {
            Request::Get { .. } => MessageKind::ReadRequest,
            Request::Put { .. } | Request::Delete { .. } => MessageKind::WriteRequest,
        }
    }

    /// The kind of a reply to a client: a value answers a read, `Done` a
    /// write; errors are [`MessageKind::Other`].
    pub fn of_response(response: &Response) -> MessageKind {
        match response {
            Response::Value(_) => MessageKind::ReadResponse,
            Response::Done => MessageKind::WriteAck,
            _ => MessageKind::Other,
        }
    }

    /// Position in [`MessageKind::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for MessageKind {
    /// `write`, `ack`, `read`, `response` or `other`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageKind::WriteRequest => "write",
            MessageKind::WriteAck => "ack",
            MessageKind::ReadRequest => "read",
            MessageKind::ReadResponse => "response",
            MessageKind::Other => "other",
        })
    }
}

impl std::str::FromStr for MessageKind {
    type Err = Error;

    /// The names [`fmt::Display`] prints, or the WARS letters `w`, `a`, `r`,
    /// `s` (either case).
    fn from_str(text: &str) -> Result<Self> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "write" | "w" => MessageKind::WriteRequest,
            "ack" | "a" => MessageKind::WriteAck,
            "read" | "r" => MessageKind::ReadRequest,
            "response" | "s" => MessageKind::ReadResponse,
            "other" => MessageKind::Other,
            _ => {
                return Err(Error::InvalidConfig(format!(
                    "unknown message kind {text:?}: expected write (w), ack (a), read (r), \
                     response (s) or other"
                )));
            }
        })
    }
}
