//! The staleness oracle: how far behind were the reads, and which
//! acknowledged writes were lost?
//!
//! Linearizability is a yes/no property; an eventually consistent store
//! fails it almost always, and a learner wants to know *by how much*. This
//! module measures that with the global observer's clock, after the
//! probabilistically bounded staleness metrics of Bailis et al. ("PBS:
//! Probabilistically Bounded Staleness for Practical Partial Quorums",
//! VLDB 2012) and the k-atomicity of Aiyer, Alvisi & Bazzi (2005).
//!
//! # The rules
//!
//! For every completed, successful get `r`:
//!
//! 1. **Which version did it read?** The write whose value `r` returned.
//!    Workloads write unique values, so the value names the write; a
//!    missing key names the initial state or any delete. Failed writes had
//!    no effect and never match, and neither does a write invoked after `r`
//!    returned. When several versions match, the one giving the smallest
//!    staleness is chosen (the charitable reading). A get matching no
//!    version at all is *unexplained*: it read something nobody wrote,
//!    which is a bug, not staleness, and is counted apart.
//! 2. **Which newer writes did it miss?** Those *acknowledged before `r`
//!    was invoked* (ok, `return_ns < r.call_ns`) and *invoked after the read
//!    version's write returned* (so in real time they are definitely newer).
//!    The initial state returned "before everything", so every write
//!    acknowledged before `r` is newer than it. A timed-out write never
//!    returned, so nothing is definitely newer than it.
//! 3. **k-staleness** is how many such writes there are; `r` is *stale* iff
//!    `k > 0`. **t-staleness** is how long before `r`'s invocation the first
//!    of them was acknowledged: `r.call_ns − min(return_ns)`.
//!
//! Writes that merely overlap the read version's write are not counted: in
//! real time either could be the newer one, and any order is allowed.
//!
//! # Lost writes
//!
//! [`lost_writes`] compares each key's converged final value with the
//! history: an acknowledged write that *started after the winning write
//! finished* should have overwritten it, so if the winner is still there,
//! that write was lost (with last-writer-wins and a skewed clock, the later
//! write can carry the smaller timestamp).

mod lost;
mod report;
#[cfg(test)]
mod tests;
mod writes;

pub use lost::{LostWrite, lost_writes};
pub use report::{ReadStaleness, StalenessReport};
pub use writes::ValueOrigin;
