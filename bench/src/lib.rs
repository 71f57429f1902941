//! Souk's benchmarks: how fast offers spread through the network, what a node costs in memory, how
//! long a user waits for the order book when opening the app, what a page of a 100,000-offer book costs, what a sealed envelope costs next to the
//! bare cipher, and how long a chat message takes there and back, each measured against a baseline run
//! in the same process so the numbers compare across machines as ratios.
//!
//! This crate owns the measuring only. It drives `souk_core`'s real network, offer, channel and trade code and must
//! never reimplement or bypass them; it never asserts on time either: the smoke tests check that the
//! measurement works (every offer and message delivered, every book filled, percentiles ordered), and
//! the numbers are for people.

pub mod book_pages;
pub mod chat_rtt;
pub mod cold_start;
pub mod desktop_footprint;
pub mod dht;
pub mod envelope;
pub mod footprint;
pub mod market;
pub mod memory;
pub mod propagation;
pub mod raw_tcp;
pub mod real_nodes;
pub mod summary;
pub mod tor;
pub mod watcher;

pub use book_pages::{BookPagesReport, BookPagesSettings, run_book_pages};
pub use chat_rtt::{ChatRttReport, ChatRttSettings, run_chat_rtt};
pub use cold_start::{ColdStartReport, ColdStartSettings, run_cold_start};
pub use desktop_footprint::{
    DesktopFootprintReport, DesktopFootprintSettings, run_desktop_footprint,
};
pub use dht::{DhtReport, DhtSettings, Transport, run_dht};
pub use envelope::{EnvelopeReport, EnvelopeSettings, run_envelope};
pub use footprint::{FootprintReport, FootprintSettings, run_footprint};
pub use propagation::{PropagationReport, PropagationSettings, run_propagation};
pub use real_nodes::{RealNodesReport, RealNodesSettings, run_real_nodes};
pub use tor::{TorBenchReport, TorBenchSettings, run_tor};
pub use watcher::{WatcherReport, WatcherSettings, run_watcher};
