//! Souk's desktop window: a thin Tauri v2 shell. Every command is a one-line call into souk-core's
//! `Node`; errors cross as `{ kind, message }`. Nothing here decides anything about trading.
//!
//! Once an identity is unlocked (created, restored, imported from a backup or opened), the node goes
//! online by itself with the `[net]` settings from `souk.toml` (`Node::go_online_in_background`), Tor
//! mode included when it was chosen while setting up; every market and trade event is forwarded to the
//! window from the start. The node trades by `[trade]` (an arbitrator there decides disputes from the
//! window's Disputes screen).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod notify;
mod tray;
mod webkit;
mod window;

use std::{str::FromStr, sync::Arc};

use souk_core::{
    Error, ErrorPayload,
    bindings::{MARKET_EVENT, TRADE_EVENT},
    book::{BookEntry, BookPage, BookQuery, MyOffer, PageRequest},
    config::{self, Config},
    connection::{ChainCheck, ConnectionEdit, ConnectionSettings},
    events, logging,
    node::{
        AppStatus, BackupSettings, BackupSummary, ChainStatus, CreatedIdentity, IdentityInfo,
        ImportedBackup, NetworkStatus, Node, SavedConnection, SetupChoices,
    },
    offer::{Asset, NewOffer, Offer, PaymentMethod, Quote},
    preferences::Preferences,
    price::MarketPrice,
    reputation::Reputation,
    startup::StartupProgress,
    trading::{ChatMessage, Decision, DisputeInfo, TradeAnswer, TradeInfo},
};
use tauri::{AppHandle, Emitter, Manager, State};

type Reply<T> = Result<T, ErrorPayload>;
type NodeState<'a> = State<'a, Arc<Node>>;

#[tauri::command]
async fn app_status(node: NodeState<'_>) -> Reply<AppStatus> {
    Ok(node.status().await?)
}

/// `tor`: connect only through Tor, from this first start on (absent: no).
#[tauri::command]
async fn create_identity(
    node: NodeState<'_>,
    passphrase: String,
    tor: Option<bool>,
) -> Reply<CreatedIdentity> {
    let choices = SetupChoices {
        tor: tor.unwrap_or(false),
    };
    let created = node.create_identity_with(&passphrase, choices).await?;
    node.go_online_in_background();
    Ok(created)
}

#[tauri::command]
async fn restore_identity(
    node: NodeState<'_>,
    words: String,
    passphrase: String,
    tor: Option<bool>,
) -> Reply<IdentityInfo> {
    let choices = SetupChoices {
        tor: tor.unwrap_or(false),
    };
    let restored = node
        .restore_identity_with(&words, &passphrase, choices)
        .await?;
    node.go_online_in_background();
    Ok(restored)
}

/// Restores a backup file into the (empty) data directory; the node is then unlocked, as after a
/// restore from seed words.
#[tauri::command]
async fn import_backup(
    node: NodeState<'_>,
    source: String,
    passphrase: String,
) -> Reply<ImportedBackup> {
    let imported = node.import_backup(&source, &passphrase).await?;
    node.go_online_in_background();
    Ok(imported)
}

#[tauri::command]
async fn unlock(node: NodeState<'_>, passphrase: String) -> Reply<IdentityInfo> {
    let unlocked = node.unlock(&passphrase).await?;
    node.go_online_in_background();
    Ok(unlocked)
}

#[tauri::command]
async fn network_status(node: NodeState<'_>) -> Reply<NetworkStatus> {
    Ok(node.network_status().await?)
}

#[tauri::command]
async fn offers(node: NodeState<'_>, query: BookQuery) -> Reply<Vec<BookEntry>> {
    Ok(node.offers(&query).await?)
}

#[tauri::command]
async fn book_page(node: NodeState<'_>, query: BookQuery, page: PageRequest) -> Reply<BookPage> {
    Ok(node.book_page(&query, &page).await?)
}

#[tauri::command]
async fn my_offers(node: NodeState<'_>) -> Reply<Vec<MyOffer>> {
    Ok(node.my_offers().await?)
}

#[tauri::command]
async fn post_offer(node: NodeState<'_>, offer: NewOffer) -> Reply<Offer> {
    Ok(node.post_offer(offer).await?)
}

#[tauri::command]
async fn withdraw_offer(node: NodeState<'_>, id: String) -> Reply<()> {
    Ok(node.withdraw_offer(uuid_of(&id, "an offer id")?).await?)
}

#[tauri::command]
async fn refresh_market(node: NodeState<'_>, base: Asset, quote: Quote) -> Reply<u32> {
    let new = node.refresh_market(base, quote).await?;
    Ok(u32::try_from(new).unwrap_or(u32::MAX))
}

#[tauri::command]
async fn market_price(
    node: NodeState<'_>,
    base: Asset,
    quote: Quote,
) -> Reply<Option<MarketPrice>> {
    Ok(node.market_price(base, quote).await?)
}

