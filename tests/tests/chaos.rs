//! Escrow trades between `souk node` processes that are killed (SIGKILL) and restarted at random points
//! chosen by a seed: every trade still ends with the chain paying what it says, and both sides' logs
//! agree. `cargo xtask chaos [--trades N] [--seed S]` runs it; `cargo xtask test` runs a few trades.
//!
//! Settings (environment): `SOUK_CHAOS_TRADES` (default 3), `SOUK_CHAOS_SEED` (default 1),
//! `SOUK_CHAOS_KILL_PERCENT` (the chance of a kill at each point, default 35), `SOUK_CHAOS_REPORT` (a
//! file to write the run's figures to, as JSON).

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use souk_tests::{TestDir, chaos::Chaos, regtest::Litecoind};

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: expected a whole number")),
        Err(_) => default,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the souk binary: run by cargo xtask chaos (and cargo xtask test)"]
async fn escrow_trades_end_on_chain_although_parties_are_killed_at_random_points() {
    let trades = setting("SOUK_CHAOS_TRADES", 3);
    let seed = setting("SOUK_CHAOS_SEED", 1);
    let kill_percent = setting("SOUK_CHAOS_KILL_PERCENT", 35);
    let started = Instant::now();
    let ltc = Litecoind::start().await;
    // Coins for many trades: each mined block matures a coinbase of 50 LTC a hundred blocks later.
    ltc.mine(2 + (trades as u32) / 30).await;
    let dir = TestDir::new();
    let mut chaos = Chaos::start(&ltc, &dir.path("chaos"), seed, kill_percent).await;
    for n in 1..=trades {
        let id = chaos.trade().await;
        eprintln!("chaos: trade {n}/{trades} {id} settled and checked");
    }
    chaos.report.seconds = started.elapsed().as_secs_f64();
    let report = chaos.report.json();
    eprintln!("chaos: seed {seed}: {report}");
    if let Ok(path) = std::env::var("SOUK_CHAOS_REPORT") {
        let mut report = report.clone();
        report["seed"] = seed.into();
        report["kill_percent"] = kill_percent.into();
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
    assert_eq!(chaos.report.trades as u64, trades);
    assert_eq!(
        (chaos.report.completed + chaos.report.resolved) as u64,
        trades
    );
    // A run that killed nobody showed nothing: the seed and the chance must make kills happen.
    assert!(
        trades < 3 || kill_percent == 0 || chaos.report.kills > 0,
        "seed {seed} killed nobody in {trades} trades"
    );
}
