//! One chain-watcher pass over N open escrow trades (two escrow scripts each, one funded), for each chain
//! backend, before and after the chain gains thousands of unrelated outputs: time and number of calls.
//!
//! The parts are real: a regtest `litecoind` (with the transaction index ElectrumX needs; Souk's Core
//! backend needs none) and ElectrumX (`e-x`) on it, reached through Souk's own backends exactly as the
//! settlement engine reaches them (`watch`, then `outputs` per script). The baseline is what the watcher
//! did before watch-only wallets: `scantxoutset` per script, a scan of the whole UTXO set.
//!
//! A "first" pass reads each funding transaction once (kept afterwards); a "block" pass is the first
//! after new blocks (the Electrum backend then reads every history again, in one batch); a "steady"
//! pass is what every other pass costs (the watcher runs one every 10 s).

use std::{
    fmt,
    time::{Duration, Instant},
};

use anyhow::Context;
use bitcoin::{Amount, ScriptBuf, WScriptHash, hashes::Hash};
use serde::Serialize;
use serde_json::json;
use souk_core::{
    chain::{Backend, ChainBackend, ElectrumBackend, RpcBackend},
    escrow::address_from_script,
};
use souk_tests::{
    electrumx::{ElectrumX, server_path},
    regtest::{Litecoind, LitecoindOptions},
};

#[derive(Debug, Clone)]
pub struct WatcherSettings {
    /// Open trades watched (two scripts each).
    pub trades: usize,
    /// Unrelated outputs added to the UTXO set before the second measurement.
    pub unrelated_outputs: usize,
}

impl Default for WatcherSettings {
    fn default() -> Self {
        Self {
            trades: 100,
            unrelated_outputs: 3_000,
        }
    }
}

/// One pass of one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    pub backend: String,
    /// `first` (reads every transaction once), `block` (the first pass after new blocks: the Electrum
    /// backend reads every history again, in one batch) or `steady` (every later pass).
    pub pass: String,
    /// Unspent outputs in the chain's UTXO set when measured.
    pub utxo_set: u64,
    pub millis: f64,
    /// Requests sent to the backend (JSON-RPC calls, or Electrum requests).
    pub calls: u64,
    /// Escrow outputs found: every funded trade's one output, whatever else is on the chain.
    pub outputs_found: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct WatcherReport {
    pub trades: usize,
    pub scripts: usize,
    pub unrelated_outputs: usize,
    pub passes: Vec<Pass>,
    /// Why a backend was left out (ElectrumX not installed).
    pub skipped: Vec<String>,
}

impl fmt::Display for WatcherReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "watcher pass over {} open trades ({} scripts), before and after {} unrelated outputs",
            self.trades, self.scripts, self.unrelated_outputs
        )?;
        writeln!(
            f,
            "  {:<22} {:<7} {:>9} {:>10} {:>7} {:>7}",
            "backend", "pass", "UTXO set", "ms", "calls", "found"
        )?;
        for p in &self.passes {
            writeln!(
                f,
                "  {:<22} {:<7} {:>9} {:>10.1} {:>7} {:>7}",
                p.backend, p.pass, p.utxo_set, p.millis, p.calls, p.outputs_found
            )?;
        }
        for s in &self.skipped {
            writeln!(f, "  skipped: {s}")?;
        }
        writeln!(
            f,
            "  (times are this machine's; calls and their independence of the UTXO set carry over)"
        )
    }
}

/// The backends measured, with how to read their call counters.
struct Measured {
    name: &'static str,
    backend: Backend,
}

fn calls(backend: &Backend) -> u64 {
    backend.calls_made()
}