#[tauri::command]
async fn take_offer(
    node: NodeState<'_>,
    offer_id: String,
    amount: u64,
    method: PaymentMethod,
    payout: String,
) -> Reply<TradeInfo> {
    let offer_id = uuid_of(&offer_id, "an offer id")?;
    Ok(node.take_offer(offer_id, amount, method, payout).await?)
}

#[tauri::command]
async fn answer_trade(
    node: NodeState<'_>,
    trade_id: String,
    answer: TradeAnswer,
) -> Reply<TradeInfo> {
    Ok(node.answer_trade(trade_of(&trade_id)?, answer).await?)
}

#[tauri::command]
async fn trades(node: NodeState<'_>) -> Reply<Vec<TradeInfo>> {
    Ok(node.trades().await?)
}

#[tauri::command]
async fn trade(node: NodeState<'_>, trade_id: String) -> Reply<TradeInfo> {
    Ok(node.trade(trade_of(&trade_id)?).await?)
}

#[tauri::command]
async fn chat_log(node: NodeState<'_>, trade_id: String) -> Reply<Vec<ChatMessage>> {
    Ok(node.chat_log(trade_of(&trade_id)?).await?)
}

#[tauri::command]
async fn send_chat(node: NodeState<'_>, trade_id: String, text: String) -> Reply<ChatMessage> {
    Ok(node.send_chat(trade_of(&trade_id)?, text).await?)
}

#[tauri::command]
async fn mark_read(node: NodeState<'_>, trade_id: String) -> Reply<u32> {
    Ok(node.mark_read(trade_of(&trade_id)?).await?)
}

#[tauri::command]
async fn set_escrow_address(
    node: NodeState<'_>,
    trade_id: String,
    address: String,
) -> Reply<TradeInfo> {
    Ok(node
        .set_escrow_address(trade_of(&trade_id)?, &address)
        .await?)
}

#[tauri::command]
async fn fund_from_wallet(
    node: NodeState<'_>,
    trade_id: String,
    wallet: String,
    broadcast: bool,
) -> Reply<souk_core::trading::WalletFunding> {
    Ok(node
        .fund_from_wallet(trade_of(&trade_id)?, wallet.trim(), broadcast)
        .await?)
}

#[tauri::command]
async fn mark_paid(node: NodeState<'_>, trade_id: String) -> Reply<TradeInfo> {
    Ok(node.mark_paid(trade_of(&trade_id)?).await?)
}

#[tauri::command]
async fn mark_received(node: NodeState<'_>, trade_id: String) -> Reply<TradeInfo> {
    Ok(node.mark_received(trade_of(&trade_id)?).await?)
}

#[tauri::command]
async fn cancel_trade(node: NodeState<'_>, trade_id: String, reason: String) -> Reply<TradeInfo> {
    Ok(node.cancel_trade(trade_of(&trade_id)?, reason).await?)
}

#[tauri::command]
async fn dispute_trade(node: NodeState<'_>, trade_id: String, reason: String) -> Reply<TradeInfo> {
    Ok(node.dispute_trade(trade_of(&trade_id)?, reason).await?)
}

#[tauri::command]
async fn preferences(node: NodeState<'_>) -> Reply<Preferences> {
    Ok(node.preferences().await?)
}

#[tauri::command]
async fn save_preferences(node: NodeState<'_>, preferences: Preferences) -> Reply<Preferences> {
    Ok(node.save_preferences(preferences).await?)
}

#[tauri::command]
async fn chain_status(node: NodeState<'_>) -> Reply<ChainStatus> {
    Ok(node.chain_status().await?)
}

#[tauri::command]
async fn disputes(node: NodeState<'_>) -> Reply<Vec<DisputeInfo>> {
    Ok(node.disputes().await?)
}

#[tauri::command]
async fn dispute_info(node: NodeState<'_>, trade_id: String) -> Reply<DisputeInfo> {
    Ok(node.dispute_info(trade_of(&trade_id)?).await?)
}

#[tauri::command]
async fn resolve_dispute(
    node: NodeState<'_>,
    trade_id: String,
    decision: Decision,
) -> Reply<DisputeInfo> {
    Ok(node
        .resolve_dispute(trade_of(&trade_id)?, &decision)
        .await?)
}

#[tauri::command]
async fn startup_progress(node: NodeState<'_>) -> Reply<StartupProgress> {
    Ok(node.startup_progress())
}

/// Runs the network phases again after one failed (with the bootstrap peers saved since); the
/// progress says how it went.
#[tauri::command]
async fn retry_startup(node: NodeState<'_>) -> Reply<StartupProgress> {
    Ok(node.retry_online().await?)
}

#[tauri::command]
async fn connection_settings(node: NodeState<'_>) -> Reply<ConnectionSettings> {
    Ok(node.connection_settings()?)
}

