//! Keeps the DHT benchmark from rotting: a small network over each transport must find every record
//! and every provider, count the requests its lookups sent and fill the routing tables, in one
//! process and spread over worker processes of the `souk-bench` binary. No timing thresholds: how
//! fast is the benchmark's business, not a test's.

use souk_bench::{DhtSettings, Transport, run_dht};

async fn small_network(transport: Transport, processes: usize) {
    let settings = DhtSettings {
        processes,
        worker_program: Some(env!("CARGO_BIN_EXE_souk-bench").into()),
        records: 5,
        provider_keys: 3,
        providers_per_key: 2,
        lookups: 12,
        transport,
        ..DhtSettings::new(40)
    };
    let report = run_dht(settings).await.expect("the benchmark runs");

    assert!(
        report.all_found(),
        "not every lookup found its key:\n{report}"
    );
    assert_eq!(report.records_stored, 5, "{report}");
    assert_eq!(report.record.lookups, 12, "{report}");
    assert_eq!(report.providers.lookups, 12, "{report}");
    // A lookup from a node that does not hold the key asks at least one other node.
    assert!(report.record.requests.p50_us >= 1.0, "{report}");
    assert!(report.providers.requests.p50_us >= 1.0, "{report}");
    assert_eq!(report.first_provider.samples, 12, "{report}");
    assert!(
        report.routing_table.min > 0,
        "a node that knows nobody:\n{report}"
    );
    assert!(report.baseline_request.samples > 0, "{report}");
    // Where the keys sat: every one held by some of its closest nodes, every lookup counted once.
    for (placement, keys) in [
        (&report.record_placement, 5),
        (&report.provider_placement, 3),
    ] {
        assert_eq!(placement.keys.len(), keys, "{report}");
        assert_eq!(placement.away_from_closest(), 0, "{report}");
        let lookups: usize = placement.keys.iter().map(|k| k.lookups).sum();
        assert_eq!(lookups, 12, "{report}");
        assert!(
            placement
                .keys
                .iter()
                .all(|k| k.holders >= k.closest_holders)
        );
    }
    assert_eq!(report.process_rss_mib.len(), processes, "{report}");
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["nodes"], 40);
    assert_eq!(json["processes"], processes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_nodes_over_tcp_find_every_record_and_provider() {
    small_network(Transport::Tcp, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_nodes_over_quic_find_every_record_and_provider() {
    small_network(Transport::Quic, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_nodes_in_four_worker_processes_make_one_network() {
    small_network(Transport::Tcp, 4).await;
}
