//! A chain in memory, for tests of settlement without a chain node: coins appear where a test pays
//! them, transactions wait in a mempool until the test mines, and a broadcast is checked the way a
//! node's mempool would check what settlement can get wrong — every input exists and is unspent (no
//! double spend, in a block or in the mempool), carries a witness, and the outputs do not spend more
//! than the inputs hold. It does not verify signatures or scripts: the regtest suite, on a real
//! litecoind, does that.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use bitcoin::{
    Amount, FeeRate, OutPoint, Script, ScriptBuf, Transaction, TxIn, TxOut, Txid, absolute,
    transaction,
};

use super::{ChainBackend, ChainError, ChainFuture, Utxo};

/// The fee rate it asks for (sat/vB).
const FEE_RATE_SAT_VB: u64 = 2;

#[derive(Debug, Default)]
struct State {
    height: u64,
    /// Every transaction seen, and the height of its block (`None`: in the mempool).
    txs: HashMap<Txid, (Transaction, Option<u64>)>,
    /// Outpoints spent by a transaction in a block or in the mempool.
    spent: HashSet<OutPoint>,
    /// Broadcasts refused, with why (for tests that expect none).
    refused: Vec<String>,
    /// A counter that makes each payment from nowhere a transaction of its own.
    payments: u32,
}

/// See the module documentation. Shared between the nodes of a test (`Arc`): one chain for all.
#[derive(Debug, Default)]
pub struct FakeChain {
    state: Mutex<State>,
}

impl FakeChain {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pays `amount` to `script_pubkey` out of nowhere (a wallet outside the test): into the mempool.
    pub fn pay(&self, script_pubkey: &Script, amount: Amount) -> Txid {
        let mut state = self.state();
        state.payments += 1;
        let tx = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::from_consensus(state.payments),
            input: vec![TxIn::default()],
            output: vec![TxOut {
                value: amount,
                script_pubkey: script_pubkey.to_owned(),
            }],
        };
        let txid = tx.compute_txid();
        state.txs.insert(txid, (tx, None));
        txid
    }

    /// Mines one block holding the whole mempool; returns the new height.
    pub fn mine(&self) -> u64 {
        let mut state = self.state();
        state.height += 1;
        let height = state.height;
        for (_, at) in state.txs.values_mut() {
            at.get_or_insert(height);
        }
        height
    }

    /// What `script_pubkey` received in transactions in a block, spent since or not.
    pub fn received(&self, script_pubkey: &Script) -> Amount {
        self.state()
            .txs
            .values()
            .filter(|(_, at)| at.is_some())
            .flat_map(|(tx, _)| &tx.output)
            .filter(|out| out.script_pubkey.as_script() == script_pubkey)
            .map(|out| out.value)
            .sum()
    }

    /// What `script_pubkey` holds unspent (in a block or in the mempool).
    pub fn unspent(&self, script_pubkey: &Script) -> Amount {
        let state = self.state();
        let mut total = Amount::ZERO;
        for (txid, (tx, _)) in &state.txs {
            for (vout, out) in tx.output.iter().enumerate() {
                let outpoint = OutPoint::new(*txid, u32::try_from(vout).unwrap_or(u32::MAX));
                if out.script_pubkey.as_script() == script_pubkey
                    && !state.spent.contains(&outpoint)
                {
                    total += out.value;
                }
            }
        }
        total
    }

    /// The broadcasts it refused, with why.
    pub fn refused(&self) -> Vec<String> {
        self.state().refused.clone()
    }

    /// How many transactions spend from `script_pubkey` (each broadcast counted once).
    pub fn spends_from(&self, script_pubkey: &Script) -> usize {
        let state = self.state();
        state
            .txs
            .values()
            .filter(|(tx, _)| {
                tx.input.iter().any(|i| {
                    state
                        .txs
                        .get(&i.previous_output.txid)
                        .is_some_and(|(prev, _)| {
                            prev.output
                                .get(i.previous_output.vout as usize)
                                .is_some_and(|o| o.script_pubkey.as_script() == script_pubkey)
                        })
                })
            })
            .count()
    }

    fn check(state: &State, tx: &Transaction) -> Result<(), String> {
        let mut total_in = Amount::ZERO;
        for input in &tx.input {
            let Some((prev, _)) = state.txs.get(&input.previous_output.txid) else {
                return Err(format!("missing input {}", input.previous_output));
            };
            let Some(out) = prev.output.get(input.previous_output.vout as usize) else {
                return Err(format!("no output {}", input.previous_output));
            };
            if state.spent.contains(&input.previous_output) {
                return Err(format!(
                    "{} already spent (txn-mempool-conflict)",
                    input.previous_output
                ));
            }
            if input.witness.is_empty() {
                return Err(format!("{} has no witness", input.previous_output));
            }
            total_in += out.value;
        }
        let total_out: Amount = tx.output.iter().map(|o| o.value).sum();
        if total_out > total_in {
            return Err(format!("spends {total_out} of {total_in}"));
        }
        Ok(())
    }
}

