//! What the desktop app holds in memory on the Market screen: the release `souk-desktop` binary in a
//! real window (the display the benchmark is given, Xvfb under `cargo xtask bench`), its data
//! directory made by `souk init` and its book filled beforehand through the core's own `Book` (as
//! the network would have brought the offers). The window is unlocked the way a user does it — the
//! passphrase typed into the focused field with `xdotool`, then Return — and the app goes on to the
//! Market screen on its own; once its node has started, it is left idle, then every process of the
//! app is read from the kernel: the app itself (Rust core, GTK, the WebKit UI process) and the
//! WebKit processes it starts (web content, network).
//!
//! The figures are the kernel's `smaps_rollup`: RSS counts every page a process maps, so a shared
//! library mapped by three processes is counted three times in a sum of RSS; PSS divides each shared
//! page among the processes sharing it, so the sum of PSS is what the app as a whole costs the
//! machine. Each is split into the process's own memory (anon: heaps, the JavaScript heap, SQLite's
//! page cache) and mapped files (the executables and libraries, WebKitGTK's ~80 MB among them). On
//! another machine the file part moves with the WebKitGTK build and its libraries, the anonymous part
//! with the GPU path (none under Xvfb: software rendering) and the number of cores.

use std::{
    fmt,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde::Serialize;
use souk_core::{book::Book, store::Store};
use tokio::process::{Child, Command};

use crate::real_nodes::{PASS, init};

#[derive(Debug, Clone)]
pub struct DesktopFootprintSettings {
    /// The `souk-desktop` binary (a release build with the UI embedded).
    pub app: PathBuf,
    /// The `souk` binary that makes the data directory (`souk init`).
    pub souk: PathBuf,
    /// Offers in the book before the app starts.
    pub offers: usize,
    /// How long the app is left alone on the Market screen before it is measured.
    pub idle: Duration,
    /// The longest the window may take to appear and its node to start after the unlock.
    pub start_timeout: Duration,
    /// Where to save a screenshot of the screen as measured (needs ImageMagick's `import`).
    pub screenshot: Option<PathBuf>,
    /// Run the app with WebKit's accelerated compositing on (`SOUK_WEBKIT_COMPOSITING=1`, WebKit's
    /// own default) instead of the app's default (off): the baseline the app's choice is held against.
    pub webkit_compositing: bool,
}

impl DesktopFootprintSettings {
    pub fn new(app: PathBuf, souk: PathBuf) -> Self {
        Self {
            app,
            souk,
            offers: 10_000,
            idle: Duration::from_secs(20),
            start_timeout: Duration::from_secs(90),
            screenshot: None,
            webkit_compositing: false,
        }
    }
}

/// One process of the app, in KiB as the kernel counts it (`/proc/PID/smaps_rollup`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessMemory {
    pub pid: u32,
    /// The kernel's name for it (`comm`): `souk-desktop`, `WebKitWebProces`, `WebKitNetworkPr`.
    pub name: String,
    pub rss_kib: u64,
    pub pss_kib: u64,
    /// Its own memory's share.
    pub pss_anon_kib: u64,
    /// Mapped files' share (executables, libraries, fonts).
    pub pss_file_kib: u64,
    pub pss_shmem_kib: u64,
    pub threads: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DesktopFootprintReport {
    pub offers: usize,
    /// Whether WebKit's accelerated compositing was on (its default) rather than the app's default.
    pub webkit_compositing: bool,
    pub idle_secs: f64,
    /// From the app's start to its node running (window shown, passphrase typed, unlocked).
    pub start_to_unlocked_secs: f64,
    pub processes: Vec<ProcessMemory>,
    /// Every page of every process, shared ones once per process that maps them.
    pub total_rss_kib: u64,
    /// What the app costs the machine: shared pages divided among the processes sharing them.
    pub total_pss_kib: u64,
    pub total_pss_anon_kib: u64,
    pub total_pss_file_kib: u64,
    /// A screenshot of the screen as measured, when one was asked for and could be taken.
    pub screenshot: Option<PathBuf>,
}

impl fmt::Display for DesktopFootprintReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        writeln!(
            f,
            "desktop footprint: the app on the Market screen with {} offers, idle {:.0} s \
             (unlocked {:.1} s after its start), {}",
            self.offers,
            self.idle_secs,
            self.start_to_unlocked_secs,
            if self.webkit_compositing {
                "WebKit's accelerated compositing on (WebKit's default, SOUK_WEBKIT_COMPOSITING=1)"
            } else {
                "the app's default (WebKit's accelerated compositing off)"
            }
        )?;
        writeln!(
            f,
            "  {:<17} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "process", "pid", "RSS MiB", "PSS MiB", "anon", "files", "threads"
        )?;
        for p in &self.processes {
            writeln!(
                f,
                "  {:<17} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8}",
                p.name,
                p.pid,
                mib(p.rss_kib),
                mib(p.pss_kib),
                mib(p.pss_anon_kib),
                mib(p.pss_file_kib),
                p.threads
            )?;
        }
        writeln!(
            f,
            "  total: PSS {:.1} MiB (anon {:.1}, files {:.1}); RSS summed {:.1} MiB (shared pages \
             counted once per process)",
            mib(self.total_pss_kib),
            mib(self.total_pss_anon_kib),
            mib(self.total_pss_file_kib),
            mib(self.total_rss_kib)
        )?;
        if let Some(shot) = &self.screenshot {
            writeln!(f, "  screenshot: {}", shot.display())?;
        }
        Ok(())
    }
}

