//! Tor mode's own `tor`: a Debian `tor` daemon this node starts with its own data directory and
//! control port, watches through its bootstrap, and stops with the network (it is the owning
//! controller: tor exits when the control connection closes, and the child is killed on drop).
//!
//! Why the C daemon and not `arti-client`: its onion services are the ones the Tor network runs on
//! (arti's are still marked experimental: no proof-of-work DoS defence, no vanguards), it starts in
//! about 3 s on a warm data directory, costs 13–14 MB resident and adds nothing to our binary.
//!
//! The control protocol spoken here is the handful of commands this needs (`AUTHENTICATE`,
//! `TAKEOWNERSHIP`, `GETINFO`, `SETEVENTS HS_DESC`, `ADD_ONION`): line-based, specified in tor's
//! control-spec; no maintained crate speaks it for tokio.

mod control;
mod transport;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use base64::Engine as _;
use libp2p::{Multiaddr, identity::Keypair};
use sha2::{Digest, Sha512};
use tokio::{process::Child, sync::Mutex};

pub(crate) use transport::OnionTransport;
pub use transport::is_onion;

use self::control::{Control, parse_fields};
use super::NetError;

/// The port an onion address is announced with (its virtual port; tor forwards it to the local
/// listener, whatever port that got).
pub const ONION_PORT: u16 = 4001;

/// How to run this node's `tor`. Plain data; see [`TorSettings::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorSettings {
    /// The `tor` program (Debian: `apt install tor`).
    pub binary: PathBuf,
    /// Tor's own directory (state, cached directory, log); the node's `tor/` by default.
    pub data_dir: Option<PathBuf>,
    /// More torrc lines, e.g. a private test network's `TestingTorNetwork 1` and `DirAuthority`s.
    pub extra_config: Vec<String>,
    /// The start fails when the bootstrap has not moved on for this long.
    pub stall_timeout: Duration,
    /// How long the network start waits for the onion service's descriptor to be published.
    pub publish_timeout: Duration,
    /// Tor mode: be reachable from clearnet through bridges (a circuit reserved at a bridge, its
    /// relayed address announced: it names the bridge, never this node). Off: only the onion address
    /// is ever told, and clearnet makers are still reached through their bridges.
    pub via_bridges: bool,
}

impl TorSettings {
    pub fn new() -> Self {
        Self {
            binary: PathBuf::from("tor"),
            data_dir: None,
            extra_config: Vec::new(),
            stall_timeout: Duration::from_secs(60),
            publish_timeout: Duration::from_secs(120),
            via_bridges: true,
        }
    }
}

impl Default for TorSettings {
    fn default() -> Self {
        Self::new()
    }
}

/// How far tor's bootstrap has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorProgress {
    pub percent: u8,
    /// Tor's own words for the step ("Loading relay descriptors").
    pub summary: String,
    /// What tor warns about while stuck here ("Connection refused", with its reason).
    pub warning: Option<String>,
}

impl std::fmt::Display for TorProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%: {}", self.percent, self.summary)?;
        if let Some(warning) = &self.warning {
            write!(f, " (tor warns: {warning})")?;
        }
        Ok(())
    }
}

/// A running `tor`, bootstrapped. Dropping it stops the daemon.
#[derive(Debug)]
pub struct Tor {
    socks: SocketAddr,
    control: Mutex<Control>,
    child: Mutex<Child>,
    log: PathBuf,
    publish_timeout: Duration,
}

