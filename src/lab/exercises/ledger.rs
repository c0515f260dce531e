//! What exercise 12's consumer works with: the [`Deposit`] a message
//! carries, the [`Account`] record it changes, and the [`Ledger`] — the
//! store as one consumer process sees it, a process that may crash after
//! any write.
//!
//! The ledger is a thin wrapper over a [`Client`] of the cluster: every
//! call is a real operation on the replicated store, so it can time out
//! under faults like any other. The grader decides, before a message is
//! handled, whether the consumer process will crash while handling it and
//! after which of its writes; from that write on, the process is gone —
//! the write itself took effect, the answer never reached anyone, and
//! every later call fails with [`Error::Unavailable`]. The grader then
//! starts a fresh process (a fresh handler: its memory is gone) and the
//! queue delivers the message again once its visibility timeout expires.

use crate::client::Client;
use crate::codec;
use crate::error::{Error, Result};
use crate::queue::Delivery;
use serde::{Deserialize, Serialize};

/// The key prefix of the accounts; [`Ledger::get`] and [`Ledger::put`]
/// refuse it (accounts change only through [`Ledger::swap_account`]).
pub const ACCOUNT_PREFIX: &str = "account/";

/// One deposit, as a queue message carries it: which account, and the
/// entry to add to its statement.
///
/// ```
/// use replikv::lab::exercises::Deposit;
/// let deposit = Deposit { account: "account/1".into(), entry: "deposit #7".into() };
/// assert_eq!(Deposit::parse(&deposit.to_body())?, deposit);
/// assert!(Deposit::parse(b"no account here").is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    /// The account's key, `account/N`.
    pub account: String,
    /// The line this deposit adds to the account's statement, unique per
    /// deposit (`deposit #17`).
    pub entry: String,
}

impl Deposit {
    /// The deposit in a message's body; [`Error::Decode`] when the body is
    /// not one.
    pub fn of(message: &Delivery) -> Result<Deposit> {
        Deposit::parse(&message.body)
    }

    /// Parses a body: the account key, a newline, the entry.
    pub fn parse(body: &[u8]) -> Result<Deposit> {
        let text = std::str::from_utf8(body)
            .map_err(|_| Error::Decode("a deposit's body is UTF-8 text".into()))?;
        match text.split_once('\n') {
            Some((account, entry)) if account.starts_with(ACCOUNT_PREFIX) => Ok(Deposit {
                account: account.to_string(),
                entry: entry.to_string(),
            }),
            _ => Err(Error::Decode(format!(
                "a deposit's body is `account/N`, a newline and the entry, not {text:?}"
            ))),
        }
    }

    /// The message body that carries this deposit.
    pub fn to_body(&self) -> Vec<u8> {
        format!("{}\n{}", self.account, self.entry).into_bytes()
    }
}

/// An account's record in the store: its statement, and room for the
/// consumer's own bookkeeping *in the same record* — whatever is in one
/// record changes together, by one compare-and-set, or not at all.
///
/// ```
/// use replikv::lab::exercises::Account;
/// let account = Account { entries: vec!["deposit #1".into()], applied: Vec::new() };
/// assert_eq!(Account::decode(&account.encode()?)?, account);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The deposits applied, one entry per application: the grader counts
    /// each deposit's entries here (one is right; two is a duplicated
    /// effect; none, for an acknowledged message, a lost one).
    pub entries: Vec<String>,
    /// Free for the consumer: the ids of the messages it applied, if it
    /// wants them. The grader does not read it.
    pub applied: Vec<crate::queue::MessageId>,
}

impl Account {
    /// The record's bytes in the store.
    pub fn encode(&self) -> Result<Vec<u8>> {
        codec::encode(self).map_err(Error::Encode)
    }

    /// A record read from the store; [`Error::Decode`] if it is not one.
    pub fn decode(bytes: &[u8]) -> Result<Account> {
        codec::decode(bytes).map_err(|e| Error::Decode(format!("not an account record: {e}")))
    }
}

/// The store as one consumer process sees it while it handles one message
/// (see the module docs: the process may crash after any write).
#[derive(Debug)]
pub struct Ledger<'a> {
    client: &'a mut Client,
    crash_after_writes: Option<usize>,
    writes: usize,
}

