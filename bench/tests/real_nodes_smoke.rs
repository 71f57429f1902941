//! Keeps the real-nodes benchmark from rotting: three `souk node` processes must deliver every offer
//! and withdrawal, and the books must agree. No timing thresholds: the numbers are the benchmark's.

use std::time::Duration;

mod common;

use common::souk_binary;

use souk_bench::{RealNodesSettings, run_real_nodes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_processes_deliver_every_offer_and_withdrawal() {
    let settings = RealNodesSettings {
        settle: Duration::from_secs(2),
        idle: Duration::ZERO,
        ..RealNodesSettings::new(souk_binary(), 3, 2)
    };
    let report = run_real_nodes(settings).await.expect("the benchmark runs");

    assert!(report.all_delivered(), "not all delivered:\n{report}");
    assert_eq!(report.offers_expected, 2 * 2);
    assert_eq!(report.offer.samples, 4);
    assert_eq!(report.withdrawal.samples, 4);
    assert_eq!(report.post_call.samples, 2);
    assert_eq!(report.peers_max, 2, "the bootstrap node knows both others");
    assert_eq!(report.idle_bytes_per_node_per_min, None);
    // Something was measured (percentiles of a sorted list are in order by construction: not checked).
    for s in [&report.offer, &report.withdrawal] {
        assert!(s.p50_us > 0.0, "{s:?}");
    }
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["offers_delivered"], 4);
}

/// QUIC only: the nodes find each other and deliver everything over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_processes_over_quic_deliver_everything() {
    let settings = RealNodesSettings {
        settle: Duration::from_secs(2),
        idle: Duration::ZERO,
        transport: Some(souk_bench::Transport::Quic),
        ..RealNodesSettings::new(souk_binary(), 3, 2)
    };
    let report = run_real_nodes(settings).await.expect("the benchmark runs");
    assert!(
        report.all_delivered(),
        "not all delivered over QUIC:\n{report}"
    );
    assert_eq!(report.peers_max, 2, "{report}");
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["transport"], "quic");
}

/// The added latency reaches the nodes: every offer crosses at least one delayed read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_latency_holds_every_offer_back() {
    let latency = Duration::from_millis(150);
    let settings = RealNodesSettings {
        settle: Duration::from_secs(2),
        idle: Duration::ZERO,
        transport: Some(souk_bench::Transport::Tcp),
        latency,
        ..RealNodesSettings::new(souk_binary(), 3, 2)
    };
    let report = run_real_nodes(settings).await.expect("the benchmark runs");
    assert!(report.all_delivered(), "not all delivered:\n{report}");
    for (what, s) in [("offer", &report.offer), ("withdrawal", &report.withdrawal)] {
        assert!(
            s.p50_us >= latency.as_micros() as f64,
            "half the {what}s arrived sooner than one delayed read:\n{report}"
        );
    }
}

/// Churn: of five nodes, two take turns being killed and restarted; every node that is up when an
/// offer is posted gets it (a restarted one included), and the books agree at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_leave_and_come_back_still_get_every_offer() {
    let settings = RealNodesSettings {
        settle: Duration::from_secs(2),
        idle: Duration::ZERO,
        churn: 0.4,
        ..RealNodesSettings::new(souk_binary(), 5, 3)
    };
    let report = run_real_nodes(settings).await.expect("the benchmark runs");
    assert!(
        report.all_delivered(),
        "not all delivered under churn:\n{report}"
    );
    assert_eq!(report.restarts, 3, "{report}");
    // One node is down during each offer: three others of the four up get it.
    assert_eq!(report.offers_expected, 3 * 3, "{report}");
}
