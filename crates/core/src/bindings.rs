//! The TypeScript side of the shell boundary, generated from the Rust types so the two cannot drift.
//!
//! `ui/src/bindings.ts` is written by `cargo xtask bindings` (or this module's test with
//! `SOUK_UPDATE_BINDINGS=1`), committed, and the test fails when the committed file is stale.

use ts_rs::TS;

use crate::{
    book::{BookEntry, BookPage, BookQuery, MyOffer, OfferState, PageRequest},
    connection::{ChainCheck, ConnectionEdit, ConnectionSettings, ConnectionValues, EnvOverride},
    error::{ErrorKind, ErrorPayload},
    escrow::{Chain, Network},
    market::MarketEvent,
    node::{
        AppStatus, BackupSettings, BackupSummary, BootstrapDial, ChainStatus, CreatedIdentity,
        IdentityInfo, ImportedBackup, NatStatus, NetInfo, NetworkStatus, Reach, RelayStatus,
        SavedConnection,
    },
    offer::{Asset, EscrowKind, Fiat, NewOffer, Offer, PaymentMethod, Price, Quote, Side},
    preferences::{NotificationPrefs, PaymentAccount, Preferences, Theme},
    price::MarketPrice,
    protocol::negotiation::MessageKind,
    protocol::settlement::{Actor, Mode, StepKind},
    reputation::{RatingView, ReceiptCheck, ReceiptView, RefusedReceipt, Reputation},
    startup::{PhaseProgress, PhaseState, StartupPhase, StartupProgress},
    trading::{
        ChatMessage, Decision, DecisionInfo, DecisionView, DisputeInfo, EscrowView, OnChain, Party,
        PartyCase, PendingFunding, Refusals, ReserveView, ReturnView, StepRecord, TradeAnswer,
        TradeEvent, TradeInfo, TradeRole, TradeState, TradeTerms, WalletFunding, Winner,
    },
};

/// The window event that carries each [`MarketEvent`] from the desktop shell to the UI.
pub const MARKET_EVENT: &str = "market-event";
/// The window event that carries each [`TradeEvent`] from the desktop shell to the UI.
pub const TRADE_EVENT: &str = "trade-event";

/// Declares the commands every backend (Tauri IPC, HTTP) serves: name, arguments and result type.
macro_rules! commands {
    ($($name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty;)*) => {
        /// Every command name, in declaration order.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name)),*];

        fn commands_interface(cfg: &ts_rs::Config) -> String {
            let mut out = String::from("export interface Commands {\n");
            $(
                let args: Vec<String> = vec![$(format!("{}: {}", camel(stringify!($arg)), <$ty as TS>::name(cfg))),*];
                let args = if args.is_empty() { "Record<string, never>".to_owned() } else { format!("{{ {} }}", args.join(", ")) };
                out.push_str(&format!("  {}: {{ args: {}, result: {} }};\n", stringify!($name), args, <$ret as TS>::name(cfg)));
            )*
            out.push_str("}\n");
            out.push_str("/** The method each command is on a UI `Backend`: the command's name in camelCase. */\n");
            let methods: Vec<String> = vec![$(format!("\"{}\"", camel(stringify!($name)))),*];
            out.push_str(&format!("export type CommandMethod = {};\n", methods.join(" | ")));
            out
        }
    };
}

