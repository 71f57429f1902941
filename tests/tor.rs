//! A private Tor network on loopback for Tor mode's scenarios: three v3 directory authorities (also
//! relays, guards and exits) and two more relays, all Debian's `tor` in `TestingTorNetwork` mode, keys
//! and torrcs made here in a temp dir, ports found free on 127.0.0.1. A node joins it with
//! [`TorNet::client_config`]: the same `TestingTorNetwork 1` and `DirAuthority` lines.
//!
//! Start-up follows what was measured (session notes of issue 18): the first vote is scheduled a few
//! seconds after launch, the relays are told to re-fetch (SIGHUP) once the first consensus exists,
//! and [`TorNet::start`] returns once every directory serves a complete consensus — then a fresh
//! client bootstraps in about 3 s.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    process::{Child, Command},
};

/// Seconds between votes (the first consensus comes one interval after launch, at most).
const VOTING_INTERVAL: u64 = 10;
const VOTE_DELAY: u64 = 2;
const DIST_DELAY: u64 = 2;
/// How long the network may take to publish its first complete consensus.
const START_LIMIT: Duration = Duration::from_secs(120);
const AUTHORITIES: usize = 3;
const RELAYS: usize = 5;

/// One running private Tor network; stopped on drop.
#[derive(Debug)]
pub struct TorNet {
    dir: tempfile::TempDir,
    relays: Vec<Relay>,
    dir_authorities: Vec<String>,
}

#[derive(Debug)]
struct Relay {
    nick: String,
    dir: PathBuf,
    or_port: u16,
    dir_port: u16,
    child: Option<Child>,
}

