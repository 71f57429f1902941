//! The clap argument types of the subcommands, one child per command group. `main.rs` holds the
//! top-level `Cli` and `Command` and dispatches; these only describe flags, never act on them.

mod backup;
mod chat;
mod dispute;
mod node;
mod offer;
mod trade;

pub(crate) use backup::BackupCommand;
pub(crate) use chat::ChatCommand;
pub(crate) use dispute::DisputeCommand;
pub(crate) use node::{NodeArgs, ServeArgs, chain_flags, trade_flags};
pub(crate) use offer::{OfferCommand, PostArgs};
pub(crate) use trade::TradeCommand;
