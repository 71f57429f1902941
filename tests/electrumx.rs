//! A real Electrum server for a test: `e-x` (the maintained ElectrumX, from PyPI; `cargo xtask test`
//! installs it into a venv) indexing a [`Litecoind`] of the test, with its own temp database and a free
//! loopback port. Dropping it kills the process.
//!
//! ElectrumX asks its node for any transaction by id, so that node runs with `-txindex=1` (the server
//! operator's node, not the user's: Souk's user runs no node at all with this backend).

use std::{
    fs::File,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use souk_core::{
    chain::{ChainBackend, ElectrumBackend},
    config::ChainConfig,
};

use crate::{DEADLINE, regtest::Litecoind};

const START_ATTEMPTS: usize = 5;
const POLL: Duration = Duration::from_millis(50);

/// Where `e-x`'s `electrumx_server` is: `SOUK_ELECTRUMX` (what `cargo xtask test` sets), else the venv
/// `cargo xtask test` makes under `~/.cache/souk/e-x`.
pub fn server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SOUK_ELECTRUMX") {
        return path.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/souk/e-x/bin/electrumx_server")
}

/// A running ElectrumX serving the regtest chain of one [`Litecoind`].
pub struct ElectrumX {
    child: Child,
    dir: tempfile::TempDir,
    /// `tcp://127.0.0.1:PORT`, as Souk's `electrum_url`.
    pub url: String,
}

impl Drop for ElectrumX {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for ElectrumX {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectrumX").field("url", &self.url).finish()
    }
}

impl ElectrumX {
    /// Starts a server on `ltc` (which must keep a transaction index) and waits until it serves the
    /// node's tip.
    pub async fn start(ltc: &Litecoind) -> Self {
        Self::start_on(ltc, None).await
    }

    /// [`Self::start`] on `port` when given (a port picked earlier, say one a node was told about
    /// before the server ran); a free one otherwise.
    pub async fn start_on(ltc: &Litecoind, port: Option<u16>) -> Self {
        let server = server_path();
        assert!(
            server.exists(),
            "{} is missing: run `cargo xtask test`, which installs e-x (ElectrumX) into a venv",
            server.display()
        );
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("a temp dir");
            let port = port.unwrap_or_else(free_port);
            let log = File::create(dir.path().join("electrumx.log")).expect("a log file");
            let db = dir.path().join("db");
            std::fs::create_dir(&db).expect("the db dir");
            let rpc = ltc.core.rpc_url.trim_end_matches('/');
            let daemon = rpc.replacen(
                "http://",
                &format!("http://{}:{}@", ltc.core.rpc_user, ltc.core.rpc_password),
                1,
            );
            let child = Command::new(&server)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", dir.path())
                .env("ALLOW_ROOT", "1")
                .env("COIN", "Litecoin")
                .env("NET", "regtest")
                .env("DB_ENGINE", "leveldb")
                .env("DB_DIRECTORY", &db)
                .env("DAEMON_URL", format!("{daemon}/"))
                .env("SERVICES", format!("tcp://127.0.0.1:{port}"))
                .env("PEER_DISCOVERY", "off")
                .env("PEER_ANNOUNCE", "")
                // No per-session rate limits: one test client makes many calls.
                .env("COST_SOFT_LIMIT", "0")
                .env("COST_HARD_LIMIT", "0")
                // Blocks and mempool polled often, so tests see them quickly (5 s by default).
                .env("DAEMON_POLL_INTERVAL_BLOCKS", "100")
                .env("DAEMON_POLL_INTERVAL_MEMPOOL", "100")
                .env("CACHE_MB", "50")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("the log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", server.display()));
            let mut server = Self {
                child,
                dir,
                url: format!("tcp://127.0.0.1:{port}"),
            };
            match server.await_tip(ltc).await {
                Ok(()) => return server,
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "ElectrumX did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// The loopback port it serves on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the server's port")
    }

    /// How Souk reaches this server: the node's chain and network, through `electrum_url`.
    pub fn config(&self, ltc: &Litecoind) -> ChainConfig {
        ChainConfig {
            rpc_url: String::new(),
            rpc_user: String::new(),
            rpc_password: String::new(),
            electrum_url: self.url.clone(),
            ..ltc.core.clone()
        }
    }

    /// Waits until the server answers with the node's tip (it has indexed every block).
    pub async fn await_tip(&mut self, ltc: &Litecoind) -> Result<(), String> {
        let deadline = Instant::now() + DEADLINE;
        let want = ltc.rpc.tip_height().await.expect("the node's tip");
        let config = self.config(ltc);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("ElectrumX exited ({status}):\n{}", self.logs()));
            }
            if let Ok(backend) = ElectrumBackend::connect(&config).await
                && backend.tip_height().await.is_ok_and(|t| t >= want)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ElectrumX did not reach height {want} in {DEADLINE:?}:\n{}",
                    self.logs()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The end of the server's log, for failure messages.
    pub fn logs(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("electrumx.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// A loopback port nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