impl ChainBackend for FakeChain {
    fn tip_height(&self) -> ChainFuture<'_, u64> {
        let height = self.state().height;
        Box::pin(async move { Ok(height) })
    }

    fn fee_rate(&self) -> ChainFuture<'_, FeeRate> {
        Box::pin(async move {
            FeeRate::from_sat_per_vb(FEE_RATE_SAT_VB)
                .ok_or_else(|| ChainError::Config("fee rate".into()))
        })
    }

    fn watch<'a>(&'a self, _scripts: &'a [ScriptBuf], _birth: u64) -> ChainFuture<'a, ()> {
        // Every script is seen.
        Box::pin(async move { Ok(()) })
    }

    fn outputs<'a>(&'a self, script_pubkey: &'a Script) -> ChainFuture<'a, Vec<Utxo>> {
        Box::pin(async move {
            let state = self.state();
            // Confirmed outputs stay listed while a spend of them waits in the mempool (as a node's
            // wallet lists them); mempool outputs only while unspent.
            let spent_confirmed: HashSet<OutPoint> = state
                .txs
                .values()
                .filter(|(_, at)| at.is_some())
                .flat_map(|(tx, _)| tx.input.iter().map(|i| i.previous_output))
                .collect();
            let mut utxos = Vec::new();
            for (txid, (tx, at)) in &state.txs {
                for (vout, out) in tx.output.iter().enumerate() {
                    if out.script_pubkey.as_script() != script_pubkey {
                        continue;
                    }
                    let outpoint = OutPoint::new(*txid, u32::try_from(vout).unwrap_or(u32::MAX));
                    if spent_confirmed.contains(&outpoint)
                        || (at.is_none() && state.spent.contains(&outpoint))
                    {
                        continue;
                    }
                    let (height, confirmations) = match at {
                        Some(h) => (*h, u32::try_from(state.height + 1 - h).unwrap_or(u32::MAX)),
                        None => (0, 0),
                    };
                    utxos.push(Utxo {
                        outpoint,
                        value: out.value,
                        height,
                        confirmations,
                    });
                }
            }
            utxos.sort_by_key(|u| (u.confirmations == 0, u.height, u.outpoint));
            Ok(utxos)
        })
    }

    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, Txid> {
        Box::pin(async move {
            let txid = tx.compute_txid();
            let mut state = self.state();
            if state.txs.contains_key(&txid) {
                // Known already: not an error, as on a node.
                return Ok(txid);
            }
            if let Err(reason) = Self::check(&state, tx) {
                state.refused.push(format!("{txid}: {reason}"));
                return Err(ChainError::Rejected { txid, reason });
            }
            for input in &tx.input {
                state.spent.insert(input.previous_output);
            }
            state.txs.insert(txid, (tx.clone(), None));
            Ok(txid)
        })
    }

    fn confirmations<'a>(&'a self, txid: &'a Txid) -> ChainFuture<'a, Option<u32>> {
        Box::pin(async move {
            let state = self.state();
            Ok(state.txs.get(txid).map(|(_, at)| match at {
                Some(h) => u32::try_from(state.height + 1 - h).unwrap_or(u32::MAX),
                None => 0,
            }))
        })
    }

    fn transaction_at<'a>(
        &'a self,
        txid: &'a Txid,
        height: u32,
    ) -> ChainFuture<'a, Option<Transaction>> {
        Box::pin(async move {
            let state = self.state();
            Ok(state
                .txs
                .get(txid)
                .filter(|(_, at)| *at == Some(u64::from(height)))
                .map(|(tx, _)| tx.clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::{Witness, hashes::Hash};

    use super::*;

    fn spend(outpoint: OutPoint, value: u64, witness: bool) -> Transaction {
        let mut input = TxIn {
            previous_output: outpoint,
            ..TxIn::default()
        };
        if witness {
            input.witness = Witness::from_slice(&[[1u8; 64]]);
        }
        Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![input],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(
                    [9; 20],
                )),
            }],
        }
    }

    #[tokio::test]
    async fn it_refuses_what_a_node_would_and_counts_only_mined_coins() {
        let chain = FakeChain::new();
        let script = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([1; 20]));
        let paid = chain.pay(&script, Amount::from_sat(10_000));
        let coin = OutPoint::new(paid, 0);
        let listed = chain.outputs(&script).await.unwrap();
        assert_eq!(listed[0].confirmations, 0);
        assert!(chain.escrow_utxos(&script).await.unwrap().is_empty());
        assert_eq!(chain.mine(), 1);
        assert_eq!(chain.escrow_utxos(&script).await.unwrap().len(), 1);
        assert_eq!(chain.confirmations(&paid).await.unwrap(), Some(1));

        let no_witness = spend(coin, 9_000, false);
        let over = spend(coin, 11_000, true);
        let missing = spend(OutPoint::new(Txid::all_zeros(), 7), 1, true);
        for bad in [&no_witness, &over, &missing] {
            assert!(matches!(
                chain.broadcast(bad).await,
                Err(ChainError::Rejected { .. })
            ));
        }
        let good = spend(coin, 9_000, true);
        let txid = chain.broadcast(&good).await.unwrap();
        assert_eq!(
            chain.broadcast(&good).await.unwrap(),
            txid,
            "known: not an error"
        );
        let double = spend(coin, 8_000, true);
        assert!(chain.broadcast(&double).await.is_err(), "a double spend");
        assert_eq!(chain.refused().len(), 4);
        assert_eq!(chain.confirmations(&txid).await.unwrap(), Some(0));
        // A confirmed coin whose spend waits in the mempool is still listed; once mined, it is gone.
        assert_eq!(chain.outputs(&script).await.unwrap().len(), 1);
        assert_eq!(chain.unspent(&script), Amount::ZERO);
        chain.mine();
        assert!(chain.outputs(&script).await.unwrap().is_empty());
        assert_eq!(chain.received(&script), Amount::from_sat(10_000));
        assert_eq!(chain.spends_from(&script), 1);
    }
}
