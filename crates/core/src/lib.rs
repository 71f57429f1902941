//! Souk's core: every behaviour of the app lives here, behind the [`node::Node`] facade.
//!
//! The shells (the `souk` CLI, the Tauri desktop app, later `souk serve`) are thin adapters over this
//! crate. It must never know about Tauri, HTTP or any particular UI.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
pub mod arbiter;
pub mod backup;
pub mod bindings;
pub mod book;
pub mod chain;
pub mod channel;
pub mod codec;
pub mod config;
pub mod connection;
pub mod error;
pub mod error_kind;
pub mod escrow;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod logging;
pub mod market;
pub mod net;
pub mod node;
pub mod offer;
pub mod peer_name;
pub mod preferences;
pub mod price;
pub mod protocol;
pub mod reputation;
pub mod signing;
pub mod startup;
pub mod store;
pub mod trading;

pub use error::{Error, ErrorKind, ErrorPayload};