/// The one command table: every command the shells serve (the desktop's Tauri IPC and the HTTP API),
/// with its arguments and result. A shell expands it with a macro of its own:
/// `souk_core::command_table!(my_macro)` calls `my_macro! { name(arg: Type, …) -> Result; … }`. This
/// module makes the TypeScript `Commands` interface from it; the desktop shell makes its handler list
/// (a command it lacks does not compile, one not in the table is dead code); the HTTP API maps each
/// name to its route, and a test there fails when one lacks a route or a route names no command.
#[macro_export]
macro_rules! command_table {
    ($callback:ident) => {
        $callback! {
            app_status() -> AppStatus;
            create_identity(passphrase: String, tor: bool) -> CreatedIdentity;
            restore_identity(words: String, passphrase: String, tor: bool) -> IdentityInfo;
            import_backup(source: String, passphrase: String) -> ImportedBackup;
            unlock(passphrase: String) -> IdentityInfo;
            network_status() -> NetworkStatus;
            offers(query: BookQuery) -> Vec<BookEntry>;
            book_page(query: BookQuery, page: PageRequest) -> BookPage;
            my_offers() -> Vec<MyOffer>;
            post_offer(offer: NewOffer) -> Offer;
            withdraw_offer(id: String) -> ();
            refresh_market(base: Asset, quote: Quote) -> u32;
            market_price(base: Asset, quote: Quote) -> Option<MarketPrice>;
            take_offer(offer_id: String, amount: u64, method: PaymentMethod, payout: String) -> TradeInfo;
            answer_trade(trade_id: String, answer: TradeAnswer) -> TradeInfo;
            trades() -> Vec<TradeInfo>;
            trade(trade_id: String) -> TradeInfo;
            chat_log(trade_id: String) -> Vec<ChatMessage>;
            send_chat(trade_id: String, text: String) -> ChatMessage;
            mark_read(trade_id: String) -> u32;
            set_escrow_address(trade_id: String, address: String) -> TradeInfo;
            fund_from_wallet(trade_id: String, wallet: String, broadcast: bool) -> WalletFunding;
            mark_paid(trade_id: String) -> TradeInfo;
            mark_received(trade_id: String) -> TradeInfo;
            cancel_trade(trade_id: String, reason: String) -> TradeInfo;
            dispute_trade(trade_id: String, reason: String) -> TradeInfo;
            preferences() -> Preferences;
            save_preferences(preferences: Preferences) -> Preferences;
            chain_status() -> ChainStatus;
            disputes() -> Vec<DisputeInfo>;
            dispute_info(trade_id: String) -> DisputeInfo;
            resolve_dispute(trade_id: String, decision: Decision) -> DisputeInfo;
            startup_progress() -> StartupProgress;
            retry_startup() -> StartupProgress;
            connection_settings() -> ConnectionSettings;
            save_connection_settings(edit: ConnectionEdit) -> SavedConnection;
            test_chain_connection(edit: ConnectionEdit) -> ChainCheck;
            export_backup(target: String, passphrase: String) -> BackupSummary;
            backup_settings() -> BackupSettings;
            save_backup_settings(folder: String, keep: u32, passphrase: String) -> BackupSettings;
            reputation(peer: String) -> Reputation;
            rate_trade(trade_id: String, stars: u8, comment: String) -> ();
        }
    };
}

command_table!(commands);

/// Tauri passes command arguments in camelCase.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match (c, upper) {
            ('_', _) => upper = true,
            (c, true) => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

pub const HEADER: &str =
    "// This file is generated by souk-core (cargo test -p souk-core bindings). Do not edit.\n";

