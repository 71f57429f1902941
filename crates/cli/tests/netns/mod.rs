//! What the tests that run `souk node` processes in network namespaces share (`ip netns` + veth;
//! needs root, as CI has): running `ip`, a `souk` command inside a namespace, and a node process
//! there with the CLI to talk to it.

#![allow(dead_code)]

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

const PASS: &str = "namespace passphrase";
const POLL: Duration = Duration::from_millis(100);

/// Runs `ip ARGS` (in namespace `ns` when given) and fails the test with its error output, saying
/// that namespaces need root and iproute2 when they cannot be made.
pub fn ip(ns: Option<&str>, args: &[&str]) {
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["netns", "exec", ns, "ip"]);
    }
    let out = cmd.args(args).output().unwrap_or_else(|e| {
        panic!(
            "`ip` cannot run ({e}): these tests need iproute2 and root to make network namespaces"
        )
    });
    assert!(
        out.status.success(),
        "ip {args:?} in {ns:?} failed (network namespaces need root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes each namespace of `names`, its loopback up.
pub fn namespaces(names: &[&String]) {
    for ns in names {
        ip(None, &["netns", "add", ns]);
        ip(Some(ns), &["link", "set", "lo", "up"]);
    }
}

/// A veth pair between namespaces `a` (interface `a_if`, address `a_addr`, e.g. `10.9.1.2/24`) and
/// `b` (`b_if`, `b_addr`), both ends up.
pub fn link(a: &str, a_if: &str, a_addr: &str, b: &str, b_if: &str, b_addr: &str) {
    ip(
        None,
        &["link", "add", a_if, "type", "veth", "peer", "name", b_if],
    );
    for (ns, dev, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        ip(None, &["link", "set", dev, "netns", ns]);
        ip(Some(ns), &["addr", "add", addr, "dev", dev]);
        ip(Some(ns), &["link", "set", dev, "up"]);
    }
}

/// Sets a sysctl inside namespace `ns`.
pub fn sysctl(ns: &str, setting: &str) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-qw", setting])
        .output()
        .expect("sysctl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `souk` command run inside namespace `ns`.
pub fn souk(ns: &str, dir: &Path) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_souk")])
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SOUK_DATA_DIR")
        .env_remove("SOUK_LOG_FILE")
        .env("SOUK_PASSPHRASE", PASS)
        .env("SOUK_LOG_LEVEL", "info")
        .env("SOUK_PRICE_URL", "")
        .stdin(Stdio::null());
    cmd
}

/// A `souk node` in a namespace (`--json node --no-mdns --market BTC/EUR` and `args`), killed when
/// dropped; its log is `<dir>.log`.
pub struct Host {
    pub ns: String,
    pub dir: PathBuf,
    pub child: Child,
    /// How long `poll` waits.
    pub deadline: Duration,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Host {
    pub fn start(ns: &str, dir: &Path, args: &[&str], deadline: Duration) -> Self {
        let out = souk(ns, dir).args(["--json", "init"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let child = souk(ns, dir)
            .args(["--json", "node", "--no-mdns", "--market", "BTC/EUR"])
            .args(args)
            .stdout(File::create(dir.with_extension("stdout.log")).unwrap())
            .stderr(File::create(dir.with_extension("log")).unwrap())
            .spawn()
            .unwrap();
        let host = Self {
            ns: ns.to_owned(),
            dir: dir.to_path_buf(),
            child,
            deadline,
        };
        host.poll("the API", || host.status());
        host
    }

    /// `souk status` once this very process wrote its API file.
    pub fn status(&self) -> Option<Value> {
        let api: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("api.json")).ok()?).ok()?;
        // `ip netns exec` execs the program: the node's pid is the child's.
        (api["pid"] == self.child.id()).then_some(())?;
        self.cli(&["status"]).ok()
    }

    /// This node's listen address on `ip_addr` over TCP, ending in its PeerId.
    pub fn tcp_addr(&self, ip_addr: &str) -> String {
        let status = self.status().expect("the node answers");
        let peer = status["peer_id"].as_str().unwrap();
        let tcp = status["listen_addrs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find(|a| a.starts_with(&format!("/ip4/{ip_addr}/tcp/")))
            .unwrap()
            .split("/p2p/")
            .next()
            .unwrap()
            .to_owned();
        format!("{tcp}/p2p/{peer}")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
    }

    pub fn cli(&self, args: &[&str]) -> Result<Value, String> {
        let out: Output = souk(&self.ns, &self.dir)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        if out.status.success() {
            serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn must(&self, args: &[&str]) -> Value {
        self.cli(args)
            .unwrap_or_else(|e| panic!("souk {args:?}: {e}\nnode log:\n{}", self.log()))
    }

    /// Asks `probe` until it gives something, failing with the node's log after the deadline.
    pub fn poll<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + self.deadline;
        loop {
            if let Some(v) = probe() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {:?}\nnode log:\n{}",
                self.deadline,
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// The chat as this node holds it: (outgoing, body), in its order.
    pub fn chat(&self, trade: &str) -> Vec<(bool, String)> {
        self.must(&["chat", "log", trade])
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["outgoing"].as_bool().unwrap(),
                    m["body"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// The bodies of the messages that came in.
pub fn incoming(chat: &[(bool, String)]) -> Vec<String> {
    chat.iter()
        .filter(|(out, _)| !out)
        .map(|(_, b)| b.clone())
        .collect()
}
