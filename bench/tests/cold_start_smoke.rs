//! Keeps the cold-start benchmark from rotting: a tiny run must fill every book, through the cache and
//! over the network, and produce ordered figures. No timing thresholds.

use std::time::Duration;

use souk_bench::{ColdStartSettings, run_cold_start, summary::LatencySummary};

fn ordered(s: &LatencySummary) -> bool {
    s.p50_us > 0.0 && s.p50_us <= s.p95_us && s.p95_us <= s.p99_us && s.p99_us <= s.max_us
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_books_fill_from_cache_and_network() {
    let settings = ColdStartSettings {
        repetitions: 2,
        joins: 2,
        deadline: Duration::from_secs(60),
        ..ColdStartSettings::new(5, 2)
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
        assert!(ordered(s), "{s:?}");
    }
    // The parts of one cold open are inside its whole.
    assert!(warm.unlock.max_us <= warm.to_book.max_us);
    assert!(warm.first_query.max_us <= warm.to_book.max_us);
    assert!(warm.default_kdf_unlock_us <= warm.default_kdf_to_book_us);
    assert!(warm.p50_ratio_node_to_sqlx.is_some());

    let net = &report.network;
    assert_eq!(net.offers_per_maker, vec![3, 2]);
    assert_eq!(net.joins_full, 2);
    assert!(ordered(&net.to_book) && ordered(&net.refresh_call));
    // Each taker's wait runs from the same instant as its refresh call and ends after it.
    assert!(net.refresh_call.p50_us <= net.to_book.max_us);

    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["offers"], 5);
    assert_eq!(json["network"]["joins_full"], 2);
}
