//! Souk's desktop window: a thin Tauri v2 shell. Every command is a one-line call into souk-core's
//! `Node`; errors cross as `{ kind, message }`. Nothing here decides anything about trading.
//!
//! Once an identity is unlocked (created, restored or opened), the shell starts the network with the
//! `[net]` settings from `souk.toml` and forwards every market event to the window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::{
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use souk_core::{
    Error, ErrorPayload,
    bindings::MARKET_EVENT,
    book::{BookEntry, BookQuery, MyOffer},
    config::{self, Config},
    logging,
    node::{AppStatus, CreatedIdentity, IdentityInfo, NetworkStatus, Node},
    offer::{Asset, NewOffer, Offer, Quote},
    price::MarketPrice,
};
use tauri::{AppHandle, Emitter, State};

type Reply<T> = Result<T, ErrorPayload>;
type NodeState<'a> = State<'a, Arc<Node>>;

#[tauri::command]
async fn app_status(node: NodeState<'_>) -> Reply<AppStatus> {
    Ok(node.status().await?)
}

#[tauri::command]
async fn create_identity(
    app: AppHandle,
    node: NodeState<'_>,
    passphrase: String,
) -> Reply<CreatedIdentity> {
    Ok(online(app, &node, node.create_identity(&passphrase).await?))
}

#[tauri::command]
async fn restore_identity(
    app: AppHandle,
    node: NodeState<'_>,
    words: String,
    passphrase: String,
) -> Reply<IdentityInfo> {
    Ok(online(
        app,
        &node,
        node.restore_identity(&words, &passphrase).await?,
    ))
}

#[tauri::command]
async fn unlock(app: AppHandle, node: NodeState<'_>, passphrase: String) -> Reply<IdentityInfo> {
    Ok(online(app, &node, node.unlock(&passphrase).await?))
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
async fn my_offers(node: NodeState<'_>) -> Reply<Vec<MyOffer>> {
    Ok(node.my_offers().await?)
}

#[tauri::command]
async fn post_offer(node: NodeState<'_>, offer: NewOffer) -> Reply<Offer> {
    Ok(node.post_offer(offer).await?)
}

#[tauri::command]
async fn withdraw_offer(node: NodeState<'_>, id: String) -> Reply<()> {
    let id = uuid_of(&id)?;
    Ok(node.withdraw_offer(id).await?)
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

fn uuid_of(text: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::from_str(text)
        .map_err(|_| Error::InvalidInput(format!("{text:?} is not an offer id (a UUID)")))
}

/// Starts the network in the background (it may wait on peers) and passes `value` through, so an
/// unlock answers at once; until the network is up, network calls answer `offline`.
fn online<T>(app: AppHandle, node: &Arc<Node>, value: T) -> T {
    // Once per process: a second unlock must not start a second event forwarder.
    if NETWORK_STARTED.swap(true, Ordering::SeqCst) {
        return value;
    }
    let node = node.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = start_network(&app, &node).await {
            tracing::error!(error = %e, "the network did not start");
            NETWORK_STARTED.store(false, Ordering::SeqCst);
        }
    });
    value
}

static NETWORK_STARTED: AtomicBool = AtomicBool::new(false);

async fn start_network(app: &AppHandle, node: &Node) -> Result<(), Error> {
    let (net, markets) = node.config().net.resolve()?;
    let info = node.start_network(net, &markets).await?;
    tracing::info!(peer_id = %info.peer_id, addrs = ?info.listen_addrs, "network started");
    let mut events = node.market_events().await?;
    let forward = app.clone();
    tauri::async_runtime::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Err(e) = forward.emit(MARKET_EVENT, &event) {
                        tracing::warn!(error = %e, "cannot send a market event to the window");
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the window missed market events");
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    // Learn what was posted before this node came up; gossip brings what is posted from now on.
    for (base, quote) in markets {
        if let Err(e) = node.refresh_market(base, quote).await {
            tracing::debug!(market = %format!("{base}/{quote}"), error = %e, "market refresh failed");
        }
    }
    Ok(())
}

fn main() {
    let data_dir = match std::env::var_os("SOUK_DATA_DIR") {
        Some(dir) => dir.into(),
        None => config::default_data_dir().unwrap_or_else(|e| fail(&e.to_string())),
    };
    let config = Config::load(&data_dir, &[]).unwrap_or_else(|e| fail(&e.to_string()));
    // A bad [net] section is reported now, not after the user typed a passphrase.
    if let Err(e) = config.net.resolve() {
        fail(&e.to_string());
    }
    let log_dir = config.log.file.then_some(data_dir.as_path());
    let _logs = logging::init(&config.log.level, log_dir);
    tracing::info!(data_dir = %data_dir.display(), "starting the desktop app");

    let result = tauri::Builder::default()
        .manage(Arc::new(Node::new(&data_dir, config)))
        .invoke_handler(tauri::generate_handler![
            app_status,
            create_identity,
            restore_identity,
            unlock,
            network_status,
            offers,
            my_offers,
            post_offer,
            withdraw_offer,
            refresh_market,
            market_price
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        fail(&format!("the window could not start: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}
