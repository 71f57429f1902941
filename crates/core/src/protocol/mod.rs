//! The protocol as data: who is who in a trade, the states a trade goes through, the signed messages
//! that negotiate it (`negotiation`), the signed steps that settle it (`settlement`) and what a party
//! and the arbitrator tell each other in a dispute (`dispute`), which of them
//! are allowed, and what the direct request-response protocol carries. Pure: no clock, no chain, no
//! database, no network — the engine (`trading`) feeds it and stores what it says.

pub mod direct;
pub mod dispute;
pub mod negotiation;
pub mod roles;
pub mod settlement;
pub mod state;

pub use direct::*;