impl TorNet {
    /// Makes keys and configs and starts the relays; returns once every directory serves a complete
    /// consensus. Panics, with tor's log, when the network does not come up.
    pub async fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("souk-tornet-")
            .tempdir()
            .expect("temp dir");
        let mut relays = Vec::new();
        // Every port stays bound until all are chosen, so no two relays get the same one.
        let mut held = Vec::new();
        let mut free_port = || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            let port = listener.local_addr().expect("its address").port();
            held.push(listener);
            port
        };
        for i in 0..RELAYS {
            let kind = if i < AUTHORITIES { 'a' } else { 'r' };
            let nick = format!("test{i:03}{kind}");
            let rdir = dir.path().join(&nick);
            private_dir(&rdir.join("keys"));
            relays.push(Relay {
                nick,
                dir: rdir,
                or_port: free_port(),
                dir_port: free_port(),
                child: None,
            });
        }
        // Keys: relay identities, then the authorities' v3 keys, all at once.
        let fingerprints = futures::future::join_all(relays.iter().map(relay_fingerprint)).await;
        let v3idents = futures::future::join_all(
            relays[..AUTHORITIES]
                .iter()
                .map(|r| authority_certificate(&r.dir, r.dir_port)),
        )
        .await;
        let dir_authorities: Vec<String> = relays[..AUTHORITIES]
            .iter()
            .zip(&v3idents)
            .zip(&fingerprints)
            .map(|((r, v3), fp)| {
                format!(
                    "DirAuthority {} orport={} no-v2 v3ident={v3} 127.0.0.1:{} {fp}",
                    r.nick, r.or_port, r.dir_port
                )
            })
            .collect();

        // The first consensus's valid-after: a few seconds after launch, so the relays' descriptors
        // (uploaded ~3 s after start) are in it.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let lead = (VOTE_DELAY + DIST_DELAY + 8).min(VOTING_INTERVAL - 1);
        let offset = (now + lead) % VOTING_INTERVAL;
        for (i, relay) in relays.iter().enumerate() {
            let mut lines = common_lines(&relay.dir, &relay.nick);
            lines.extend(dir_authorities.iter().cloned());
            lines.extend([
                "SocksPort 0".to_owned(),
                format!("ContactInfo {}@test.invalid", relay.nick),
                "Address 127.0.0.1".into(),
                "AddressDisableIPv6 1".into(),
                format!("ORPort 127.0.0.1:{}", relay.or_port),
                format!("DirPort 127.0.0.1:{}", relay.dir_port),
                "AssumeReachable 1".into(),
            ]);
            if i < AUTHORITIES {
                lines.extend([
                    "ExitRelay 1".to_owned(),
                    "ExitPolicyRejectPrivate 0".into(),
                    "ExitPolicy accept *:*".into(),
                    "AuthoritativeDirectory 1".into(),
                    "V3AuthoritativeDirectory 1".into(),
                    format!("TestingV3AuthInitialVotingInterval {VOTING_INTERVAL}"),
                    format!("V3AuthVotingInterval {VOTING_INTERVAL}"),
                    format!("TestingV3AuthInitialVoteDelay {VOTE_DELAY}"),
                    format!("V3AuthVoteDelay {VOTE_DELAY}"),
                    format!("TestingV3AuthInitialDistDelay {DIST_DELAY}"),
                    format!("V3AuthDistDelay {DIST_DELAY}"),
                    format!("TestingV3AuthVotingStartOffset {offset}"),
                ]);
            } else {
                lines.extend(["ExitRelay 0".to_owned(), "ExitPolicy reject *:*".into()]);
            }
            std::fs::write(relay.dir.join("torrc"), lines.join("\n") + "\n").expect("torrc");
        }
        let mut net = Self {
            dir,
            relays,
            dir_authorities,
        };
        std::fs::write(net.dir.path().join("torrc-defaults"), "").expect("defaults");
        drop(held);
        let started = Instant::now();
        for relay in &mut net.relays {
            relay.child = Some(
                Command::new(tor())
                    .arg("-f")
                    .arg(relay.dir.join("torrc"))
                    .arg("--defaults-torrc")
                    .arg(net.dir.path().join("torrc-defaults"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("start tor (apt install tor)"),
            );
        }
        // 1. The first authority publishes a complete consensus.
        net.await_directories(1, started).await;
        // 2. The relays back off between consensus fetches; a SIGHUP makes them fetch at once.
        for relay in &net.relays[AUTHORITIES..] {
            if let Some(pid) = relay.child.as_ref().and_then(Child::id) {
                let _ = std::process::Command::new("kill")
                    .args(["-HUP", &pid.to_string()])
                    .status();
            }
        }
        // 3. Every directory serves it, so a new client's first fetch succeeds wherever it asks.
        net.await_directories(RELAYS, started).await;
        eprintln!(
            "private Tor network up in {:.1} s ({} relays)",
            started.elapsed().as_secs_f64(),
            RELAYS
        );
        net
    }

    /// The torrc lines a tor needs to use this network (Tor mode's `extra_config`).
    pub fn client_config(&self) -> Vec<String> {
        let mut lines = vec![
            "TestingTorNetwork 1".to_owned(),
            // tor's default KIST scheduler adds 15–100 ms per round trip on an all-loopback network.
            "Schedulers Vanilla".into(),
        ];
        lines.extend(self.dir_authorities.iter().cloned());
        lines
    }

    /// The tail of every relay's log, for a failing test's message.
    pub fn logs(&self) -> String {
        self.relays
            .iter()
            .map(|r| {
                let log = std::fs::read_to_string(r.dir.join("notice.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!(
                    "--- {} ---\n{}",
                    r.nick,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The process ids of the network's own tors (not the nodes').
    pub fn pids(&self) -> Vec<u32> {
        self.relays
            .iter()
            .filter_map(|r| r.child.as_ref().and_then(Child::id))
            .collect()
    }

    async fn await_directories(&mut self, upto: usize, started: Instant) {
        loop {
            let dead = self.relays.iter_mut().find_map(|relay| {
                let status = relay.child.as_mut()?.try_wait().ok().flatten()?;
                Some(format!("{} ({status})", relay.nick))
            });
            if let Some(dead) = dead {
                panic!(
                    "relay {dead} of the private Tor network exited\n{}",
                    self.logs()
                );
            }
            let which = &self.relays[..upto];
            let mut ready = 0;
            for relay in which {
                if serves_complete_consensus(relay.dir_port).await {
                    ready += 1;
                }
            }
            if ready == which.len() {
                return;
            }
            assert!(
                started.elapsed() < START_LIMIT,
                "the private Tor network published no complete consensus within {START_LIMIT:?} \
                 ({ready} of {} directories ready)\n{}",
                which.len(),
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn tor() -> PathBuf {
    souk_core::net::tor::find_binary(Path::new("tor"))
}

fn tor_gencert() -> PathBuf {
    souk_core::net::tor::find_binary(Path::new("tor-gencert"))
}

fn common_lines(dir: &Path, nick: &str) -> Vec<String> {
    [
        "TestingTorNetwork 1".to_owned(),
        format!("DataDirectory {}", dir.display()),
        format!("Nickname {nick}"),
        "RunAsDaemon 0".into(),
        format!("Log notice file {}", dir.join("notice.log").display()),
        "ShutdownWaitLength 0".into(),
        "GeoIPFile \"\"".into(),
        "GeoIPv6File \"\"".into(),
        "Schedulers Vanilla".into(),
        "PathsNeededToBuildCircuits 0.67".into(),
        "TestingDirAuthVoteExit *".into(),
        "TestingDirAuthVoteHSDir *".into(),
        "TestingDirAuthVoteGuard *".into(),
        "TestingMinExitFlagThreshold 0".into(),
        "V3AuthNIntervalsValid 2".into(),
    ]
    .into()
}

fn private_dir(dir: &Path) {
    std::fs::create_dir_all(dir).expect("relay dir");
    use std::os::unix::fs::PermissionsExt as _;
    for d in [dir, dir.parent().expect("parent")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
}

/// Makes the relay's identity keys; its RSA fingerprint.
async fn relay_fingerprint(relay: &Relay) -> String {
    let out = Command::new(tor())
        .args([
            "--ignore-missing-torrc",
            "-f",
            "/dev/null",
            "--defaults-torrc",
            "/dev/null",
            "--quiet",
            "--list-fingerprint",
            "--orport",
            "1",
            "--dirserver",
            "xyzzy 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff",
            "--datadirectory",
        ])
        .arg(&relay.dir)
        .output()
        .await
        .expect("tor --list-fingerprint (apt install tor)");
    assert!(out.status.success(), "tor --list-fingerprint: {out:?}");
    let text = std::fs::read_to_string(relay.dir.join("fingerprint")).expect("fingerprint file");
    text.split_whitespace()
        .nth(1)
        .expect("nickname and fingerprint")
        .to_owned()
}

/// Makes a directory authority's v3 keys; its v3 identity (the certificate's fingerprint).
async fn authority_certificate(dir: &Path, dir_port: u16) -> String {
    let keys = dir.join("keys");
    let mut child = Command::new(tor_gencert())
        .args(["--create-identity-key", "--passphrase-fd", "0", "-m", "12"])
        .arg("-a")
        .arg(format!("127.0.0.1:{dir_port}"))
        .arg("-i")
        .arg(keys.join("authority_identity_key"))
        .arg("-s")
        .arg(keys.join("authority_signing_key"))
        .arg("-c")
        .arg(keys.join("authority_certificate"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tor-gencert (apt install tor)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"souk test network\n")
        .await
        .expect("passphrase");
    drop(stdin);
    let out = child.wait_with_output().await.expect("tor-gencert");
    assert!(out.status.success(), "tor-gencert: {out:?}");
    let cert = std::fs::read_to_string(keys.join("authority_certificate")).expect("certificate");
    cert.lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .expect("the certificate's fingerprint")
        .trim()
        .to_owned()
}

/// The directory at `port` serves a consensus listing every relay, and every relay's microdescriptor.
async fn serves_complete_consensus(port: u16) -> bool {
    let Some(consensus) = http_get(port, "/tor/status-vote/current/consensus-microdesc").await
    else {
        return false;
    };
    let listed = consensus.lines().filter(|l| l.starts_with("r ")).count();
    if listed < RELAYS {
        return false;
    }
    let digests: Vec<&str> = consensus
        .lines()
        .filter_map(|l| l.strip_prefix("m "))
        .collect();
    match http_get(port, &format!("/tor/micro/d/{}", digests.join("-"))).await {
        Some(micro) => micro.lines().filter(|l| l.starts_with("onion-key")).count() >= RELAYS,
        None => false,
    }
}

/// A plain HTTP/1.0 GET on 127.0.0.1; the body when the answer is 200.
async fn http_get(port: u16, path: &str) -> Option<String> {
    let get = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), get)
        .await
        .ok()?
}
