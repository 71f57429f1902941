//! Souk's benchmarks: how fast offers spread through the network and what a node costs in memory,
//! measured against a baseline run in the same process so the numbers compare across machines as ratios.
//!
//! This crate owns the measuring only. It drives `souk_core`'s real network and offer code and must
//! never reimplement or bypass them; it never asserts on time either: the smoke test checks that the
//! measurement works (every offer delivered, percentiles ordered), and the numbers are for people.

pub mod market;
pub mod memory;
pub mod propagation;
pub mod raw_tcp;
pub mod summary;

pub use propagation::{PropagationReport, PropagationSettings, run_propagation};
