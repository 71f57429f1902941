//! Soak: N `souk node` processes with offers posted and withdrawn at a steady rate (20 a minute per
//! node) for M minutes; every book holds every live offer and no withdrawn one (after a grace), and no
//! node's memory or open file descriptors grow without bound. `cargo xtask soak [--nodes N]
//! [--minutes M]` runs it; it is a long local run, not part of `cargo xtask test`.
//!
//! Settings (environment): `SOUK_SOAK_NODES` (default 10), `SOUK_SOAK_MINUTES` (default 1; fractions
//! allowed), `SOUK_SOAK_GRACE_SECS` (how long an offer or a withdrawal may take to reach every book,
//! default 10), `SOUK_SOAK_OFFERS_PER_MINUTE` (across the network, default 20 per node),
//! `SOUK_SOAK_REPORT` (a file to write the run's figures to, as JSON), `SOUK_SOAK_LOGS` (a directory a
//! failed run copies its nodes' logs to).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use souk_tests::soak::{self, Limits, Settings};

fn setting(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|n: &f64| *n > 0.0)
            .unwrap_or_else(|| panic!("{name}={v}: expected a number above 0")),
        Err(_) => default,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a long run of many souk node processes: run by cargo xtask soak"]
async fn offers_reach_every_book_and_nodes_stay_bounded_under_steady_load() {
    let nodes = setting("SOUK_SOAK_NODES", 10.0) as usize;
    let minutes = setting("SOUK_SOAK_MINUTES", 1.0);
    let mut settings = Settings::new(nodes.max(2), minutes);
    settings.grace = Duration::from_secs_f64(setting("SOUK_SOAK_GRACE_SECS", 10.0));
    let rate = setting("SOUK_SOAK_OFFERS_PER_MINUTE", settings.offers_per_minute);
    let settings = settings.with_rate(rate);
    let report = soak::run(settings, Limits::default()).await;
    if let Ok(path) = std::env::var("SOUK_SOAK_REPORT") {
        std::fs::write(&path, serde_json::to_string_pretty(&report.json).unwrap()).unwrap();
        eprintln!("soak: figures in {path}");
    }
    eprintln!("\n{}", report.summary);
    assert!(
        report.passed(),
        "the soak failed:\n{}",
        report.problems.join("\n")
    );
}
