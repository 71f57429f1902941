//! Keeps the cold-start benchmark from rotting: a tiny run must fill every book, through the cache and
//! over the network, with one measurement per run. No timing thresholds, and no check that holds by
//! construction (percentiles of a sorted list are in order; a part of a measured span is inside it).

use std::time::Duration;

use souk_bench::{ColdStartSettings, run_cold_start, summary::LatencySummary};

/// Something was measured: a span never started or never stopped reads 0.
fn measured(s: &LatencySummary) -> bool {
    s.p50_us > 0.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_books_fill_from_cache_and_network() {
    let settings = ColdStartSettings {
        repetitions: 2,
        joins: 2,
        deadline: Duration::from_secs(60),
        // More than one maker's most in one market (256): the warm book spreads over markets.
        ..ColdStartSettings::new(300, 2)
    };
    let report = run_cold_start(settings).await.expect("the benchmark runs");

    assert!(report.all_filled(), "a book did not fill:\n{report}");
    assert!(!report.timed_out, "{report}");
    let warm = &report.warm;
    assert_eq!(warm.runs_full, 2);
    assert!(warm.default_kdf_full);
    for s in [
        &warm.to_book,
        &warm.unlock,
        &warm.first_query,
        &warm.sqlx_baseline,
    ] {
        assert_eq!(s.samples, 2);
        assert!(measured(s), "{s:?}");
    }
    assert!(warm.default_kdf_unlock_us > 0.0);
    assert!(warm.p50_ratio_node_to_sqlx.is_some());

    let net = &report.network;
    assert_eq!(net.offers_per_maker, vec![150, 150]);
    assert_eq!(net.joins_full, 2);
    assert_eq!((net.to_book.samples, net.refresh_call.samples), (2, 2));
    assert!(measured(&net.to_book) && measured(&net.refresh_call));

    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["offers"], 300);
    assert_eq!(json["network"]["joins_full"], 2);
}