/// The app's process group, killed when dropped.
struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            // The whole group: the app and the WebKit processes it started.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

pub async fn run_desktop_footprint(
    settings: &DesktopFootprintSettings,
) -> anyhow::Result<DesktopFootprintReport> {
    if std::env::var_os("DISPLAY").is_none() {
        bail!(
            "no display: DISPLAY is unset, so the window cannot open (run it under `xvfb-run -a`, as \
             `cargo xtask bench` does)"
        );
    }
    for tool in ["xdotool", "dbus-daemon"] {
        which(tool).with_context(|| {
            format!("`{tool}` is not installed (Debian: apt install xdotool dbus)")
        })?;
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("desktop");
    init(&settings.souk, &data).await?;
    // Loopback only, no peers: what is measured is the app with its book, not a network's traffic.
    std::fs::write(
        data.join("souk.toml"),
        "[net]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nmdns = false\n",
    )
    .context("writing the app's souk.toml")?;
    let store = Store::open(&data.join(souk_core::store::FILE_NAME))
        .await
        .context("opening the app's database")?;
    crate::book_pages::fill(&Book::new(&store), settings.offers)
        .await
        .context("filling the app's book")?;
    store.pool().close().await;

    // A session bus of its own, so nothing reaches a desktop the machine may have.
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting dbus-daemon")?;
    let bus_address = {
        use tokio::io::AsyncBufReadExt;
        let out = bus.stdout.take().context("dbus-daemon's stdout")?;
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            tokio::io::BufReader::new(out).read_line(&mut line),
        )
        .await
        .context("dbus-daemon printed no address in 10 s")??;
        line.trim().to_owned()
    };

    let started = Instant::now();
    let deadline = started + settings.start_timeout;
    let mut command = Command::new(&settings.app);
    // The app decides WebKit's compositing from these (src-tauri/src/webkit.rs).
    command
        .env_remove("WEBKIT_DISABLE_COMPOSITING_MODE")
        .env_remove("SOUK_WEBKIT_COMPOSITING");
    if settings.webkit_compositing {
        command.env("SOUK_WEBKIT_COMPOSITING", "1");
    }
    let app = App(command
        .env("SOUK_DATA_DIR", &data)
        // Loopback only: no market price feed.
        .env("SOUK_PRICE_URL", "")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
        .env_remove("SOUK_PASSPHRASE")
        .env_remove("SOUK_LOG_LEVEL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", settings.app.display()))?);
    let pid = app.0.id().context("the app exited at once")?;

    let window = loop {
        let out = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--pid", &pid.to_string()])
            .output()
            .await
            .context("running xdotool search")?;
        let found = String::from_utf8_lossy(&out.stdout);
        if let Some(id) = found.lines().next().filter(|l| !l.trim().is_empty()) {
            break id.trim().to_owned();
        }
        if Instant::now() > deadline {
            bail!(
                "the app's window did not appear within {:?}",
                settings.start_timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The unlock screen's passphrase field has the focus once the page has loaded; until then the
    // keys go nowhere. So: type, press Return, and look for the node's start in its log; type again
    // (the field cleared first) while it has not come.
    let logs = data.join("logs");
    let mut next_try = Instant::now();
    loop {
        if Instant::now() >= next_try {
            xdotool(&["windowfocus", "--sync", &window]).await?;
            xdotool(&["key", "--clearmodifiers", "ctrl+a", "BackSpace"]).await?;
            xdotool(&["type", "--delay", "15", PASS]).await?;
            xdotool(&["key", "Return"]).await?;
            next_try = Instant::now() + Duration::from_secs(8);
        }
        if log_says(&logs, "network started") {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the app's node did not start within {:?} (the passphrase typed into its window \
                 did not unlock it; see {})",
                settings.start_timeout,
                logs.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let start_to_unlocked_secs = started.elapsed().as_secs_f64();

    tokio::time::sleep(settings.idle).await;
    let mut processes = Vec::new();
    for pid in process_tree(pid)? {
        // A process that ended between the listing and the read is not part of the app any more.
        if let Ok(memory) = process_memory(pid) {
            processes.push(memory);
        }
    }
    let screenshot = match &settings.screenshot {
        Some(path) => screenshot(path).await,
        None => None,
    };
    drop(app);
    let sum = |f: fn(&ProcessMemory) -> u64| processes.iter().map(f).sum::<u64>();
    Ok(DesktopFootprintReport {
        offers: settings.offers,
        webkit_compositing: settings.webkit_compositing,
        idle_secs: settings.idle.as_secs_f64(),
        start_to_unlocked_secs,
        total_rss_kib: sum(|p| p.rss_kib),
        total_pss_kib: sum(|p| p.pss_kib),
        total_pss_anon_kib: sum(|p| p.pss_anon_kib),
        total_pss_file_kib: sum(|p| p.pss_file_kib),
        processes,
        screenshot,
    })
}

async fn xdotool(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("xdotool")
        .args(args)
        .output()
        .await
        .context("running xdotool")?;
    if !out.status.success() {
        bail!(
            "xdotool {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether any log file in `dir` has a line containing `text`.
fn log_says(dir: &Path, text: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        std::fs::read_to_string(e.path()).is_ok_and(|log| log.lines().any(|l| l.contains(text)))
    })
}

/// `root` and every process below it (children, their children, …).
fn process_tree(root: u32) -> anyhow::Result<Vec<u32>> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").context("reading /proc (Linux only)")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so read after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    Ok(tree)
}

fn process_memory(pid: u32) -> anyhow::Result<ProcessMemory> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))?
        .trim()
        .to_owned();
    let field = |text: &str, name: &str| crate::memory::status_field_kib(text, name).unwrap_or(0);
    Ok(ProcessMemory {
        pid,
        name,
        rss_kib: field(&rollup, "Rss:"),
        pss_kib: field(&rollup, "Pss:"),
        pss_anon_kib: field(&rollup, "Pss_Anon:"),
        pss_file_kib: field(&rollup, "Pss_File:"),
        pss_shmem_kib: field(&rollup, "Pss_Shmem:"),
        threads: field(&status, "Threads:"),
    })
}

/// The whole screen as a PNG with ImageMagick's `import`; `None` (and a line on stderr) where it
/// cannot be taken — the figures do not depend on it.
async fn screenshot(path: &Path) -> Option<PathBuf> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .output()
        .await
    {
        Ok(out) if out.status.success() => Some(path.to_path_buf()),
        Ok(out) => {
            eprintln!(
                "no screenshot: import failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("no screenshot: ImageMagick's `import` did not run ({e})");
            None
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}
