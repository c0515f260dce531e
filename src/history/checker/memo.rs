//! Lowe's memo: the `(linearized set, state)` configurations already explored.
//!
//! The set is a bitset over the key's operations, but a *compact* one. A
//! plain bitset of `n` operations costs `n / 8` bytes to hash and to store
//! for every configuration, which for a 10,000-operation key is over a
//! kilobyte each, and millions of configurations when a violation forces the
//! search to exhaust them. Two facts make it small instead:
//!
//! - Operations with a return are numbered in invocation order. Every one
//!   invoked before the earliest unplaced one is placed, so the words of
//!   the bitset below that point are all ones and need not be stored: the
//!   key keeps only the index of the first word that is not full, and the
//!   words from there to the last placed operation. Those lie within the
//!   interval of one unplaced operation, so they are few.
//! - Timed-out writes never return and would pin that "first unplaced"
//!   point forever, so they get a bitset of their own, stored whole (they
//!   are rare).
//!
//! The key is therefore `[first non-full word, state, window words…]`, with
//! the timed-out bitset beside it: a function of the configuration that
//! determines it back, so the memo is exact (no fingerprints, no false
//! hits). The base and the highest placed index change only at the top of
//! the search stack, so they are saved in a [`Mark`] on the way in and
//! restored on the way out.
//!
//! # Subsumption
//!
//! Beyond Lowe's exact matches, a configuration is also skipped when one
//! with the same key and a *subset* of its timed-out writes was seen: the
//! latter can do everything the former can (timed-out writes are optional,
//! and under the rules of `prune.rs` the placed ones of each value are the
//! earliest), so if it failed, or is being explored, nothing is lost. This
//! matters for timed-out deletes, which are interchangeable: without it,
//! every count of them used so far would be a separate configuration.

use super::model::{KeyOp, State};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Where an operation's bit lives.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Operation with a return: its rank in invocation order among those.
    Returned(usize),
    /// Timed-out write: its rank among those.
    TimedOut(usize),
}

/// What [`Linearized::insert`] changed besides the bit, for undoing it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    base: usize,
    high: Option<usize>,
}

/// The set of placed operations.
#[derive(Debug)]
pub(super) struct Linearized {
    slots: Vec<Slot>,
    /// Bits of operations with a return, plus one all-zero sentinel word.
    returned: Vec<u64>,
    /// Bits of timed-out writes.
    timed_out: Vec<u64>,
    /// Index of the first word of `returned` that is not all ones.
    base: usize,
    /// The highest placed rank in `returned`.
    high: Option<usize>,
    /// Scratch space for [`Linearized::key`].
    key: Vec<u64>,
}

impl Linearized {
    /// The empty set over `ops` (in invocation order).
    pub(super) fn new(ops: &[KeyOp]) -> Self {
        let (mut returned, mut timed_out) = (0, 0);
        let slots = (ops.iter())
            .map(|o| {
                let (class, slot): (&mut usize, fn(usize) -> Slot) = match o.ret {
                    Some(_) => (&mut returned, Slot::Returned),
                    None => (&mut timed_out, Slot::TimedOut),
                };
                *class += 1;
                slot(*class - 1)
            })
            .collect();
        Linearized {
            slots,
            returned: vec![0; returned.div_ceil(64) + 1],
            timed_out: vec![0; timed_out.div_ceil(64)],
            base: 0,
            high: None,
            key: Vec::new(),
        }
    }

    /// Adds operation `i`; the mark undoes it.
    pub(super) fn insert(&mut self, i: usize) -> Mark {
        let mark = Mark {
            base: self.base,
            high: self.high,
        };
        match self.slots[i] {
            Slot::TimedOut(r) => self.timed_out[r / 64] |= 1 << (r % 64),
            Slot::Returned(r) => {
                self.returned[r / 64] |= 1 << (r % 64);
                self.high = self.high.max(Some(r));
                // The sentinel word is never full, so this stops.
                while self.returned[self.base] == u64::MAX {
                    self.base += 1;
                }
            }
        }
        mark
    }

