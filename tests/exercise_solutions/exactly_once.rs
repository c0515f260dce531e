//! Exercise 12: a reference consumer and two plausible wrong ones.

use replikv::lab::exercises::{Deposit, Ledger};
use replikv::queue::Delivery;
use std::collections::BTreeSet;

/// Reference: the ids of the messages applied live in the account record
/// itself, so one compare-and-set adds the entry and records the id, or
/// does neither — and a crash can split nothing.
pub fn dedup_in_the_record() -> impl FnMut(&Delivery, &mut Ledger<'_>) -> replikv::Result<()> {
    |message: &Delivery, ledger: &mut Ledger<'_>| {
        let deposit = Deposit::of(message)?;
        loop {
            let old = ledger.account(&deposit.account)?;
            let mut new = old.clone().unwrap_or_default();
            if new.applied.contains(&message.id) {
                return Ok(()); // a redelivery: already applied
            }
            new.entries.push(deposit.entry.clone());
            new.applied.push(message.id);
            if ledger.swap_account(&deposit.account, old.as_ref(), &new)? {
                return Ok(());
            }
        }
    }
}

/// Wrong: the ids seen are kept in the process's memory, which a crash
/// loses (and which the other consumer never sees).
pub fn dedup_in_memory() -> impl FnMut(&Delivery, &mut Ledger<'_>) -> replikv::Result<()> {
    let mut seen = BTreeSet::new();
    move |message: &Delivery, ledger: &mut Ledger<'_>| {
        if seen.contains(&message.id) {
            return Ok(());
        }
        let deposit = Deposit::of(message)?;
        loop {
            let old = ledger.account(&deposit.account)?;
            let mut new = old.clone().unwrap_or_default();
            new.entries.push(deposit.entry.clone());
            if ledger.swap_account(&deposit.account, old.as_ref(), &new)? {
                seen.insert(message.id);
                return Ok(());
            }
        }
    }
}

/// Wrong: the ids are in the store, but under a key of their own: written
/// after the deposit (`mark_first` false), a crash between the two writes
/// applies the deposit twice; written before it, a crash loses it.
pub fn dedup_in_a_separate_key(
    mark_first: bool,
) -> impl FnMut(&Delivery, &mut Ledger<'_>) -> replikv::Result<()> {
    move |message: &Delivery, ledger: &mut Ledger<'_>| {
        let marker = format!("applied/{}", message.id);
        if ledger.get(&marker)?.is_some() {
            return Ok(());
        }
        if mark_first {
            ledger.put(&marker, b"yes")?;
        }
        let deposit = Deposit::of(message)?;
        loop {
            let old = ledger.account(&deposit.account)?;
            let mut new = old.clone().unwrap_or_default();
            new.entries.push(deposit.entry.clone());
            if ledger.swap_account(&deposit.account, old.as_ref(), &new)? {
                break;
            }
        }
        if !mark_first {
            ledger.put(&marker, b"yes")?;
        }
        Ok(())
    }
}
