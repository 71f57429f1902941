//! Souk's benchmarks: how fast offers spread through the network, what a node costs in memory, and how
//! long a user waits for the order book when opening the app, each measured against a baseline run in
//! the same process so the numbers compare across machines as ratios.
//!
//! This crate owns the measuring only. It drives `souk_core`'s real network and offer code and must
//! never reimplement or bypass them; it never asserts on time either: the smoke test checks that the
//! measurement works (every offer delivered, every book filled, percentiles ordered), and the numbers
//! are for people.

pub mod cold_start;
pub mod market;
pub mod memory;
pub mod propagation;
pub mod raw_tcp;
pub mod summary;

pub use cold_start::{ColdStartReport, ColdStartSettings, run_cold_start};
pub use propagation::{PropagationReport, PropagationSettings, run_propagation};