#[tauri::command]
async fn save_connection_settings(
    node: NodeState<'_>,
    edit: ConnectionEdit,
) -> Reply<SavedConnection> {
    Ok(node.save_connection_settings(edit).await?)
}

#[tauri::command]
async fn test_chain_connection(node: NodeState<'_>, edit: ConnectionEdit) -> Reply<ChainCheck> {
    Ok(node.test_chain_connection(edit).await?)
}

/// Writes an encrypted backup to `target` (a new file, or a folder for a time-named one), sealed
/// with the keystore's passphrase.
#[tauri::command]
async fn export_backup(
    node: NodeState<'_>,
    target: String,
    passphrase: String,
) -> Reply<BackupSummary> {
    Ok(node.export_backup(&target, &passphrase).await?)
}

/// Automatic backups as they stand.
#[tauri::command]
async fn backup_settings(node: NodeState<'_>) -> Reply<BackupSettings> {
    Ok(node.backup_settings().await?)
}

/// Turns automatic backups on (a folder; the passphrase seals them) or off (an empty folder).
#[tauri::command]
async fn save_backup_settings(
    node: NodeState<'_>,
    folder: String,
    keep: u32,
    passphrase: String,
) -> Reply<BackupSettings> {
    Ok(node
        .save_backup_settings(&folder, keep, &passphrase)
        .await?)
}

/// A peer's reputation from its trade receipts, verified by this node.
#[tauri::command]
async fn reputation(node: NodeState<'_>, peer: String) -> Reply<Reputation> {
    Ok(node.reputation(&peer).await?)
}

/// Rates the counterparty of an ended trade (1–5 stars, a short comment).
#[tauri::command]
async fn rate_trade(
    node: NodeState<'_>,
    trade_id: String,
    stars: u8,
    comment: String,
) -> Reply<()> {
    Ok(node
        .rate_trade(trade_of(&trade_id)?, stars, &comment)
        .await?)
}

fn uuid_of(text: &str, what: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::from_str(text)
        .map_err(|_| Error::InvalidInput(format!("{text:?} is not {what} (a UUID)")))
}

fn trade_of(text: &str) -> Result<uuid::Uuid, Error> {
    uuid_of(text, "a trade id")
}

/// Sends every event of `events` to the window as `name`; a window that fell behind is told how many
/// it missed (`{"kind": "lagged", "missed": N}`), so the UI reads everything again.
fn forward<T: serde::Serialize + Clone + Send + 'static>(
    app: &AppHandle,
    name: &'static str,
    mut events: tokio::sync::broadcast::Receiver<T>,
) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events::next(&mut events).await {
            if let events::Followed::Lagged(lag) = &event {
                tracing::warn!(
                    missed = lag.missed,
                    event = name,
                    "the window missed events"
                );
            }
            if let Err(e) = app.emit(name, &event) {
                tracing::warn!(error = %e, event = name, "cannot send an event to the window");
            }
        }
    });
}

/// Tauri's handler list, from the core's command table: a command of the table this shell lacks does
/// not compile (no such function), and one it has that is not in the table is dead code, refused by
/// `clippy -D warnings`.
macro_rules! tauri_handlers {
    ($($name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty;)*) => {
        tauri::generate_handler![$($name),*]
    };
}

fn main() {
    webkit::choose_environment();
    let data_dir = match std::env::var_os("SOUK_DATA_DIR") {
        Some(dir) => dir.into(),
        None => config::default_data_dir().unwrap_or_else(|e| fail(&e.to_string())),
    };
    let config = Config::load(&data_dir, &[]).unwrap_or_else(|e| fail(&e.to_string()));
    // A bad [net] or [trade] section is reported now, not after the user typed a passphrase.
    if let Err(e) = config.net.resolve() {
        fail(&e.to_string());
    }
    let trade_config = config
        .trade
        .resolve()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let log_dir = config.log.file.then_some(data_dir.as_path());
    let _logs = logging::init(&config.log.level, log_dir);
    tracing::info!(data_dir = %data_dir.display(), "starting the desktop app");

    let node = Arc::new(Node::new(&data_dir, config).with_trade_config(trade_config));
    let shell = window::Shell {
        node: node.clone(),
        data_dir: data_dir.clone(),
    };
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .manage(node)
        .manage(shell)
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            window::restore(app.handle(), &data_dir);
            tray::install(app.handle());
            let node = app.state::<Arc<Node>>();
            notify::show_alerts(app.handle(), node.alerts());
            forward(app.handle(), MARKET_EVENT, node.market_events());
            forward(app.handle(), TRADE_EVENT, node.trade_events());
            tray::follow(app.handle(), node.trade_events());
            Ok(())
        })
        .invoke_handler(souk_core::command_table!(tauri_handlers))
        .run(tauri::generate_context!());
    if let Err(e) = result {
        fail(&format!("the window could not start: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}