/// The full text of `ui/src/bindings.ts`.
pub fn typescript() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        AppStatus::decl(&cfg),
        IdentityInfo::decl(&cfg),
        CreatedIdentity::decl(&cfg),
        ErrorKind::decl(&cfg),
        ErrorPayload::decl(&cfg),
        // The market: served by the desktop's commands and `souk node`'s API.
        NetInfo::decl(&cfg),
        Reach::decl(&cfg),
        NatStatus::decl(&cfg),
        RelayStatus::decl(&cfg),
        NetworkStatus::decl(&cfg),
        Side::decl(&cfg),
        Asset::decl(&cfg),
        Fiat::decl(&cfg),
        Quote::decl(&cfg),
        Price::decl(&cfg),
        EscrowKind::decl(&cfg),
        PaymentMethod::decl(&cfg),
        Offer::decl(&cfg),
        NewOffer::decl(&cfg),
        BookQuery::decl(&cfg),
        crate::net::PeerReach::decl(&cfg),
        BookEntry::decl(&cfg),
        PageRequest::decl(&cfg),
        BookPage::decl(&cfg),
        OfferState::decl(&cfg),
        MyOffer::decl(&cfg),
        MarketPrice::decl(&cfg),
        MarketEvent::decl(&cfg),
        // Trades and chat (issue 4).
        TradeRole::decl(&cfg),
        Refusals::decl(&cfg),
        Party::decl(&cfg),
        TradeState::decl(&cfg),
        Actor::decl(&cfg),
        StepKind::decl(&cfg),
        MessageKind::decl(&cfg),
        Winner::decl(&cfg),
        Chain::decl(&cfg),
        Network::decl(&cfg),
        DecisionView::decl(&cfg),
        EscrowView::decl(&cfg),
        ReserveView::decl(&cfg),
        PendingFunding::decl(&cfg),
        WalletFunding::decl(&cfg),
        ReturnView::decl(&cfg),
        ChainStatus::decl(&cfg),
        PartyCase::decl(&cfg),
        Decision::decl(&cfg),
        DecisionInfo::decl(&cfg),
        OnChain::decl(&cfg),
        DisputeInfo::decl(&cfg),
        StepRecord::decl(&cfg),
        TradeTerms::decl(&cfg),
        TradeInfo::decl(&cfg),
        ChatMessage::decl(&cfg),
        TradeAnswer::decl(&cfg),
        TradeEvent::decl(&cfg),
        // What the person chose (issue 6).
        Theme::decl(&cfg),
        NotificationPrefs::decl(&cfg),
        PaymentAccount::decl(&cfg),
        crate::preferences::SavedSearch::decl(&cfg),
        Preferences::decl(&cfg),
        // Startup progress and connection settings (issue 6).
        StartupPhase::decl(&cfg),
        PhaseState::decl(&cfg),
        PhaseProgress::decl(&cfg),
        StartupProgress::decl(&cfg),
        ConnectionValues::decl(&cfg),
        EnvOverride::decl(&cfg),
        ConnectionSettings::decl(&cfg),
        ConnectionEdit::decl(&cfg),
        ChainCheck::decl(&cfg),
        BootstrapDial::decl(&cfg),
        SavedConnection::decl(&cfg),
        // Encrypted backups of the data directory.
        BackupSummary::decl(&cfg),
        ImportedBackup::decl(&cfg),
        BackupSettings::decl(&cfg),
        // Peer names and avatars (the same on every node).
        crate::peer_name::Avatar::decl(&cfg),
        crate::peer_name::PeerNameVector::decl(&cfg),
        // Reputation from trade receipts.
        ReceiptCheck::decl(&cfg),
        RatingView::decl(&cfg),
        ReceiptView::decl(&cfg),
        RefusedReceipt::decl(&cfg),
        Reputation::decl(&cfg),
    ];
    let mut out = String::from(HEADER);
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out.push_str(&commands_interface(&cfg));
    out.push_str(&protocol_tables());
    out.push_str(&peer_name_tables());
    out.push_str(&format!(
        "/** The window event each MarketEvent arrives on in the desktop app. */\nexport const MARKET_EVENT = {MARKET_EVENT:?};\n\
         /** The window event each TradeEvent arrives on in the desktop app. */\nexport const TRADE_EVENT = {TRADE_EVENT:?};\n"
    ));
    out
}

/// The word lists peer names are made of, and the core's names of a few PeerIds: the UI makes the same
/// names (`ui/src/logic/peerName.ts`) and its test checks them against these.
fn peer_name_tables() -> String {
    use crate::peer_name::{ADJECTIVES, ANIMALS, test_vectors};
    format!(
        "/** The adjectives of peer names (crates/core/src/peer_name.rs). */\n\
         export const PEER_NAME_ADJECTIVES: readonly string[] = {};\n\
         /** The animals of peer names. */\n\
         export const PEER_NAME_ANIMALS: readonly string[] = {};\n\
         /** PeerIds with the hash, name and avatar the core gives them. */\n\
         export const PEER_NAME_VECTORS: readonly PeerNameVector[] = {};\n",
        wire(&ADJECTIVES[..]),
        wire(&ANIMALS[..]),
        wire(test_vectors())
    )
}

/// A value as its wire (and TypeScript) text.
fn wire<T: serde::Serialize>(value: T) -> String {
    serde_json::to_string(&value).unwrap_or_default()
}

