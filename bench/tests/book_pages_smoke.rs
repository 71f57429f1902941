//! Keeps the book-pages benchmark from rotting: a small book is filled, walked page by page with every
//! offer read exactly once, and every query returns what it should. No timing thresholds.

use souk_bench::{BookPagesSettings, run_book_pages};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_book_is_walked_whole_and_every_query_answers() {
    let settings = BookPagesSettings {
        repetitions: 3,
        unpaged_repetitions: 2,
        after_quiet_repetitions: 1,
        ..BookPagesSettings::new(1_200)
    };
    let report = run_book_pages(&settings).await.expect("the benchmark runs");
    assert!(report.complete, "{report}");
    assert_eq!(report.walked, 1_200);
    assert_eq!(report.unpaged.rows, 1_200);
    // Full pages where the book has enough offers; the filters leave fewer, but some.
    assert_eq!(report.pages[0].rows, 50);
    assert_eq!(report.pages[1].rows, 50);
    assert!(report.pages[2..].iter().all(|c| c.rows > 0), "{report}");
    assert_eq!(report.baseline.rows, 50);
    assert!(report.pages.iter().all(|c| c.latency.samples == 3));
    // The first page again once the store had closed its idle connections.
    let after_quiet = report.after_quiet.as_ref().expect("measured");
    assert_eq!((after_quiet.rows, after_quiet.latency.samples), (50, 1));
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["offers"], 1_200);
}