    /// Removes operation `i`, inserted with `mark` as the last change.
    pub(super) fn remove(&mut self, i: usize, mark: Mark) {
        match self.slots[i] {
            Slot::TimedOut(r) => self.timed_out[r / 64] &= !(1 << (r % 64)),
            Slot::Returned(r) => self.returned[r / 64] &= !(1 << (r % 64)),
        }
        self.base = mark.base;
        self.high = mark.high;
    }

    /// The memo key of this set with model state `state`, and the
    /// timed-out bitset.
    pub(super) fn key(&mut self, state: State) -> (&[u64], &[u64]) {
        self.key.clear();
        self.key.push(self.base as u64);
        self.key.push(u64::from(state));
        if let Some(high) = self.high
            && high / 64 >= self.base
        {
            self.key
                .extend_from_slice(&self.returned[self.base..=high / 64]);
        }
        (&self.key, &self.timed_out)
    }
}

/// A fast, non-cryptographic hasher (the FxHash mixing step with a final
/// avalanche). The keys are our own bitsets, not attacker input, so std's
/// DoS-resistant SipHash would only cost time.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

/// `a ⊆ b`, for bitsets of equal length.
fn subset(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(a, b)| a & !b == 0)
}

/// A bitset, owned.
type Bits = Box<[u64]>;

/// The configurations explored so far: per key, the minimal timed-out sets
/// seen with it.
#[derive(Default)]
pub(super) struct Memo {
    seen: HashMap<Bits, Vec<Bits>, BuildHasherDefault<FxHasher>>,
}

impl Memo {
    /// Records the configuration; false when it, or one that subsumes it,
    /// was already there.
    pub(super) fn first_visit(&mut self, (key, timed_out): (&[u64], &[u64])) -> bool {
        match self.seen.get_mut(key) {
            Some(sets) => {
                if sets.iter().any(|seen| subset(seen, timed_out)) {
                    return false;
                }
                sets.retain(|seen| !subset(timed_out, seen));
                sets.push(timed_out.into());
            }
            None => {
                self.seen.insert(key.into(), vec![timed_out.into()]);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::Action;
    use super::*;

    #[test]
    fn keys_identify_sets_and_stay_short() {
        let ops: Vec<KeyOp> = (0..200)
            .map(|i| KeyOp {
                index: i,
                call: i as u64,
                ret: (i != 3).then_some(i as u64 + 1),
                action: Action::Write(1),
            })
            .collect();
        let mut set = Linearized::new(&ops);
        let empty = (set.key(0).0.to_vec(), set.key(0).1.to_vec());
        assert_eq!(empty, (vec![0, 0], vec![0]));
        // Place everything up to 150 except the timed-out write 3.
        let marks: Vec<_> = (0..150)
            .filter(|&i| i != 3)
            .map(|i| (i, set.insert(i)))
            .collect();
        // Rank 149 (op 150) is the first unplaced: base word 2, window = word 2.
        assert_eq!(set.key(5), (&[2, 5, (1 << 21) - 1][..], &[0][..]));
        let m = set.insert(3);
        assert_eq!(set.key(5), (&[2, 5, (1 << 21) - 1][..], &[1][..])); // op 3: timed-out rank 0
        set.remove(3, m);
        for (i, m) in marks.into_iter().rev() {
            set.remove(i, m);
        }
        assert_eq!(set.key(0), (&empty.0[..], &empty.1[..]));
    }

    #[test]
    fn the_memo_remembers_and_subsumes() {
        let mut memo = Memo::default();
        assert!(memo.first_visit((&[1, 2], &[0b01])));
        assert!(!memo.first_visit((&[1, 2], &[0b01])));
        assert!(!memo.first_visit((&[1, 2], &[0b11]))); // more timed-out writes: subsumed
        assert!(memo.first_visit((&[1, 2], &[0b10]))); // incomparable
        assert!(memo.first_visit((&[1, 2], &[0b00]))); // fewer: new, and subsumes both
        assert!(!memo.first_visit((&[1, 2], &[0b10])));
        assert!(memo.first_visit((&[1, 2, 0], &[0b01])));
    }
}
