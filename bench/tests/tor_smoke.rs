//! Keeps the Tor benchmark from rotting: on clearnet and over a private Tor network, every offer
//! reaches the taker's book and every chat message comes back, and the report carries both modes.
//! No timing thresholds: how fast is the benchmark's business, not a test's.

use std::time::Duration;

use souk_bench::{TorBenchSettings, run_tor};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_modes_deliver_every_offer_and_message() {
    let report = run_tor(TorBenchSettings {
        offers: 3,
        round_trips: 3,
        step_timeout: Duration::from_secs(60),
        deadline: Duration::from_secs(300),
    })
    .await
    .expect("the benchmark runs");
    assert!(report.all_delivered(), "{report}");
    for mode in [&report.clearnet, &report.tor] {
        assert_eq!(mode.start_to_first_peer.samples, 2, "{report}");
        assert_eq!(mode.offer.samples, 3, "{report}");
        assert!(mode.offer.p50_us <= mode.offer.p99_us, "{report}");
    }
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["tor"]["mode"], "tor");
    assert_eq!(json["clearnet"]["mode"], "clearnet");
}
