//! Keeps the footprint benchmark from rotting: two `souk node` processes, one with an empty book and
//! one with a few hundred offers, are measured and their books hold what was put in. No thresholds:
//! the numbers are the benchmark's.

use std::{path::PathBuf, time::Duration};

use souk_bench::{FootprintSettings, run_footprint};

/// The `souk` binary of this build (see `real_nodes_smoke.rs`).
fn souk_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let souk = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .join("souk");
    assert!(
        souk.exists(),
        "{} is missing: build it first (`cargo build -p souk-cli`; `cargo test --workspace` does)",
        souk.display()
    );
    souk
}

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
