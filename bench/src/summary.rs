//! Latency samples reduced to the figures a report shows: nearest-rank percentiles over the sorted
//! samples (exact; a few thousand samples need no histogram).

use std::time::Duration;

use serde::Serialize;

/// Percentiles of one set of latencies, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub samples: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl LatencySummary {
    /// All zero when there are no samples (the report says so through `samples`).
    pub fn of(latencies: &[Duration]) -> Self {
        let mut sorted = latencies.to_vec();
        sorted.sort_unstable();
        let Some(max) = sorted.last() else {
            return Self::default();
        };
        let total: Duration = sorted.iter().sum();
        let count = u32::try_from(sorted.len()).unwrap_or(u32::MAX);
        Self {
            samples: sorted.len(),
            p50_us: micros(percentile(&sorted, 50.0)),
            p90_us: micros(percentile(&sorted, 90.0)),
            p95_us: micros(percentile(&sorted, 95.0)),
            p99_us: micros(percentile(&sorted, 99.0)),
            max_us: micros(*max),
            mean_us: micros(total / count),
        }
    }
}

/// Nearest rank: the smallest sample with at least `p` % of the samples at or below it.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = LatencySummary::of(&samples);
        assert_eq!(s.samples, 100);
        assert_eq!(s.p50_us, 50.0);
        assert_eq!(s.p90_us, 90.0);
        assert_eq!(s.p95_us, 95.0);
        assert_eq!(s.p99_us, 99.0);
        assert_eq!(s.max_us, 100.0);
        assert_eq!(LatencySummary::of(&[Duration::from_micros(7)]).p50_us, 7.0);
        assert_eq!(LatencySummary::of(&[]).samples, 0);
    }
}