/// The protocol's two tables as data: the UI, and its test double, follow the core's rules from the
/// very table the core applies, not from a copy.
fn protocol_tables() -> String {
    let negotiation: String = crate::protocol::negotiation::TRANSITIONS
        .iter()
        .map(|t| {
            format!(
                "  {{ from: {}, party: {}, kind: {}, to: {} }},\n",
                t.from
                    .map_or_else(|| "null".to_owned(), |s| wire(TradeState::from(s))),
                wire(t.party),
                wire(t.kind),
                wire(TradeState::from(t.to)),
            )
        })
        .collect();
    let trade: String = crate::protocol::settlement::TRANSITIONS
        .iter()
        .map(|t| {
            format!(
                "  {{ from: {}, actor: {}, kind: {}, to: {}, escrow: {} }},\n",
                wire(t.from),
                wire(t.actor),
                wire(t.kind),
                wire(t.to),
                match t.mode {
                    None => "null",
                    Some(Mode::Escrow) => "true",
                    Some(Mode::NoEscrow) => "false",
                },
            )
        })
        .collect();
    format!(
        "/** Who may send which negotiation message in which state, and where it leads: the core's \
         `negotiation::TRANSITIONS` (`from: null`: before anything). Anything not listed is refused. */\n\
         export const NEGOTIATION_TRANSITIONS: readonly {{ from: TradeState | null, party: TradeRole, \
         kind: MessageKind, to: TradeState }}[] = [\n{negotiation}];\n\
         /** Who may make which step after agreement, in which state, and where it leads: the core's \
         `protocol::settlement::TRANSITIONS` (`escrow`: only with (true) or without (false) an escrow; \
         null: both). Anything not listed is refused. */\n\
         export const TRADE_TRANSITIONS: readonly {{ from: TradeState, actor: Actor, kind: StepKind, \
         to: TradeState, escrow: boolean | null }}[] = [\n{trade}];\n"
    )
}

/// Where the committed bindings live, relative to this crate.
pub fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings.ts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_fresh() {
        let path = committed_path();
        let fresh = typescript();
        if std::env::var_os("SOUK_UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: run `cargo xtask bindings` and commit the result.\n--- committed\n{committed}\n--- generated\n{fresh}",
            path.display()
        );
    }

    #[test]
    fn generated_types_have_the_wire_shape() {
        let ts = typescript();
        assert!(
            ts.contains(r#"export type AppStatus = { "state": "needs_setup", data_dir: string, }"#),
            "{ts}"
        );
        assert!(ts.contains("schema_version: number"), "{ts}");
        assert!(ts.contains(r#""wrong_passphrase""#), "{ts}");
        assert!(ts.contains("restore_identity: { args: { words: string, passphrase: string, tor: boolean }, result: IdentityInfo };"));
        assert!(ts.contains(
            "export_backup: { args: { target: string, passphrase: string }, result: BackupSummary };"
        ), "{ts}");
        assert!(
            ts.contains(
                "export type ImportedBackup = { identity: IdentityInfo, backup: BackupSummary, "
            ),
            "{ts}"
        );
        assert!(ts.contains(
            "take_offer: { args: { offerId: string, amount: number, method: PaymentMethod, payout: string }, result: TradeInfo };"
        ), "{ts}");
        assert!(
            ts.contains(r#"export const TRADE_EVENT = "trade-event";"#),
            "{ts}"
        );
        // The protocol's tables, row for row, in the wire's words.
        assert!(ts.contains(
            r#"  { from: "Accepted", actor: "buyer", kind: "payment_sent", to: "PaymentSent", escrow: false },"#
        ), "{ts}");
        assert!(
            ts.contains(
                r#"  { from: null, party: "taker", kind: "take_request", to: "Requested" },"#
            ),
            "{ts}"
        );
        let rows = |name: &str| {
            ts.split(&format!("export const {name}"))
                .nth(1)
                .and_then(|rest| rest.split("];").next())
                .map_or(0, |table| table.matches("\n  { from: ").count())
        };
        assert_eq!(
            rows("NEGOTIATION_TRANSITIONS"),
            crate::protocol::negotiation::TRANSITIONS.len()
        );
        assert_eq!(
            rows("TRADE_TRANSITIONS"),
            crate::protocol::settlement::TRANSITIONS.len()
        );
        // The names come from the one command table; each once, each a TypeScript `Commands` key.
        let unique: std::collections::BTreeSet<&&str> = COMMAND_NAMES.iter().collect();
        assert_eq!(unique.len(), COMMAND_NAMES.len());
        for name in COMMAND_NAMES {
            assert!(ts.contains(&format!("\n  {name}: {{ args: ")), "{name}");
            assert!(ts.contains(&format!("\"{}\"", camel(name))), "{name}");
        }
        assert_eq!(camel("seed_words_file"), "seedWordsFile");
    }
}
