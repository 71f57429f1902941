//! Keeps the footprint benchmark from rotting: two `souk node` processes, one with an empty book and
//! one with a few hundred offers, are measured and their books hold what was put in. No thresholds:
//! the numbers are the benchmark's.

use std::time::Duration;

mod common;

use common::souk_binary;

use souk_bench::{FootprintSettings, run_footprint};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_idle_nodes_are_measured_with_their_books() {
    let settings = FootprintSettings {
        offers: vec![0, 300],
        idle: Duration::from_millis(500),
        ..FootprintSettings::new(souk_binary())
    };
    let report = run_footprint(&settings).await.expect("the benchmark runs");
    let books: Vec<usize> = report.nodes.iter().map(|n| n.offers).collect();
    assert_eq!(books, [0, 300]);
    for node in &report.nodes {
        assert!(
            node.rss_kib > 0 && node.rss_kib <= node.peak_rss_kib,
            "{node:?}"
        );
        assert!(node.anon_kib > 0 && node.file_kib > 0, "{node:?}");
        assert!(node.threads > 1, "{node:?}");
        assert!(node.database_bytes > 0, "{node:?}");
    }
    assert!(report.nodes[1].database_bytes > report.nodes[0].database_bytes);
    assert_eq!(report.baseline().map(|b| b.offers), Some(0));
    let text = report.to_string();
    assert!(
        text.contains("RSS MiB") && text.contains("vs baseline"),
        "{text}"
    );
}
