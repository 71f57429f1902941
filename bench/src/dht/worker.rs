//! Worker processes of the DHT benchmark: `souk-bench dht-worker` hosts nodes and answers one JSON
//! line per request on stdout, `{"id":…,"reply":{"Ok":…}}`, for each `{"id":…,"op":…}` read on
//! stdin. Requests run at once, so replies come in any order; the id pairs them. Nothing but replies
//! may reach stdout (logs go to stderr).
//!
//! Why processes at all: over TCP every connection between two nodes of one process costs that
//! process two open files, and a process may hold 20,000 here; spread over processes each holds its
//! own nodes' ends only.

use std::{
    collections::HashMap,
    io::{BufRead, Write},
    path::Path,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use super::host::{Host, Op, Reply};

/// The subcommand of `souk-bench` that serves as a worker.
pub const SUBCOMMAND: &str = "dht-worker";

/// How long a worker may take to stop its nodes and exit before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    id: u64,
    op: Op,
}

#[derive(Debug, Serialize, Deserialize)]
struct Response {
    id: u64,
    reply: Result<Reply, String>,
}

/// The worker's side: serves requests from stdin until `shutdown` or until stdin closes (the
/// benchmark is gone), then stops its nodes and returns.
pub async fn serve() -> anyhow::Result<()> {
    super::raise_open_files();
    let host = Arc::new(Host::new());
    // Blocking threads for the pipes: the standard streams are plain files to this process.
    let (requests_tx, mut requests) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if requests_tx.send(line).is_err() {
                return;
            }
        }
    });
    // Each line, and whether it is the last (the reply to `shutdown`).
    let (replies, replies_rx) = std::sync::mpsc::channel::<(String, bool)>();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        for (line, last) in replies_rx {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
            if last {
                break;
            }
        }
        Ok(())
    });
    while let Some(line) = requests.recv().await {
        let Request { id, op } = serde_json::from_str(&line).context("a request")?;
        if matches!(op, Op::Shutdown) {
            let reply = host.handle(op).await;
            let _ = replies.send((serde_json::to_string(&Response { id, reply })?, true));
            // Replies of requests still running are dropped with the runtime: the benchmark has
            // stopped waiting for them.
            return match writer.join() {
                Ok(written) => written.context("writing replies"),
                Err(_) => anyhow::bail!("the reply writer panicked"),
            };
        }
        let host = host.clone();
        let replies = replies.clone();
        tokio::spawn(async move {
            let reply = host.handle(op).await;
            if let Ok(line) = serde_json::to_string(&Response { id, reply }) {
                let _ = replies.send((line, false));
            }
        });
    }
    // Stdin closed without a `shutdown`: the benchmark is gone.
    let _ = host.handle(Op::Shutdown).await;
    Ok(())
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Reply, String>>>>>;

/// The benchmark's side of one worker process.
pub(super) struct Worker {
    index: usize,
    child: Child,
    stdin: tokio::sync::Mutex<ChildStdin>,
    pending: Pending,
    next_id: AtomicU64,
    stopping: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

impl Worker {
    /// Starts `program dht-worker` (a `souk-bench` binary) as worker `index`.
    pub(super) fn spawn(program: &Path, index: usize) -> anyhow::Result<Self> {
        let mut child = Command::new(program)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {SUBCOMMAND}", program.display()))?;
        let stdin = child.stdin.take().context("the worker's stdin")?;
        let stdout = child.stdout.take().context("the worker's stdout")?;
        let pending: Pending = Arc::default();
        let stopping = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_replies(
            index,
            BufReader::new(stdout),
            pending.clone(),
            stopping.clone(),
        ));
        Ok(Self {
            index,
            child,
            stdin: tokio::sync::Mutex::new(stdin),
            pending,
            next_id: AtomicU64::new(0),
            stopping,
            reader,
        })
    }

    pub(super) async fn call(&self, op: Op) -> Result<Reply, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        let mut line = serde_json::to_string(&Request { id, op }).map_err(|e| e.to_string())?;
        line.push('\n');
        let written = {
            let mut stdin = self.stdin.lock().await;
            match stdin.write_all(line.as_bytes()).await {
                Ok(()) => stdin.flush().await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = written {
            lock(&self.pending).remove(&id);
            return Err(format!("writing to worker {}: {e}", self.index));
        }
        rx.await
            .unwrap_or_else(|_| Err(format!("worker {} exited", self.index)))
    }

    /// Stops the worker's nodes and waits for it to exit (killing it after a minute).
    pub(super) async fn stop(mut self) -> anyhow::Result<()> {
        self.stopping.store(true, Ordering::Relaxed);
        let stopped = self.call(Op::Shutdown).await;
        let exited = tokio::time::timeout(STOP_LIMIT, self.child.wait()).await;
        self.reader.abort();
        match exited {
            Ok(status) => {
                let status = status.context("waiting for a worker")?;
                stopped.map_err(anyhow::Error::msg)?;
                anyhow::ensure!(status.success(), "worker {} {status}", self.index);
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                anyhow::bail!("worker {} did not exit within a minute", self.index)
            }
        }
    }
}

async fn read_replies(
    index: usize,
    stdout: BufReader<tokio::process::ChildStdout>,
    pending: Pending,
    stopping: Arc<AtomicBool>,
) {
    let mut lines = stdout.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match serde_json::from_str::<Response>(&line) {
            Ok(Response { id, reply }) => {
                if let Some(waiting) = lock(&pending).remove(&id) {
                    let _ = waiting.send(reply);
                }
            }
            Err(e) => eprintln!("souk-bench: worker {index} wrote something else: {e}: {line}"),
        }
    }
    if !stopping.load(Ordering::Relaxed) {
        eprintln!("souk-bench: worker {index} closed its output");
    }
    // Whoever still waits hears that the worker is gone.
    lock(&pending).clear();
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
