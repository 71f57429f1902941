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
//!
//! This file holds the backend, its construction and the check of the server's chain, and the
//! [`ChainBackend`] answers; [`connection`] the connections (opening, lanes, replacing a failed one,
//! errors), [`history`] the tip, the subscriptions and the histories and transactions read from them.

mod connection;
mod history;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bitcoin::{Amount, FeeRate, OutPoint, Script, ScriptBuf, Transaction, Txid, hex::DisplayHex};
use electrum_client::ElectrumApi;

use super::{
    ChainBackend, ChainError, ChainFuture, Utxo,
    rpc::GENESIS,
    tls::{self, Fingerprint, Target},
};
use crate::{
    config::ChainConfig,
    escrow::{ChainParams, Network},
};
use connection::open;

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
        let target = Target {
            proxy: config.proxy,
            ..Target::parse(&url)?
        };
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
}

impl ChainBackend for ElectrumBackend {
    fn tip_height<'a>(&'a self) -> ChainFuture<'a, u64> {
        Box::pin(async move { self.tip().await })
    }

    fn fee_rate<'a>(&'a self) -> ChainFuture<'a, FeeRate> {
        Box::pin(async move {
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
        })
    }

    fn watch<'a>(&'a self, scripts: &'a [ScriptBuf], _birth: u64) -> ChainFuture<'a, ()> {
        Box::pin(async move {
            // The server indexes every script: nothing to import, only to subscribe.
            self.subscribe(scripts).await
        })
    }

    fn outputs<'a>(&'a self, script_pubkey: &'a Script) -> ChainFuture<'a, Vec<Utxo>> {
        Box::pin(async move {
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
        })
    }

    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, Txid> {
        Box::pin(async move {
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
        })
    }

    fn confirmations<'a>(&'a self, txid: &'a Txid) -> ChainFuture<'a, Option<u32>> {
        Box::pin(async move {
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
        })
    }

    fn transaction_at<'a>(
        &'a self,
        txid: &'a Txid,
        height: u32,
    ) -> ChainFuture<'a, Option<Transaction>> {
        Box::pin(async move {
            let id = *txid;
            let at = height as usize;
            // The server's word is not the chain: the transaction must be in the block's merkle tree.
            let proof = match self
                .call(
                    Lane::Read,
                    "blockchain.transaction.get_merkle",
                    1,
                    move |c| c.transaction_get_merkle(&id, at),
                )
                .await
            {
                Ok(proof) => proof,
                Err(ChainError::Rpc { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            if proof.block_height != at {
                return Ok(None);
            }
            let header = match self
                .call(Lane::Read, "blockchain.block.header", 1, move |c| {
                    c.block_header(at)
                })
                .await
            {
                Ok(header) => header,
                Err(ChainError::Rpc { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            if !electrum_client::utils::validate_merkle_proof(&id, &header.merkle_root, &proof) {
                return Ok(None);
            }
            let tx = self
                .call(Lane::Read, "blockchain.transaction.get", 1, move |c| {
                    c.transaction_get(&id)
                })
                .await?;
            if tx.compute_txid() != id {
                return Err(ChainError::BadResponse {
                    method: "blockchain.transaction.get".into(),
                    reason: format!("asked for {id}, got {}", tx.compute_txid()),
                });
            }
            Ok(Some(tx))
        })
    }
}
