//! [`ChainBackend`] over the Electrum protocol (ElectrumX / e-x, Fulcrum, electrs), for users who run no
//! node of their own: `tcp://host:port` or `ssl://host:port` (TLS: a public certificate for the host, or
//! the one pinned by its fingerprint, see [`super::tls`]).
//!
//! The protocol is spoken by the `electrum-client` crate (BDK's, blocking: each call runs on tokio's
//! blocking pool). Each escrow script is subscribed to (`blockchain.scripthash.subscribe`); the
//! histories (`blockchain.scripthash.get_history`) are read again only when the server says a script's
//! status changed, when the tip changed (a block or a reorg), or after [`REFRESH`], all stale ones in
//! one batch, and every transaction is read once.
//! A watcher pass over open trades with nothing new therefore costs one request (the tip, which also
//! takes in the server's notifications), whatever the size of the UTXO set. Requests go out in
//! batches because servers delay small answers: ElectrumX pads them and waits up to a second for more
//! to send, against traffic analysis, so N requests one after another would take N seconds. Outputs and spends are worked out from the
//! history the same way as the Core backend reports them: confirmed outputs stay listed while a spend
//! waits in the mempool; mempool outputs are listed unless spent.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bitcoin::{Amount, FeeRate, OutPoint, Script, ScriptBuf, Transaction, Txid, hex::DisplayHex};
use electrum_client::ElectrumApi;

use super::{
    ChainBackend, ChainError, Utxo,
    rpc::GENESIS,
    tls::{self, Fingerprint, Target},
};
use crate::{
    config::ChainConfig,
    escrow::{ChainParams, Network},
};

/// How long a script's history is trusted without a notification.
const REFRESH: Duration = Duration::from_secs(30);
/// How long the tip read from the server is reused within one watcher pass.
const TIP_TTL: Duration = Duration::from_millis(500);
/// How long a transaction this backend broadcast counts as in the mempool until the server's history
/// shows it (servers index their mempool every few seconds; ElectrumX every 5 s by default), so it is
/// neither taken for lost nor broadcast again meanwhile. Once a history showed it, only the server's
/// word counts.
const SENT_GRACE: Duration = Duration::from_secs(60);
/// Blocks `blockchain.estimatefee` aims to confirm within.
const FEE_TARGET_BLOCKS: usize = 2;

/// Connections beside the watching one, for reads, broadcasts and fee estimates.
const READERS: usize = 2;

/// The protocol over TCP or TLS (see [`tls::connect`]).
type Client = electrum_client::raw_client::RawClient<tls::Stream>;

/// Which connection a request goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// The connection holding the subscriptions (its notifications are read with the tip).
    Watch,
    /// Any of the [`READERS`].
    Read,
}

/// An Electrum server, checked at connect time to serve the configured chain and network.
///
/// Each connection carries one request (or batch) at a time: `electrum-client` can share a connection
/// between threads, but a server error answering one of them can leave another with the wrong answer
/// or none. The watching connection holds the subscriptions; reads go over the others, so a pass's
/// steps (tip, then histories, then transactions) each find an idle connection that servers answer at
/// once (ElectrumX delays an answer on a connection that sent one less than a second ago).
pub struct ElectrumBackend {
    /// The watching connection first, then the [`READERS`]; each replaced by a new connection when it
    /// fails (see [`Self::call`]).
    conns: Vec<tokio::sync::Mutex<Arc<Client>>>,
    /// Which reader the next read tries first.
    next_reader: std::sync::atomic::AtomicUsize,
    timeout: Duration,
    url: String,
    target: Target,
    /// The server's certificate, when pinned.
    pin: Option<Fingerprint>,
    chain: crate::escrow::Chain,
    network: Network,
    fee_floor: FeeRate,
    state: Arc<Mutex<State>>,
    /// Requests sent so far (each script of a subscription, each transaction of a batch).
    requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ElectrumBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectrumBackend")
            .field("url", &self.url)
            .field("chain", &self.chain)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// The tip's height and hash, and when they were read.
    tip: Option<(u64, bitcoin::BlockHash, Instant)>,
    scripts: HashMap<ScriptBuf, Watched>,
    /// Every transaction read so far (a txid's contents never change).
    txs: HashMap<Txid, Transaction>,
    /// Transactions this backend broadcast, and when (see [`SENT_GRACE`]).
    sent: HashMap<Txid, Instant>,
}