pub async fn run_watcher(settings: WatcherSettings) -> anyhow::Result<WatcherReport> {
    let ltc = Litecoind::start_with(LitecoindOptions {
        txindex: true,
        ..LitecoindOptions::default()
    })
    .await;
    let mut skipped = Vec::new();
    let electrum = if server_path().exists() {
        Some(ElectrumX::start(&ltc).await)
    } else {
        skipped.push(format!(
            "electrum: {} missing (cargo xtask test installs e-x)",
            server_path().display()
        ));
        None
    };
    let mut backends = vec![
        Measured {
            name: "core (watch-only)",
            backend: Backend::Core(Box::new(
                RpcBackend::connect_watching(&ltc.config, "souk-bench").await?,
            )),
        },
        Measured {
            name: "core scantxoutset",
            backend: Backend::Core(Box::new(RpcBackend::connect(&ltc.config).await?)),
        },
    ];
    if let Some(server) = &electrum {
        backends.push(Measured {
            name: "electrum (e-x)",
            backend: Backend::Electrum(ElectrumBackend::connect(&server.config(&ltc)).await?),
        });
    }

    // The trades' escrow scripts; the first of each pair is funded, in one transaction.
    let scripts: Vec<ScriptBuf> = (0..settings.trades * 2)
        .map(|_| random_p2wsh())
        .collect::<anyhow::Result<_>>()?;
    let funded: Vec<String> = scripts
        .iter()
        .step_by(2)
        .map(|s| address_from_script(s, ltc.config.chain, ltc.config.network))
        .collect::<Result<_, _>>()?;
    let birth = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    for m in &backends {
        m.backend.watch(&scripts, birth).await?;
    }
    send_many(&ltc, &funded, Amount::from_sat(1_000_000)).await?;
    ltc.mine(1).await;
    if let Some(server) = electrum.as_ref() {
        wait_electrum_tip(server, &ltc).await?;
    }

    let mut passes = Vec::new();
    for (i, stage) in [
        ("first", false),
        ("steady", false),
        ("block", true),
        ("steady", false),
    ]
    .into_iter()
    .enumerate()
    {
        let (pass, after_unrelated) = stage;
        if after_unrelated {
            add_unrelated(&ltc, settings.unrelated_outputs).await?;
            if let Some(server) = electrum.as_ref() {
                wait_electrum_tip(server, &ltc).await?;
            }
        }
        let utxo_set = ltc.call("gettxoutsetinfo", json!([])).await["txouts"]
            .as_u64()
            .context("txouts")?;
        for m in &backends {
            // The scan baseline has no first pass of its own: it reads nothing it could keep.
            if i == 0 && m.name == "core scantxoutset" {
                continue;
            }
            let before = calls(&m.backend);
            let started = Instant::now();
            let mut found = 0;
            for script in &scripts {
                found += m.backend.outputs(script).await?.len();
            }
            passes.push(Pass {
                backend: m.name.into(),
                pass: pass.into(),
                utxo_set,
                millis: started.elapsed().as_secs_f64() * 1e3,
                calls: calls(&m.backend) - before,
                outputs_found: found,
            });
        }
    }
    Ok(WatcherReport {
        trades: settings.trades,
        scripts: scripts.len(),
        unrelated_outputs: settings.unrelated_outputs,
        passes,
        skipped,
    })
}

fn random_p2wsh() -> anyhow::Result<ScriptBuf> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(ScriptBuf::new_p2wsh(&WScriptHash::from_byte_array(bytes)))
}

/// Pays `amount` to each address from the test wallet, in transactions of at most 500 outputs, each
/// mined (so no chain of unconfirmed transactions grows too long).
async fn send_many(ltc: &Litecoind, addresses: &[String], amount: Amount) -> anyhow::Result<()> {
    for chunk in addresses.chunks(500) {
        let outputs: serde_json::Map<String, serde_json::Value> = chunk
            .iter()
            .map(|a| (a.clone(), json!(amount.to_btc())))
            .collect();
        ltc.call("sendmany", json!(["", outputs])).await;
        ltc.mine(1).await;
    }
    Ok(())
}

/// `n` outputs to scripts nobody watches.
async fn add_unrelated(ltc: &Litecoind, n: usize) -> anyhow::Result<()> {
    let addresses: Vec<String> = (0..n)
        .map(|_| {
            let mut bytes = [0u8; 20];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let script = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(bytes));
            Ok(address_from_script(
                &script,
                ltc.config.chain,
                ltc.config.network,
            )?)
        })
        .collect::<anyhow::Result<_>>()?;
    send_many(ltc, &addresses, Amount::from_sat(100_000)).await
}

async fn wait_electrum_tip(server: &ElectrumX, ltc: &Litecoind) -> anyhow::Result<()> {
    let backend = ElectrumBackend::connect(&server.config(ltc)).await?;
    let want = ltc.rpc.tip_height().await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while backend.tip_height().await? < want {
        anyhow::ensure!(Instant::now() < deadline, "ElectrumX did not reach {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its mempool and history catch up on the next poll.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}