impl<'a> Ledger<'a> {
    /// A ledger over `client` whose process crashes right after its
    /// `crash_after_writes`-th write request (`None`: it does not crash
    /// while handling this message).
    pub(crate) fn new(client: &'a mut Client, crash_after_writes: Option<usize>) -> Ledger<'a> {
        Ledger {
            client,
            crash_after_writes,
            writes: 0,
        }
    }

    /// Whether the process crashed during this message.
    fn crashed(&self) -> bool {
        self.crash_after_writes
            .is_some_and(|limit| self.writes >= limit)
    }

    fn alive(&self) -> Result<()> {
        if self.crashed() {
            Err(Error::Unavailable(
                "this consumer process crashed: nothing it does reaches the store any more".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// Counts a write request that reached the store and returns `result`,
    /// or the crash if the process dies right after it.
    fn wrote<T>(&mut self, result: Result<T>) -> Result<T> {
        self.writes += 1;
        self.alive()?;
        result
    }

    /// Reads the account at `key` (`None`: no deposit yet).
    pub fn account(&mut self, key: &str) -> Result<Option<Account>> {
        self.alive()?;
        check_account_key(key)?;
        match self.client.get(key)? {
            None => Ok(None),
            Some(bytes) => Account::decode(&bytes).map(Some),
        }
    }

    /// Replaces the account at `key` with `new` if it still is `expected`
    /// (`None`: absent), in one atomic step: `Ok(true)` if it did,
    /// `Ok(false)` if someone changed it since you read it (read it again).
    /// A compare-and-set over Raft: linearizable and durable once it
    /// returns `Ok(true)`.
    pub fn swap_account(
        &mut self,
        key: &str,
        expected: Option<&Account>,
        new: &Account,
    ) -> Result<bool> {
        self.alive()?;
        check_account_key(key)?;
        let expected = expected.map(Account::encode).transpose()?;
        let new = new.encode()?;
        let result = self
            .client
            .compare_and_set(key, expected.as_deref(), Some(&new));
        self.wrote(result)
    }

    /// Reads any other key (not under `account/`).
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        self.alive()?;
        check_other_key(key)?;
        self.client.get(key)
    }

    /// Writes any other key (not under `account/`).
    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.alive()?;
        check_other_key(key)?;
        let result = self.client.put(key, value);
        self.wrote(result)
    }
}

fn check_account_key(key: &str) -> Result<()> {
    if key.starts_with(ACCOUNT_PREFIX) {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "accounts live under {ACCOUNT_PREFIX}, not at {key:?}"
        )))
    }
}

fn check_other_key(key: &str) -> Result<()> {
    if key.starts_with(ACCOUNT_PREFIX) {
        Err(Error::InvalidConfig(format!(
            "{key:?} is an account: read it with Ledger::account and change it with \
             Ledger::swap_account"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cluster, Consistency, Runtime};

    fn client() -> (Cluster, Client) {
        let cluster = Cluster::builder()
            .runtime(Runtime::Simulated)
            .consistency(Consistency::Consensus)
            .build()
            .expect("cluster");
        let client = cluster.client().expect("client");
        (cluster, client)
    }

    #[test]
    fn a_crash_after_the_first_write_keeps_the_write_and_refuses_everything_after() {
        let (_cluster, mut client) = client();
        let one = Account {
            entries: vec!["deposit #1".into()],
            applied: Vec::new(),
        };
        {
            let mut ledger = Ledger::new(&mut client, Some(1));
            assert!(ledger.account("account/0").unwrap().is_none());
            assert!(!ledger.crashed());
            let crashed = ledger.swap_account("account/0", None, &one);
            assert!(matches!(crashed, Err(Error::Unavailable(_))), "{crashed:?}");
            assert!(ledger.crashed());
            assert!(ledger.get("seen/1").is_err());
            assert!(ledger.account("account/0").is_err());
        }
        let mut fresh = Ledger::new(&mut client, None);
        assert_eq!(fresh.account("account/0").unwrap(), Some(one));
        fresh.put("seen/1", b"y").unwrap();
        assert!(!fresh.crashed());
    }

    #[test]
    fn accounts_and_other_keys_are_kept_apart() {
        let (_cluster, mut client) = client();
        let mut ledger = Ledger::new(&mut client, None);
        assert!(matches!(
            ledger.put("account/0", b"x"),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            ledger.get("account/0"),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            ledger.account("seen"),
            Err(Error::InvalidConfig(_))
        ));
    }
}