struct Watched {
    /// The history as last fetched; `None` until fetched or after the server said it changed.
    history: Option<History>,
}

/// A script's history: txid and height (0 or -1 while in the mempool), with the tip (hash) and time it
/// was fetched at.
type History = (Vec<(Txid, i32)>, bitcoin::BlockHash, Instant);

fn locked(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ElectrumBackend {
    /// Connects (TCP or TLS), and checks that the server serves `config.chain`/`config.network`.
    pub async fn connect(config: &ChainConfig) -> Result<Self, ChainError> {
        let url = config.electrum_url.trim().to_owned();
        let target = Target::parse(&url)?;
        let pin = tls::parse_fingerprint(&config.electrum_cert_sha256)?;
        if pin.is_some() && !target.tls {
            return Err(ChainError::Config(format!(
                "electrum_cert_sha256 pins a TLS certificate, but `{url}` is plain TCP: use ssl://"
            )));
        }
        let fee_floor =
            FeeRate::from_sat_per_vb(config.fee_floor_sat_vb.max(1)).ok_or_else(|| {
                ChainError::Config(format!(
                    "fee_floor_sat_vb {} is too large",
                    config.fee_floor_sat_vb
                ))
            })?;
        let timeout = Duration::from_secs(config.rpc_timeout_secs.clamp(1, 255));
        let mut conns = Vec::with_capacity(1 + READERS);
        for _ in 0..=READERS {
            conns.push(tokio::sync::Mutex::new(
                open(&url, &target, pin, timeout).await?,
            ));
        }
        let backend = Self {
            conns,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            timeout,
            url,
            target,
            pin,
            chain: config.chain,
            network: config.network,
            fee_floor,
            state: Arc::new(Mutex::new(State::default())),
            requests: std::sync::atomic::AtomicU64::new(0),
        };
        backend.check_chain().await?;
        Ok(backend)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests sent to the server so far.
    pub fn calls_made(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn chain(&self) -> crate::escrow::Chain {
        self.chain
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// Calls the server on the blocking pool, over a connection of `lane` that nothing else uses
    /// meanwhile: an idle reader if there is one. A connection that failed is replaced (for the
    /// watching one, subscriptions are made again then, and every history read afresh).
    async fn call<T: Send + 'static>(
        &self,
        lane: Lane,
        method: &'static str,
        requests: usize,
        f: impl FnOnce(&Client) -> Result<T, electrum_client::Error> + Send + 'static,
    ) -> Result<T, ChainError> {
        self.requests.fetch_add(
            u64::try_from(requests).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut conn = match lane {
            Lane::Watch => self.conns[0].lock().await,
            Lane::Read => {
                let first = self
                    .next_reader
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let idle = (0..READERS)
                    .map(|i| 1 + (first + i) % READERS)
                    .find_map(|i| self.conns[i].try_lock().ok());
                match idle {
                    Some(guard) => guard,
                    None => self.conns[1 + first % READERS].lock().await,
                }
            }
        };
        let client = conn.clone();
        let url = self.url.clone();
        let result =
            tokio::task::spawn_blocking(move || f(&client).map_err(|e| error(&url, method, e)))
                .await
                .map_err(|e| ChainError::BadResponse {
                    method: method.into(),
                    reason: format!("the call's task: {e}"),
                })?;
        if let Err(ChainError::Unreachable { .. }) = &result
            && let Ok(fresh) = open(&self.url, &self.target, self.pin, self.timeout).await
        {
            *conn = fresh;
            if lane == Lane::Watch {
                let mut state = locked(&self.state);
                state.scripts.clear();
                state.tip = None;
            }
        }
        result
    }

    async fn check_chain(&self) -> Result<(), ChainError> {
        let features = self
            .call(Lane::Watch, "server.features", 1, |c| c.server_features())
            .await?;
        let expected = ChainParams::of(self.chain, self.network).describe();
        let mut genesis = features.genesis_hash;
        let forward = genesis.to_lower_hex_string();
        genesis.reverse();
        let reversed = genesis.to_lower_hex_string();
        match GENESIS
            .iter()
            .find(|(hash, ..)| *hash == forward || *hash == reversed)
        {
            Some((_, chain, network)) if (*chain, *network) == (self.chain, self.network) => Ok(()),
            Some((_, chain, network)) => Err(ChainError::WrongChain {
                expected,
                node: ChainParams::of(*chain, *network).describe(),
            }),
            None => Err(ChainError::WrongChain {
                expected,
                node: format!("a chain whose genesis block is {forward}"),
            }),
        }
    }

    /// The tip, read at most every [`TIP_TTL`]; reading it also takes in the server's notifications.
    async fn tip(&self) -> Result<u64, ChainError> {
        Ok(self.tip_block().await?.0)
    }

    /// The tip's height and hash (see [`Self::tip`]).
    async fn tip_block(&self) -> Result<(u64, bitcoin::BlockHash), ChainError> {
        if let Some((tip, hash, at)) = locked(&self.state).tip
            && at.elapsed() < TIP_TTL
        {
            return Ok((tip, hash));
        }
        let header = self
            .call(Lane::Watch, "blockchain.headers.subscribe", 1, |c| {
                c.block_headers_subscribe()
            })
            .await?;
        let tip = u64::try_from(header.height).unwrap_or(u64::MAX);
        let hash = header.header.block_hash();
        locked(&self.state).tip = Some((tip, hash, Instant::now()));
        Ok((tip, hash))
    }

    /// Subscribes to `scripts` not subscribed yet, in one batch.
    async fn subscribe(&self, scripts: &[ScriptBuf]) -> Result<(), ChainError> {
        let new: Vec<ScriptBuf> = {
            let state = locked(&self.state);
            scripts
                .iter()
                .filter(|s| !state.scripts.contains_key(*s))
                .cloned()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        let subscribe = new.clone();
        self.call(
            Lane::Watch,
            "blockchain.scripthash.subscribe",
            new.len(),
            move |c| {
                match c.batch_script_subscribe(subscribe.iter().map(ScriptBuf::as_script)) {
                    // Another task subscribed one of them a moment ago: one by one then.
                    Err(electrum_client::Error::AlreadySubscribed(_)) => {
                        for script in &subscribe {
                            match c.script_subscribe(script) {
                                Ok(_) | Err(electrum_client::Error::AlreadySubscribed(_)) => {}
                                Err(e) => return Err(e),
                            }
                        }
                        Ok(())
                    }
                    other => other.map(drop),
                }
            },
        )
        .await?;
        let mut state = locked(&self.state);
        for script in new {
            state
                .scripts
                .entry(script)
                .or_insert(Watched { history: None });
        }
        Ok(())
    }

    /// The script's history, as [`Self::refresh`] keeps it.
    async fn history(&self, script: &Script) -> Result<Vec<(Txid, i32)>, ChainError> {
        self.subscribe(&[script.to_owned()]).await?;
        self.refresh().await?;
        Ok(locked(&self.state)
            .scripts
            .get(script)
            .and_then(|w| w.history.as_ref())
            .map(|(history, ..)| history.clone())
            .unwrap_or_default())
    }

    /// Reads the histories that are stale (the server said the script's status changed, never read,
    /// or older than [`REFRESH`]), all in one batch, and the transactions not read yet in another.
    /// Nothing is sent when nothing is stale. Servers delay small answers (ElectrumX pads and batches
    /// them for up to a second against traffic analysis), so requests go out in batches, never one
    /// script after another.
    async fn refresh(&self) -> Result<(), ChainError> {
        // Reading the tip takes in what the server pushed meanwhile.
        let (_, tip) = self.tip_block().await?;
        let scripts: Vec<ScriptBuf> = locked(&self.state).scripts.keys().cloned().collect();
        let changed: Vec<ScriptBuf> = {
            let scripts = scripts.clone();
            // Reads what the connection already received: no request.
            self.call(
                Lane::Watch,
                "blockchain.scripthash.subscribe",
                0,
                move |c| {
                    let mut changed = Vec::new();
                    for script in scripts {
                        let mut notified = false;
                        loop {
                            match c.script_pop(&script) {
                                Ok(Some(_)) => notified = true,
                                Ok(None) | Err(electrum_client::Error::NotSubscribed(_)) => break,
                                Err(e) => return Err(e),
                            }
                        }
                        if notified {
                            changed.push(script);
                        }
                    }
                    Ok(changed)
                },
            )
            .await?
        };
        let stale: Vec<ScriptBuf> = {
            let mut state = locked(&self.state);
            for script in &changed {
                if let Some(w) = state.scripts.get_mut(script) {
                    w.history = None;
                }
            }
            state
                .scripts
                .iter()
                // A new tip (a block, or a reorg) can move any history: all are read again, in the one
                // batch. Servers do not always notify every script a reorg touched.
                .filter(|(_, w)| {
                    w.history
                        .as_ref()
                        .is_none_or(|(_, at_tip, at)| *at_tip != tip || at.elapsed() >= REFRESH)
                })
                .map(|(s, _)| s.clone())
                .collect()
        };
        if stale.is_empty() {
            return Ok(());
        }
        let ask = stale.clone();
        let histories = self
            .call(
                Lane::Read,
                "blockchain.scripthash.get_history",
                stale.len(),
                move |c| c.batch_script_get_history(ask.iter().map(ScriptBuf::as_script)),
            )
            .await?;
        let histories: Vec<Vec<(Txid, i32)>> = histories
            .into_iter()
            .map(|h| h.into_iter().map(|h| (h.tx_hash, h.height)).collect())
            .collect();
        let gone = self
            .fetch_listed(
                histories
                    .iter()
                    .flatten()
                    .map(|(t, _)| *t)
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect(),
            )
            .await?;
        // A mempool entry the server's node no longer has (dropped, or the node restarted) before the
        // server noticed: not there.
        let histories: Vec<Vec<(Txid, i32)>> = histories
            .into_iter()
            .map(|h| {
                h.into_iter()
                    .filter(|(t, height)| *height > 0 || !gone.contains(t))
                    .collect()
            })
            .collect();
        let mut state = locked(&self.state);
        let now = Instant::now();
        for (script, history) in stale.into_iter().zip(histories) {
            // What this backend broadcast is in the server's index now: only its word counts from here
            // (it may lose it again).
            for (txid, _) in &history {
                state.sent.remove(txid);
            }
            if let Some(w) = state.scripts.get_mut(&script) {
                w.history = Some((history, tip, now));
            }
        }
        Ok(())
    }

    /// [`Self::fetch`] for the transactions of histories: those the server cannot give (its node lost
    /// them from its mempool a moment ago; the history lags) are returned instead of failing the whole
    /// read, one request each (rare).
    async fn fetch_listed(&self, txids: Vec<Txid>) -> Result<HashSet<Txid>, ChainError> {
        match self.fetch(txids.clone()).await {
            Ok(()) => Ok(HashSet::new()),
            Err(ChainError::Rpc { .. }) => {
                let mut gone = HashSet::new();
                for txid in txids {
                    match self.fetch(vec![txid]).await {
                        Ok(()) => {}
                        Err(ChainError::Rpc { message, .. }) => {
                            tracing::debug!(%txid, %message, "listed by the server, unknown to its node");
                            gone.insert(txid);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(gone)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the transactions not read yet.
    async fn fetch(&self, txids: Vec<Txid>) -> Result<(), ChainError> {
        let missing: Vec<Txid> = {
            let state = locked(&self.state);
            txids
                .into_iter()
                .filter(|t| !state.txs.contains_key(t))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let ids = missing.clone();
        let txs = self
            .call(
                Lane::Read,
                "blockchain.transaction.get",
                missing.len(),
                move |c| c.batch_transaction_get(&ids),
            )
            .await?;
        let mut state = locked(&self.state);
        for (txid, tx) in missing.into_iter().zip(txs) {
            if tx.compute_txid() != txid {
                return Err(ChainError::BadResponse {
                    method: "blockchain.transaction.get".into(),
                    reason: format!("asked for {txid}, got {}", tx.compute_txid()),
                });
            }
            state.txs.insert(txid, tx);
        }
        Ok(())
    }

    /// The fee `txid` pays while it waits in the mempool; `None` when it is not there (or not a
    /// transaction of a watched script).
    pub async fn mempool_fee(&self, txid: &Txid) -> Result<Option<Amount>, ChainError> {
        if self.height_of(txid).await?.is_none_or(|h| h > 0) {
            return Ok(None);
        }
        let Some(tx) = locked(&self.state).txs.get(txid).cloned() else {
            return Ok(None);
        };
        self.fetch(tx.input.iter().map(|i| i.previous_output.txid).collect())
            .await?;
        let state = locked(&self.state);
        let mut paid_in = Amount::ZERO;
        for input in &tx.input {
            let prev = state
                .txs
                .get(&input.previous_output.txid)
                .and_then(|p| p.output.get(input.previous_output.vout as usize))
                .ok_or_else(|| ChainError::BadResponse {
                    method: "blockchain.transaction.get".into(),
                    reason: format!("{} has no output {}", txid, input.previous_output),
                })?;
            paid_in += prev.value;
        }
        let paid_out: Amount = tx.output.iter().map(|o| o.value).sum();
        Ok(paid_in.checked_sub(paid_out))
    }
}

impl ElectrumBackend {
    /// The height of `txid` in the history of a watched script (0 or -1 in the mempool); `None` when
    /// no watched script's history holds it.
    async fn height_of(&self, txid: &Txid) -> Result<Option<i32>, ChainError> {
        self.refresh().await?;
        let state = locked(&self.state);
        let known = state
            .scripts
            .values()
            .filter_map(|w| w.history.as_ref())
            .flat_map(|(history, ..)| history.iter())
            .find(|(t, _)| t == txid)
            .map(|(_, h)| *h);
        if known.is_some() {
            return Ok(known);
        }
        // Just broadcast, not in the server's index yet: in the mempool.
        let just_sent = state
            .sent
            .get(txid)
            .is_some_and(|at| at.elapsed() < SENT_GRACE);
        Ok(just_sent.then_some(0))
    }
}

impl ChainBackend for ElectrumBackend {
    async fn tip_height(&self) -> Result<u64, ChainError> {
        self.tip().await
    }

    async fn fee_rate(&self) -> Result<FeeRate, ChainError> {
        let (estimate, relay) = self
            .call(Lane::Read, "blockchain.estimatefee", 2, |c| {
                Ok((c.estimate_fee(FEE_TARGET_BLOCKS)?, c.relay_fee()?))
            })
            .await?;
        // Coins per kvB; -1 (or 0) when the server has no estimate yet.
        let rate = |coins: f64| -> Option<FeeRate> {
            let per_kvb = Amount::from_btc(coins).ok()?.to_sat();
            (per_kvb > 0).then(|| FeeRate::from_sat_per_kwu(per_kvb.div_ceil(4)))
        };
        Ok(rate(estimate)
            .unwrap_or(self.fee_floor)
            .max(self.fee_floor)
            .max(rate(relay).unwrap_or(FeeRate::ZERO)))
    }

    async fn watch(&self, scripts: &[ScriptBuf], _birth: u64) -> Result<(), ChainError> {
        // The server indexes every script: nothing to import, only to subscribe.
        self.subscribe(scripts).await
    }

    async fn outputs(&self, script_pubkey: &Script) -> Result<Vec<Utxo>, ChainError> {
        let history = self.history(script_pubkey).await?;
        let tip = self.tip().await?;
        let state = locked(&self.state);
        // Outpoints spent by a transaction of the history, in a block or only in the mempool.
        let mut spent_confirmed = HashSet::new();
        let mut spent_pending = HashSet::new();
        for (txid, height) in &history {
            let Some(tx) = state.txs.get(txid) else {
                continue;
            };
            for input in &tx.input {
                if *height > 0 {
                    spent_confirmed.insert(input.previous_output);
                } else {
                    spent_pending.insert(input.previous_output);
                }
            }
        }
        let mut utxos = Vec::new();
        for (txid, height) in &history {
            let Some(tx) = state.txs.get(txid) else {
                continue;
            };
            for (vout, out) in tx.output.iter().enumerate() {
                if out.script_pubkey.as_script() != script_pubkey {
                    continue;
                }
                let outpoint = OutPoint::new(*txid, u32::try_from(vout).unwrap_or(u32::MAX));
                if spent_confirmed.contains(&outpoint) {
                    continue;
                }
                if *height > 0 {
                    let height = u64::try_from(*height).unwrap_or(0);
                    utxos.push(Utxo {
                        outpoint,
                        value: out.value,
                        height,
                        confirmations: u32::try_from((tip + 1).saturating_sub(height))
                            .unwrap_or(u32::MAX),
                    });
                } else if !spent_pending.contains(&outpoint) {
                    utxos.push(Utxo {
                        outpoint,
                        value: out.value,
                        height: 0,
                        confirmations: 0,
                    });
                }
            }
        }
        utxos.sort_by_key(|u| (u.confirmations == 0, u.height, u.outpoint));
        Ok(utxos)
    }

    async fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        let txid = tx.compute_txid();
        let owned = tx.clone();
        match self
            .call(
                Lane::Read,
                "blockchain.transaction.broadcast",
                1,
                move |c| c.transaction_broadcast(&owned),
            )
            .await
        {
            Ok(_) => {}
            Err(ChainError::Rpc { message, .. })
                if ["already in", "already known", "already-known", "already-in"]
                    .iter()
                    .any(|m| message.contains(m)) => {}
            Err(ChainError::Rpc { message, .. }) => {
                return Err(ChainError::Rejected {
                    txid,
                    reason: message,
                });
            }
            Err(e) => return Err(e),
        }
        // The scripts it touches are read again at the next look.
        let mut state = locked(&self.state);
        for out in &tx.output {
            if let Some(w) = state.scripts.get_mut(&out.script_pubkey) {
                w.history = None;
            }
        }
        let spent: Vec<ScriptBuf> = tx
            .input
            .iter()
            .filter_map(|i| {
                state
                    .txs
                    .get(&i.previous_output.txid)
                    .and_then(|p| p.output.get(i.previous_output.vout as usize))
                    .map(|o| o.script_pubkey.clone())
            })
            .collect();
        for script in spent {
            if let Some(w) = state.scripts.get_mut(&script) {
                w.history = None;
            }
        }
        state.txs.insert(txid, tx.clone());
        state.sent.retain(|_, at| at.elapsed() < SENT_GRACE);
        state.sent.insert(txid, Instant::now());
        Ok(txid)
    }

    async fn confirmations(&self, txid: &Txid) -> Result<Option<u32>, ChainError> {
        let tip = self.tip().await?;
        // Souk asks only about transactions of scripts it watches: any other is unknown here.
        Ok(self.height_of(txid).await?.map(|height| {
            if height > 0 {
                u32::try_from((tip + 1).saturating_sub(u64::try_from(height).unwrap_or(0)))
                    .unwrap_or(u32::MAX)
            } else {
                0
            }
        }))
    }
}

/// A new connection, introduced to the server (`server.version` must come first; over TLS it carries
/// the handshake). A certificate that is not trusted is named by its fingerprint.
async fn open(
    url: &str,
    target: &Target,
    pin: Option<Fingerprint>,
    timeout: Duration,
) -> Result<Arc<Client>, ChainError> {
    let to = target.clone();
    let (result, seen) = tokio::task::spawn_blocking(move || {
        let (stream, seen) = match tls::connect(&to, pin, timeout) {
            Ok(opened) => opened,
            Err(e) => {
                return (
                    Err(electrum_client::Error::IOError(e)),
                    tls::Seen::default(),
                );
            }
        };
        let client = Client::from(stream);
        let hello = client.raw_call(
            "server.version",
            [
                electrum_client::Param::String(concat!("souk/", env!("CARGO_PKG_VERSION")).into()),
                electrum_client::Param::String("1.4".into()),
            ],
        );
        (hello.map(|_| Arc::new(client)), seen)
    })
    .await
    .map_err(|e| ChainError::Config(format!("the Electrum connection task: {e}")))?;
    result.map_err(|e| match seen.untrusted() {
        Some(fingerprint) => ChainError::Certificate {
            url: url.to_owned(),
            fingerprint: tls::show_fingerprint(&fingerprint),
            reason: e.to_string(),
        },
        None => unreachable(url, &e),
    })
}

fn unreachable(url: &str, e: &electrum_client::Error) -> ChainError {
    ChainError::Unreachable {
        url: url.to_owned(),
        reason: match e {
            electrum_client::Error::IOError(io) => format!(
                "{io}: is the Electrum server running, and do the host, port and tcp:// or ssl:// agree?"
            ),
            other => other.to_string(),
        },
    }
}

fn error(url: &str, method: &str, e: electrum_client::Error) -> ChainError {
    match e {
        electrum_client::Error::IOError(_)
        | electrum_client::Error::AllAttemptsErrored(_)
        | electrum_client::Error::SharedIOError(_)
        | electrum_client::Error::CouldntLockReader
        | electrum_client::Error::Mpsc => unreachable(url, &e),
        electrum_client::Error::Protocol(value) => ChainError::Rpc {
            method: method.into(),
            code: value
                .get("code")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
            message: value
                .get("message")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| value.to_string(), str::to_owned),
        },
        other => ChainError::BadResponse {
            method: method.into(),
            reason: other.to_string(),
        },
    }
}
