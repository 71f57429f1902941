//! Keeps the envelope benchmark from rotting: a tiny run must bring every envelope and every raw
//! ciphertext back intact, at every size. No timing thresholds.

use souk_bench::{EnvelopeSettings, run_envelope};

#[test]
fn every_payload_comes_back_at_every_size() {
    let settings = EnvelopeSettings {
        sizes: vec![1, 64, 5_000, souk_core::channel::MAX_PLAINTEXT_BYTES],
        // More than one batch at the largest size, so sequence numbers run across batches.
        iterations: 70,
        warmup: 3,
    };
    let report = run_envelope(&settings).expect("the benchmark runs");

    assert!(report.all_delivered(), "not all delivered:\n{report}");
    assert_eq!(report.sizes.len(), 4);
    for s in &report.sizes {
        assert_eq!((s.delivered, s.raw_verified), (70, 70), "{s:?}");
        assert!(s.first_error.is_none(), "{s:?}");
        assert!(s.wire_bytes > s.payload_bytes);
        for t in [&s.seal, &s.open, &s.raw_encrypt, &s.raw_decrypt] {
            assert_eq!(t.ops, 70);
            assert!(
                t.secs > 0.0 && t.mb_per_s > 0.0 && t.us_per_op > 0.0,
                "{t:?}"
            );
        }
        assert!(s.seal_ratio.is_some() && s.open_ratio.is_some() && s.round_trip_ratio.is_some());
    }
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["sizes"][3]["payload_bytes"], 61_440);

    let too_large = EnvelopeSettings {
        sizes: vec![souk_core::channel::MAX_PLAINTEXT_BYTES + 1],
        ..EnvelopeSettings::new(1)
    };
    assert!(run_envelope(&too_large).is_err());
}
