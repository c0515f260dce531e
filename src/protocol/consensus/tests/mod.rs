//! Scenario tests: nodes driven by hand, every message delivered, dropped
//! or held as the scenario says (toydb's goldenscripts, in Rust).
//!
//! `harness.rs` runs the group on [`crate::sim::Harness`] and checks it; `safety.rs` holds the scenarios the
//! paper warns about, each run once as written and once with the
//! deliberate bug it exposes, which the scenario must catch.

mod harness;
mod safety;
mod snapshots;
