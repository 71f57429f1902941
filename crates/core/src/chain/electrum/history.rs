//! What is read from the server about the chain: the tip, the subscriptions to escrow scripts, their
//! histories (read again only when stale, in batches) and the transactions in them (read once).

use std::{collections::HashSet, time::Instant};

use bitcoin::{Amount, Script, ScriptBuf, Txid};
use electrum_client::ElectrumApi;

use super::{ElectrumBackend, Lane, REFRESH, SENT_GRACE, TIP_TTL, Watched, locked};
use crate::chain::ChainError;

impl ElectrumBackend {
    /// The tip, read at most every [`TIP_TTL`]; reading it also takes in the server's notifications.
    pub(super) async fn tip(&self) -> Result<u64, ChainError> {
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
    pub(super) async fn subscribe(&self, scripts: &[ScriptBuf]) -> Result<(), ChainError> {
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
    pub(super) async fn history(&self, script: &Script) -> Result<Vec<(Txid, i32)>, ChainError> {
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

    /// The height of `txid` in the history of a watched script (0 or -1 in the mempool); `None` when
    /// no watched script's history holds it.
    pub(super) async fn height_of(&self, txid: &Txid) -> Result<Option<i32>, ChainError> {
        self.refresh().await?;
        let just_sent = {
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
            // Just broadcast, not in the server's index yet: in the mempool, if the server's node
            // still has it. A node that restarted without its mempool (or evicted it) before the
            // server indexed it lost it: the grace must not hide that, or it would go out again only
            // when the grace ends.
            state
                .sent
                .get(txid)
                .is_some_and(|at| at.elapsed() < SENT_GRACE)
        };
        if !just_sent {
            return Ok(None);
        }
        let id = *txid;
        match self
            .call(Lane::Read, "blockchain.transaction.get", 1, move |c| {
                c.transaction_get_raw(&id)
            })
            .await
        {
            Ok(_) => Ok(Some(0)),
            Err(ChainError::Rpc { message, .. }) => {
                tracing::debug!(%txid, %message, "broadcast a moment ago, unknown to the server's node");
                locked(&self.state).sent.remove(txid);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
