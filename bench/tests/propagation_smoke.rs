//! Keeps the propagation benchmark from rotting: a tiny run must deliver everything and produce
//! ordered percentiles. No timing thresholds: how fast is the benchmark's business, not a test's.

use std::time::Duration;

use souk_bench::{PropagationSettings, run_propagation};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_deliver_every_offer() {
    let settings = PropagationSettings {
        deadline: Duration::from_secs(30),
        ..PropagationSettings::new(5, 3)
    };
    let report = run_propagation(settings).await.expect("the benchmark runs");

    assert!(report.all_delivered(), "not all delivered:\n{report}");
    assert_eq!(report.delivered_fraction, 1.0);
    assert_eq!(report.gossip.samples, 3 * 4);
    assert_eq!(report.raw_tcp.samples, 3 * 4);
    assert!(report.mesh_ready_secs.is_some(), "{report}");
    assert_eq!(report.gossip_refused, 0);
    // Something was measured (the percentiles' order holds by construction: not checked).
    for s in [&report.gossip, &report.raw_tcp] {
        assert!(s.p50_us > 0.0, "{s:?}");
    }
    assert!(report.p50_ratio_gossip_to_raw_tcp.is_some());
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["delivered"], 12);
}