impl Tor {
    /// Starts `tor` in `settings.data_dir` (or `default_dir`) and waits until it is bootstrapped,
    /// calling `progress` each time the bootstrap moves. Fails with what tor said when it cannot be
    /// started, exits, or stalls for `stall_timeout`.
    pub async fn launch(
        settings: &TorSettings,
        default_dir: &Path,
        mut progress: impl FnMut(&TorProgress),
    ) -> Result<Tor, NetError> {
        let dir = settings
            .data_dir
            .clone()
            .unwrap_or_else(|| default_dir.to_path_buf());
        let fail = |what: String| NetError::Tor(what);
        let data = dir.join("data");
        for d in [&dir, &data] {
            create_private_dir(d)
                .map_err(|e| fail(format!("cannot create {}: {e}", d.display())))?;
        }
        let port_file = dir.join("control-port");
        let cookie_file = dir.join("control-auth-cookie");
        let log = dir.join("tor.log");
        let _ = std::fs::remove_file(&port_file);
        let _ = std::fs::remove_file(&cookie_file);
        let torrc = dir.join("torrc");
        let defaults = dir.join("torrc-defaults");
        std::fs::write(
            &torrc,
            torrc_text(settings, &data, &port_file, &cookie_file, &log),
        )
        .and_then(|()| std::fs::write(&defaults, ""))
        .map_err(|e| fail(format!("cannot write {}: {e}", torrc.display())))?;

        let mut child = tokio::process::Command::new(find_binary(&settings.binary))
            .arg("-f")
            .arg(&torrc)
            .arg("--defaults-torrc")
            .arg(&defaults)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                fail(if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "Tor mode needs the `tor` program, not found as {:?} (Debian: apt install tor)",
                        settings.binary
                    )
                } else {
                    format!("cannot start {:?}: {e}", settings.binary)
                })
            })?;

        // Tor writes its control port's address once it listens, and the cookie (32 bytes) about
        // then too: either may come first.
        let started = Instant::now();
        let control_addr = loop {
            let cookie_written = std::fs::metadata(&cookie_file).is_ok_and(|m| m.len() == 32);
            if cookie_written
                && let Ok(text) = std::fs::read_to_string(&port_file)
                && let Some(addr) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("PORT="))
                    .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            {
                break addr;
            }
            if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
                return Err(fail(exited(status, &mut child, &log).await));
            }
            if started.elapsed() > settings.stall_timeout {
                return Err(fail(format!(
                    "tor did not open its control port within {:?}; see {}",
                    settings.stall_timeout,
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut control = Control::connect(control_addr, &cookie_file).await?;
        control.command("TAKEOWNERSHIP").await?;
        control
            .command("RESETCONF __OwningControllerProcess")
            .await?;
        let socks = control
            .getinfo("net/listeners/socks")
            .await?
            .split_whitespace()
            .next()
            .map(|a| a.trim_matches('"').to_owned())
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .ok_or_else(|| fail("tor reports no SOCKS listener".into()))?;

        let mut last: Option<TorProgress> = None;
        let mut moved = Instant::now();
        loop {
            let now = bootstrap_phase(&control.getinfo("status/bootstrap-phase").await?);
            if last.as_ref() != Some(&now) {
                if last
                    .as_ref()
                    .is_none_or(|l| (l.percent, &l.summary) != (now.percent, &now.summary))
                {
                    moved = Instant::now();
                }
                progress(&now);
                last = Some(now.clone());
            }
            if now.percent >= 100 {
                break;
            }
            if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
                return Err(fail(exited(status, &mut child, &log).await));
            }
            if moved.elapsed() > settings.stall_timeout {
                return Err(fail(format!(
                    "tor's bootstrap stalled at {now} for {} s; see {}",
                    settings.stall_timeout.as_secs(),
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!(%socks, elapsed = ?started.elapsed(), "tor bootstrapped");
        Ok(Tor {
            socks,
            control: Mutex::new(control),
            child: Mutex::new(child),
            log,
            publish_timeout: settings.publish_timeout,
        })
    }

    /// Where tor's SOCKS5 proxy listens: every outgoing connection of Tor mode goes through it.
    pub fn socks_addr(&self) -> SocketAddr {
        self.socks
    }

    /// Publishes this node's onion service (the key derived from its identity, so the address stays
    /// the same across restarts and restores), forwarding [`ONION_PORT`] to `target`, and waits
    /// until its descriptor is uploaded. Returns the onion address to announce.
    pub async fn publish(
        &self,
        identity: &Keypair,
        target: SocketAddr,
    ) -> Result<Multiaddr, NetError> {
        let key = onion_key(identity)?;
        let mut control = self.control.lock().await;
        control.command("SETEVENTS HS_DESC").await?;
        let reply = control
            .command(&format!(
                "ADD_ONION ED25519-V3:{} Flags=DiscardPK Port={ONION_PORT},{target}",
                base64::engine::general_purpose::STANDARD.encode(key.as_slice())
            ))
            .await?;
        let service = reply
            .iter()
            .find_map(|l| l.strip_prefix("ServiceID="))
            .map(str::to_owned)
            .ok_or_else(|| {
                NetError::Tor(format!("ADD_ONION answered without a ServiceID: {reply:?}"))
            })?;
        let deadline = Instant::now() + self.publish_timeout;
        let uploaded = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, control.next_event()).await {
                Err(_) => break false,
                Ok(event) => {
                    let event = event?;
                    let words: Vec<&str> = event.split_whitespace().collect();
                    if words.get(1) == Some(&"UPLOADED") && words.get(2) == Some(&service.as_str())
                    {
                        break true;
                    }
                }
            }
        };
        control.command("SETEVENTS").await?;
        if !uploaded {
            return Err(NetError::Tor(format!(
                "the onion service {service}.onion was not published within {} s; see {}",
                self.publish_timeout.as_secs(),
                self.log.display()
            )));
        }
        format!("/onion3/{service}:{ONION_PORT}")
            .parse()
            .map_err(|e| NetError::Tor(format!("tor gave an onion address we cannot read: {e}")))
    }

    /// Stops tor now (it would also stop when this is dropped).
    pub async fn stop(&self) {
        let _ = self.control.lock().await.command("SIGNAL HALT").await;
        let mut child = self.child.lock().await;
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

/// The onion service's secret key in tor's expanded form (the SHA-512 of a seed, clamped), the seed
/// derived from the node's identity key, so a restored identity has the same onion address.
fn onion_key(identity: &Keypair) -> Result<zeroize::Zeroizing<[u8; 64]>, NetError> {
    let secret = identity
        .clone()
        .try_into_ed25519()
        .map_err(|_| NetError::Tor("the identity key is not ed25519".into()))?
        .secret();
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<sha2::Sha256>::new(None, secret.as_ref())
        .expand(b"souk/tor-onion-service/v1", seed.as_mut_slice())
        .map_err(|_| NetError::Tor("onion key derivation".into()))?;
    let mut key = zeroize::Zeroizing::new([0u8; 64]);
    key.copy_from_slice(&Sha512::digest(seed.as_slice()));
    key[0] &= 248;
    key[31] &= 127;
    key[31] |= 64;
    Ok(key)
}

fn torrc_text(
    settings: &TorSettings,
    data: &Path,
    port_file: &Path,
    cookie_file: &Path,
    log: &Path,
) -> String {
    let mut lines = vec![
        format!("DataDirectory {}", data.display()),
        "SocksPort 127.0.0.1:auto".into(),
        "ControlPort 127.0.0.1:auto".into(),
        format!("ControlPortWriteToFile {}", port_file.display()),
        "CookieAuthentication 1".into(),
        format!("CookieAuthFile {}", cookie_file.display()),
        // Exit with this process even if it dies before taking ownership.
        format!("__OwningControllerProcess {}", std::process::id()),
        "ClientOnly 1".into(),
        "AvoidDiskWrites 1".into(),
        // Country data is only for statistics and ExcludeNodes: 35 MB of memory saved.
        "GeoIPFile \"\"".into(),
        "GeoIPv6File \"\"".into(),
        format!("Log notice file {}", log.display()),
        "RunAsDaemon 0".into(),
    ];
    lines.extend(settings.extra_config.iter().cloned());
    lines.join("\n") + "\n"
}

/// `status/bootstrap-phase`'s value: `NOTICE BOOTSTRAP PROGRESS=45 TAG=… SUMMARY="…"`, with
/// `WARNING="…" REASON=…` when a step fails.
fn bootstrap_phase(value: &str) -> TorProgress {
    let fields = parse_fields(value);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    TorProgress {
        percent: get("PROGRESS")
            .and_then(|p| p.parse::<u8>().ok())
            .unwrap_or(0)
            .min(100),
        summary: get("SUMMARY").unwrap_or_else(|| "starting".into()),
        warning: get("WARNING").map(|w| match get("REASON") {
            Some(reason) => format!("{w} ({reason})"),
            None => w,
        }),
    }
}

async fn exited(status: std::process::ExitStatus, child: &mut Child, log: &Path) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr).await;
    }
    let log_tail = std::fs::read_to_string(log).unwrap_or_default();
    let said: Vec<&str> = stderr
        .lines()
        .chain(log_tail.lines())
        .filter(|l| l.contains("[err]") || l.contains("[warn]"))
        .collect();
    let said = said
        .iter()
        .rev()
        .take(3)
        .rev()
        .cloned()
        .collect::<Vec<_>>()
        .join(" / ");
    format!(
        "tor exited ({status}) before it was ready{}; see {}",
        if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        },
        log.display()
    )
}

/// A bare program name is looked up on the `PATH`, then in the `sbin` directories Debian installs
/// `tor` to (not on an ordinary user's `PATH`).
pub fn find_binary(binary: &Path) -> PathBuf {
    if binary.components().count() != 1 {
        return binary.to_path_buf();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| binary.to_path_buf())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    // Tor refuses a data directory others can read.
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tor_bootstrap_phases() {
        let p = bootstrap_phase(
            r#"NOTICE BOOTSTRAP PROGRESS=45 TAG=requesting_descriptors SUMMARY="Asking for relay descriptors""#,
        );
        assert_eq!(
            (p.percent, p.summary.as_str(), p.warning),
            (45, "Asking for relay descriptors", None)
        );
        let p = bootstrap_phase(
            r#"WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay" WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore HOSTID="AB" HOSTADDR="127.0.0.1:9""#,
        );
        assert_eq!(p.percent, 5);
        assert_eq!(
            p.warning.as_deref(),
            Some("Connection refused (CONNECTREFUSED)")
        );
        assert_eq!(
            p.to_string(),
            "5%: Connecting to a relay (tor warns: Connection refused (CONNECTREFUSED))"
        );
    }

    #[test]
    fn a_bare_program_name_is_found_on_the_path_or_in_sbin() {
        let sh = find_binary(Path::new("sh"));
        assert!(sh.is_absolute() && sh.is_file(), "{sh:?}");
        let given = Path::new("./my/tor");
        assert_eq!(find_binary(given), given);
        let missing = Path::new("no-such-program-here");
        assert_eq!(find_binary(missing), missing);
    }

    #[test]
    fn the_onion_key_is_the_identitys_and_clamped() {
        let a = Keypair::generate_ed25519();
        let (k1, k2) = (onion_key(&a).unwrap(), onion_key(&a).unwrap());
        assert_eq!(k1.as_slice(), k2.as_slice());
        assert_ne!(
            k1.as_slice(),
            onion_key(&Keypair::generate_ed25519()).unwrap().as_slice()
        );
        assert_eq!((k1[0] & 7, k1[31] & 0xc0), (0, 0x40));
    }
}
