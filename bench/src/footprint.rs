//! What an idle `souk node` holds in memory with a book of 0, 10,000 and 100,000 offers: a real
//! release node process (`souk init`, then `souk node` on loopback, no peers), its book filled
//! beforehand through the core's own `Book` (signed offers of many makers, as the network would have
//! brought them), left idle, then read from the kernel (`/proc/PID/status`).
//!
//! The split says what dominates: `RssFile` is pages of files the process maps (the executable and
//! its libraries — the same on any machine of this build, shared with other processes), `RssAnon`
//! is its own memory (heap: SQLite's page cache, the swarm, the book's indexes in memory), `RssShmem`
//! shared memory (SQLite's WAL index). The node with the empty book is the baseline of the same run:
//! the difference is what the offers cost. On another machine the file-backed part moves with the
//! build (release profile, target), the anonymous part with the allocator and the number of worker
//! threads (one per core).

use std::{fmt, path::PathBuf, time::Duration};

use anyhow::Context;
use serde::Serialize;
use souk_core::{book::Book, store::Store};

use crate::real_nodes::{RealNodesSettings, get, init, start};

#[derive(Debug, Clone)]
pub struct FootprintSettings {
    /// The `souk` binary (a release build for figures worth quoting).
    pub souk: PathBuf,
    /// The book sizes, one node each.
    pub offers: Vec<usize>,
    /// How long each node is left alone before it is measured.
    pub idle: Duration,
}

impl FootprintSettings {
    pub fn new(souk: PathBuf) -> Self {
        Self {
            souk,
            offers: vec![0, 10_000, 100_000],
            idle: Duration::from_secs(20),
        }
    }
}

/// One node's memory, in KiB as the kernel counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeMemory {
    /// Offers in the node's book (read back from its database).
    pub offers: usize,
    pub database_bytes: u64,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    /// The process's own memory (heap).
    pub anon_kib: u64,
    /// Mapped files: the executable and its libraries.
    pub file_kib: u64,
    pub shmem_kib: u64,
    pub threads: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FootprintReport {
    pub idle_secs: f64,
    pub nodes: Vec<NodeMemory>,
}

impl FootprintReport {
    /// The node with the smallest book: what a node costs before any offer.
    pub fn baseline(&self) -> Option<&NodeMemory> {
        self.nodes.iter().min_by_key(|n| n.offers)
    }
}

impl fmt::Display for FootprintReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        writeln!(
            f,
            "footprint: an idle release `souk node` (no peers) after {:.0} s, by book size",
            self.idle_secs
        )?;
        writeln!(
            f,
            "  {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>14}",
            "offers", "RSS MiB", "peak", "anon", "files", "shmem", "threads", "vs baseline"
        )?;
        let base = self.baseline().map_or(0, |b| b.rss_kib);
        for n in &self.nodes {
            writeln!(
                f,
                "  {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8} {:>+13.1}M",
                n.offers,
                mib(n.rss_kib),
                mib(n.peak_rss_kib),
                mib(n.anon_kib),
                mib(n.file_kib),
                mib(n.shmem_kib),
                n.threads,
                mib(n.rss_kib) - mib(base),
            )?;
        }
        writeln!(
            f,
            "  anon: the process's own memory (heap, SQLite's page cache); files: the executable and \
             libraries' pages"
        )
    }
}

pub async fn run_footprint(settings: &FootprintSettings) -> anyhow::Result<FootprintReport> {
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::new();
    let node_settings = RealNodesSettings {
        listen_loopback: true,
        ..RealNodesSettings::new(settings.souk.clone(), 1, 0)
    };
    let mut nodes = Vec::new();
    for (i, &offers) in settings.offers.iter().enumerate() {
        let data = dir.path().join(format!("node-{i}"));
        init(&settings.souk, &data).await?;
        let db = data.join(souk_core::store::FILE_NAME);
        let store = Store::open(&db)
            .await
            .context("opening the node's database")?;
        crate::book_pages::fill(&Book::new(&store), offers)
            .await
            .context("filling the node's book")?;
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM offers")
            .fetch_one(store.pool())
            .await?;
        store.pool().close().await;
        let database_bytes = ["", "-wal"]
            .iter()
            .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
            .map(|m| m.len())
            .sum();

        let node = start(&node_settings, &data, None, &http).await?;
        // Started and answering; then left alone.
        get(&http, &node, "/api/v1/status").await?;
        tokio::time::sleep(settings.idle).await;
        let pid = node.child.id().context("the node exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .context("reading the node's /proc status (Linux only)")?;
        let field = |name: &str| crate::memory::status_field_kib(&status, name).unwrap_or(0);
        nodes.push(NodeMemory {
            offers: usize::try_from(stored)?,
            database_bytes,
            rss_kib: field("VmRSS:"),
            peak_rss_kib: field("VmHWM:"),
            anon_kib: field("RssAnon:"),
            file_kib: field("RssFile:"),
            shmem_kib: field("RssShmem:"),
            threads: field("Threads:"),
        });
        drop(node);
    }
    Ok(FootprintReport {
        idle_secs: settings.idle.as_secs_f64(),
        nodes,
    })
}
