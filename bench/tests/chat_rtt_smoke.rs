//! Keeps the chat round-trip benchmark from rotting: two nodes open a trade and every round trip
//! completes, with ordered percentiles on both sides of the ratio. No timing thresholds.

use std::time::Duration;

use souk_bench::{ChatRttSettings, run_chat_rtt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_round_trip_completes() {
    let settings = ChatRttSettings {
        warmup: 2,
        message_bytes: 100,
        deadline: Duration::from_secs(60),
        ..ChatRttSettings::new(5)
    };
    let report = run_chat_rtt(settings).await.expect("the benchmark runs");

    assert!(report.all_delivered(), "not all delivered:\n{report}");
    assert!(!report.timed_out, "{report}");
    assert_eq!(report.events_lagged, 0);
    for s in [&report.chat, &report.raw_tcp_echo] {
        assert_eq!(s.samples, 5);
        // Something was measured (the percentiles' order holds by construction: not checked).
        assert!(s.p50_us > 0.0, "{s:?}");
    }
    assert!(
        report.p50_ratio_chat_to_raw_tcp.is_some() && report.p99_ratio_chat_to_raw_tcp.is_some()
    );
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["message_bytes"], 100);
}
