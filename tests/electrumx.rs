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

/// A running ElectrumX serving the regtest chain of one [`Litecoind`], over TCP and over TLS with a
/// self-signed certificate made for it.
pub struct ElectrumX {
    child: Child,
    dir: tempfile::TempDir,
    /// `tcp://127.0.0.1:PORT`, as Souk's `electrum_url`.
    pub url: String,
    /// `ssl://127.0.0.1:PORT`: the same server over TLS.
    pub tls_url: String,
    /// The SHA-256 fingerprint of its certificate as `openssl x509 -fingerprint` prints it (`AB:CD:…`).
    pub fingerprint: String,
}

impl Drop for ElectrumX {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for ElectrumX {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectrumX")
            .field("url", &self.url)
            .field("tls_url", &self.tls_url)
            .finish()
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
            let tls_port = free_port();
            let fingerprint = self_signed(dir.path());
            std::fs::create_dir(dir.path().join("db")).expect("the db dir");
            let child = spawn(dir.path(), ltc, port, tls_port);
            let mut server = Self {
                child,
                dir,
                url: format!("tcp://127.0.0.1:{port}"),
                tls_url: format!("ssl://127.0.0.1:{tls_port}"),
                fingerprint,
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

    /// Stops the server and starts it again as its operator would: the same ports, certificate and
    /// database.
    pub async fn restart(&mut self, ltc: &Litecoind) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let tls_port = self
            .tls_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the TLS port");
        self.child = spawn(self.dir.path(), ltc, self.port(), tls_port);
        if let Err(why) = self.await_tip(ltc).await {
            panic!("ElectrumX did not come back: {why}");
        }
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

    /// [`Self::config`] over TLS, its self-signed certificate pinned by fingerprint.
    pub fn tls_config(&self, ltc: &Litecoind) -> ChainConfig {
        ChainConfig {
            electrum_url: self.tls_url.clone(),
            electrum_cert_sha256: self.fingerprint.clone(),
            ..self.config(ltc)
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

/// Runs `electrumx_server` on `dir` (its `db`, `cert.pem` and `key.pem`, and its log), indexing `ltc`,
/// serving TCP on `port` and TLS on `tls_port`.
fn spawn(dir: &std::path::Path, ltc: &Litecoind, port: u16, tls_port: u16) -> Child {
    let server = server_path();
    let log = File::options()
        .create(true)
        .append(true)
        .open(dir.join("electrumx.log"))
        .expect("a log file");
    let rpc = ltc.core.rpc_url.trim_end_matches('/');
    let daemon = rpc.replacen(
        "http://",
        &format!("http://{}:{}@", ltc.core.rpc_user, ltc.core.rpc_password),
        1,
    );
    Command::new(&server)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("ALLOW_ROOT", "1")
        .env("COIN", "Litecoin")
        .env("NET", "regtest")
        .env("DB_ENGINE", "leveldb")
        .env("DB_DIRECTORY", dir.join("db"))
        .env("DAEMON_URL", format!("{daemon}/"))
        .env(
            "SERVICES",
            format!("tcp://127.0.0.1:{port},ssl://127.0.0.1:{tls_port}"),
        )
        .env("SSL_CERTFILE", dir.join("cert.pem"))
        .env("SSL_KEYFILE", dir.join("key.pem"))
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
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", server.display()))
}

/// A self-signed certificate for 127.0.0.1 (an EC key) made with `openssl` in `dir` (`cert.pem`,
/// `key.pem`): its SHA-256 fingerprint as `openssl` prints it.
fn self_signed(dir: &std::path::Path) -> String {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=souk-test-electrumx"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (cargo xtask test installs it)");
    assert!(
        made.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let printed = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl x509");
    let text = String::from_utf8_lossy(&printed.stdout);
    text.trim()
        .split_once('=')
        .map(|(_, f)| f.to_owned())
        .unwrap_or_else(|| panic!("openssl printed no fingerprint: {text}"))
}

/// A loopback port nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
