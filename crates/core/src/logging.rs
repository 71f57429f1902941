//! Log setup shared by every shell: human-readable lines on stderr and, for long-running processes, a
//! daily-rolling file under `logs/` in the data directory. libp2p's own chatter is capped at INFO unless
//! the filter names it.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Lines waiting for the file writer's thread. tracing-appender's default (128,000) allocates and
/// touches its whole queue up front: 4 MiB, a quarter of an idle node's own memory (measured with the
/// footprint benchmark). A node logs a few lines a second at `info`; a burst of more than this many
/// lines before the writer catches up loses the excess (the queue is lossy, so logging never blocks
/// the node).
const FILE_QUEUE_LINES: usize = 8_192;

/// Keep this alive for as long as logs should reach the file; dropping it flushes.
#[must_use = "dropping the guard stops file logging"]
#[derive(Debug)]
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// Installs the global subscriber. `file_dir: Some(data_dir)` adds the rolling file. Calling it twice is
/// harmless (the second call changes nothing).
pub fn init(filter: &str, file_dir: Option<&Path>) -> LogGuard {
    let filter = if filter.contains("libp2p") {
        filter.to_owned()
    } else {
        format!("{filter},libp2p=info")
    };
    let env_filter = || EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(env_filter());
    let (file_layer, guard) = match file_dir {
        Some(dir) => {
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("souk")
                .filename_suffix("log")
                .max_log_files(14)
                .build(dir.join("logs"));
            match appender {
                Ok(appender) => {
                    let (writer, guard) =
                        tracing_appender::non_blocking::NonBlockingBuilder::default()
                            .buffered_lines_limit(FILE_QUEUE_LINES)
                            .lossy(true)
                            .finish(appender);
                    (
                        Some(
                            fmt::layer()
                                .with_ansi(false)
                                .with_writer(writer)
                                .with_filter(env_filter()),
                        ),
                        Some(guard),
                    )
                }
                Err(e) => {
                    eprintln!("warning: not logging to a file in {}: {e}", dir.display());
                    (None, None)
                }
            }
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
    LogGuard(guard)
}
