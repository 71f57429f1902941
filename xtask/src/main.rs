//! `cargo xtask`: the project's two front doors and their helpers.
//!
//! - `run`      installs what is missing, builds the UI and the desktop app, and starts it.
//! - `test`     installs what is missing and runs every check CI runs, ending with the desktop smoke
//!   test (real window under Xvfb), the browser test (two `souk serve` nodes in Chromium), the escrow
//!   browser test (three `souk serve` nodes and a Litecoin regtest chain, in Chromium) and the dispute
//!   browser test (the same, with the arbitrator deciding a dispute in its window).
//! - `bindings` regenerates `ui/src/bindings.ts` from the Rust types.
//! - `icons`    regenerates the app icons from `icons/souk.svg`.
//! - `dist`     regenerates the icons and builds the release `.deb` with the Tauri bundler; prints its
//!   path and size.
//! - `bench`    runs the benchmarks in a release build: offers across 20 and 100 real `souk node`
//!   processes (TCP and QUIC, each alone, TCP with 50 ms added latency), gossip propagation across
//!   100 in-process nodes, DHT lookups among 100 in-process nodes and 1,000 nodes in 20 processes
//!   (300 in 6 on a machine with fewer than 8 cores), cold start to a full book, the 100k-offer
//!   book's pages, memory footprint of a node and of the release desktop app, sealed-envelope
//!   throughput, chat round trips, Tor mode against clearnet on a private Tor network; writes
//!   `artifacts/bench-*.json`. Not part of `test`:
//!   benchmarks report numbers, they do not gate.
//! - `soak`     N real `souk node` processes with offers posted and withdrawn at a steady rate for M
//!   minutes; checks every book and samples each node's memory and fds; writes `artifacts/soak.json`.
//!   Not part of `test`: a long local run.
//!
//! Every step is safe to repeat: installs are skipped when already done. Standard library only, so this
//! compiles in seconds on a fresh clone.

use std::{
    env,
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

/// Debian packages needed to build the desktop app.
const BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libssl-dev",
    "curl",
    "file",
    "libwebkit2gtk-4.1-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
];
/// Debian packages the tests use on top: a virtual display, WebKitGTK's WebDriver, Chromium for the
/// browser test (driven by playwright-core; no browser is ever downloaded), Litecoin Core for the
/// escrow scenarios on a regtest chain, and the desktop tests' stand-in desktop: a private D-Bus
/// session bus with a notification server and a tray host in Python (`ui/e2e/desktop_session.py`),
/// which also plays the window manager's close button over X11.
const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "chromium",
    "litecoind",
    "dbus-daemon",
    // Types the passphrase into the desktop window for the footprint benchmark's smoke run.
    "xdotool",
    // `import`: the desktop tests' screenshots, taken from the X server (WebKitGTK's WebDriver
    // screenshot never answers with accelerated compositing off, as the app runs).
    "imagemagick",
    "python3-dbus",
    "python3-gi",
    "python3-xlib",
    "python3-venv",
    // Self-signed certificates for the Electrum server's TLS.
    "openssl",
    // Tor mode's scenarios: a private Tor network on loopback (tor, tor-gencert) and each node's own tor.
    "tor",
];
/// The Electrum server the Electrum backend's scenarios run against: the maintained ElectrumX from
/// PyPI, with its LevelDB engine, in a venv of its own (see [`ensure_electrumx`]).
const ELECTRUMX: &str = "e-x[leveldb]==2.0.0";
/// Where Debian's Chromium lives.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's Litecoin Core, for the regtest chain of the escrow tests.
/// The daemon itself, not Debian's `/usr/bin/litecoind` wrapper, whose `mkdir ~/.litecoin` races
/// when two test chains start at once on a fresh machine (see `tests/regtest.rs`).
const LITECOIND: &str = "/usr/lib/litecoin/litecoind";
/// The oldest Node.js the UI toolchain (Vite 8) runs on.
const MIN_NODE: (u32, u32) = (20, 19);

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("bindings") => bindings(),
        Some("icons") => icons(),
        Some("dist") => dist(),
        Some("bench") => bench(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("chaos") => chaos(&args[1..]),
        Some("soak") => soak(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <run [ARGS…] | test | bindings | icons | dist | bench | fuzz [--seconds N] [TARGET…] | chaos [--trades N] [--seed S] [--kill-percent P] | soak [--nodes N] [--minutes M] [--offers-per-minute R] [--release]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn ui_dir() -> PathBuf {
    root().join("ui")
}

/// CI gets a build cache outside the clone when the machine has one (it is created on first use and never
/// required); developers keep `target/` in the work tree.
fn target_dir() -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if let (Some(_), Some(home)) = (env::var_os("CI"), env::var_os("HOME")) {
        return Path::new(&home).join(".cache/souk/ci-target");
    }
    root().join("target")
}

fn artifacts_dir() -> PathBuf {
    root().join("artifacts")
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root())
        .env("CARGO_TARGET_DIR", target_dir());
    cmd
}

fn npm() -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(ui_dir());
    cmd
}

/// Runs `cmd` with inherited output; a non-zero exit is an error naming the command.
fn exec(cmd: &mut Command) -> Result {
    let shown = describe(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Named, timed steps with a summary at the end.
struct Steps {
    done: Vec<(String, f64)>,
}

impl Steps {
    fn new() -> Self {
        Self { done: Vec::new() }
    }

    fn step(&mut self, name: &str, f: impl FnOnce() -> Result) -> Result {
        println!("\n==> {name}");
        let started = Instant::now();
        let result = f();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "<== {name}: {} in {secs:.1} s",
            if result.is_ok() { "ok" } else { "FAILED" }
        );
        self.done.push((name.to_owned(), secs));
        result.map_err(|e| format!("{name}: {e}"))
    }

    fn summary(&self) {
        println!("\nxtask summary:");
        for (name, secs) in &self.done {
            println!("  {secs:>7.1} s  {name}");
        }
        let total: f64 = self.done.iter().map(|(_, s)| s).sum();
        println!("  {total:>7.1} s  total");
    }
}

// ---------------------------------------------------------------- installing what is missing

fn missing_packages(packages: &[&str]) -> Vec<String> {
    packages
        .iter()
        .filter(|p| {
            output("dpkg-query", &["-W", "-f=${Status}", p])
                .is_none_or(|s| !s.contains("install ok installed"))
        })
        .map(|p| (*p).to_owned())
        .collect()
}

fn ensure_packages(packages: &[&str]) -> Result {
    if output("dpkg-query", &["--version"]).is_none() {
        println!(
            "not a Debian-based system: make sure these are installed: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing = missing_packages(packages);
    if missing.is_empty() {
        println!("apt packages present: {}", packages.join(" "));
        return Ok(());
    }
    let root = output("id", &["-u"]).as_deref() == Some("0");
    let sudo = |cmd: &str| -> Command {
        if root {
            Command::new(cmd)
        } else {
            let mut c = Command::new("sudo");
            c.arg(cmd);
            c
        }
    };
    if !root && output("sudo", &["-n", "true"]).is_none() {
        return Err(format!(
            "missing apt packages and no password-less sudo; run:\n  sudo apt-get update && sudo apt-get install -y {}",
            missing.join(" ")
        ));
    }
    exec(sudo("apt-get").args(["update", "-qq"]))?;
    exec(
        sudo("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing),
    )
}

fn ensure_node() -> Result {
    let version = output("node", &["--version"]).ok_or(
        "Node.js is not installed: install Node.js 20.19 or newer (and npm), then run this again",
    )?;
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if found < MIN_NODE {
        return Err(format!(
            "Node.js {version} is too old: the UI needs {}.{} or newer",
            MIN_NODE.0, MIN_NODE.1
        ));
    }
    output("npm", &["--version"]).ok_or("npm is not installed")?;
    Ok(())
}

/// `npm ci` when `node_modules` is missing or older than the lock file.
fn ensure_npm_packages() -> Result {
    ensure_node()?;
    let lock = ui_dir().join("package-lock.json");
    let installed = ui_dir().join("node_modules/.package-lock.json");
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&lock), modified(&installed)), (Some(l), Some(i)) if i >= l);
    if fresh {
        println!("npm packages present");
        return Ok(());
    }
    exec(npm().args(["ci", "--no-audit", "--no-fund"]))
}

fn which(program: &str) -> Option<PathBuf> {
    let cargo_bin = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|d| d.join("bin"));
    env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_bin)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// ElectrumX's `electrumx_server`, installed from PyPI into a venv under `~/.cache/souk/e-x` (outside
/// the clone, so runs share it; made again when missing or of another version).
fn ensure_electrumx() -> Result<PathBuf> {
    let home = env::var_os("HOME").ok_or("HOME is not set")?;
    let venv = Path::new(&home).join(".cache/souk/e-x");
    let server = venv.join("bin/electrumx_server");
    let stamp = venv.join("souk-installed");
    if server.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == ELECTRUMX) {
        println!("e-x present: {}", server.display());
        return Ok(server);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
    }
    exec(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    exec(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(ELECTRUMX),
    )?;
    if !server.is_file() {
        return Err(format!(
            "{ELECTRUMX} installed, but {} is missing",
            server.display()
        ));
    }
    std::fs::write(&stamp, ELECTRUMX).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(server)
}

fn ensure_tauri_driver() -> Result<PathBuf> {
    if let Some(path) = which("tauri-driver") {
        println!("tauri-driver present: {}", path.display());
        return Ok(path);
    }
    // Its own target dir: a `cargo install` build must not disturb the workspace's.
    let mut install = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    install
        .args(["install", "tauri-driver", "--locked", "--version", "^2"])
        .env_remove("CARGO_TARGET_DIR");
    exec(&mut install)?;
    which("tauri-driver")
        .ok_or_else(|| "tauri-driver was installed but is not on PATH or in ~/.cargo/bin".into())
}

fn ensure_cargo_fuzz() -> Result {
    if which("cargo-fuzz").is_some() {
        println!("cargo-fuzz present");
        return Ok(());
    }
    let mut install = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    install
        .args(["install", "cargo-fuzz", "--locked", "--version", "^0.13"])
        .env_remove("CARGO_TARGET_DIR");
    exec(&mut install)?;
    which("cargo-fuzz")
        .map(|_| ())
        .ok_or_else(|| "cargo-fuzz was installed but is not on PATH or in ~/.cargo/bin".into())
}

// ---------------------------------------------------------------- commands

fn build_ui() -> Result {
    exec(npm().args(["run", "build"]))
}

fn build_desktop() -> Result<PathBuf> {
    exec(cargo().args([
        "build",
        "-p",
        "souk-desktop",
        "--features",
        "custom-protocol",
    ]))?;
    Ok(target_dir().join("debug/souk-desktop"))
}

/// Debug (CI) or release (`dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Debug,
    Release,
}

/// Builds the desktop app with the Tauri bundler and packages it as a `.deb`; returns the binary and
/// the package. The bundler runs `cargo build` with `custom-protocol` (the UI embedded from
/// `ui/dist`). CI builds a debug package with the UI it built in an earlier step (so the
/// `beforeBuildCommand` is skipped there); `dist` lets the bundler build the UI fresh.
fn bundle_deb(profile: Profile, build_ui_first: bool) -> Result<(PathBuf, PathBuf)> {
    let out = target_dir().join(match profile {
        Profile::Debug => "debug",
        Profile::Release => "release",
    });
    let debs = out.join("bundle/deb");
    // Last time's package must not pass for this time's.
    if let Ok(entries) = std::fs::read_dir(&debs) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "deb") {
                std::fs::remove_file(entry.path())
                    .map_err(|e| format!("removing {}: {e}", entry.path().display()))?;
            }
        }
    }
    let mut cmd = Command::new(ui_dir().join("node_modules/.bin/tauri"));
    cmd.current_dir(root().join("src-tauri"))
        .env("CARGO_TARGET_DIR", target_dir())
        .args([
            "build",
            "--ci",
            "--bundles",
            "deb",
            "--features",
            "custom-protocol",
        ]);
    if profile == Profile::Debug {
        cmd.arg("--debug");
    }
    if !build_ui_first {
        cmd.args(["--config", r#"{"build":{"beforeBuildCommand":""}}"#]);
    }
    exec(&mut cmd)?;
    let deb = std::fs::read_dir(&debs)
        .map_err(|e| format!("reading {}: {e}", debs.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| format!("the bundler made no .deb in {}", debs.display()))?;
    Ok((out.join("souk-desktop"), deb))
}

fn run(args: &[String]) -> Result {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !has_display {
        return Err("no display: DISPLAY and WAYLAND_DISPLAY are unset, so the desktop window cannot open.\n\
             Run Souk headless instead:\n\
             \x20 cargo run -p souk-cli -- init        # create an identity (SOUK_PASSPHRASE or a prompt)\n\
             \x20 cargo run -p souk-cli -- id          # show it\n\
             or give the window a virtual display:  xvfb-run -a cargo xtask run"
            .into());
    }
    let mut steps = Steps::new();
    steps.step("apt packages", || ensure_packages(BUILD_PACKAGES))?;
    steps.step("npm packages", ensure_npm_packages)?;
    steps.step("UI build", build_ui)?;
    let bin = {
        let mut bin = PathBuf::new();
        steps.step("desktop build", || build_desktop().map(|b| bin = b))?;
        bin
    };
    steps.summary();
    exec(Command::new(&bin).args(args))
}

fn test() -> Result {
    let mut steps = Steps::new();
    let result = test_steps(&mut steps);
    steps.summary();
    result
}

fn test_steps(steps: &mut Steps) -> Result {
    let packages: Vec<&str> = BUILD_PACKAGES
        .iter()
        .chain(TEST_PACKAGES)
        .copied()
        .collect();
    steps.step("apt packages", || ensure_packages(&packages))?;
    steps.step("npm packages", ensure_npm_packages)?;
    let electrumx = {
        let mut server = PathBuf::new();
        steps.step("e-x (ElectrumX) from PyPI", || {
            ensure_electrumx().map(|s| server = s)
        })?;
        server
    };
    let driver = {
        let mut driver = PathBuf::new();
        steps.step("tauri-driver", || ensure_tauri_driver().map(|d| driver = d))?;
        driver
    };
    steps.step("UI lint", || exec(npm().args(["run", "lint"])))?;
    steps.step("UI type check", || exec(npm().args(["run", "typecheck"])))?;
    steps.step("UI unit tests (Vitest)", || exec(npm().args(["test"])))?;
    // The desktop crate embeds ui/dist at compile time, so the UI is built before any cargo step.
    steps.step("UI build", build_ui)?;
    steps.step("cargo fmt", || {
        exec(cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    let features = ["--features", "souk-desktop/custom-protocol"];
    steps.step("cargo clippy", || {
        exec(
            cargo()
                .args(["clippy", "--workspace", "--all-targets"])
                .args(features)
                .args(["--", "-D", "warnings"]),
        )
    })?;
    // Includes souk-core's bindings test: it fails when ui/src/bindings.ts is stale.
    steps.step("cargo test", || {
        exec(
            cargo()
                .args(["test", "--workspace"])
                .args(features)
                .env("SOUK_ELECTRUMX", &electrumx)
                // These make a test rewrite what it checks (and pass): never in a test run.
                .env_remove("SOUK_UPDATE_BINDINGS")
                .env_remove("SOUK_UPDATE_FUZZ_SEEDS"),
        )
    })?;
    // The escrow scenarios again, every Souk node settling through an Electrum server (e-x) in front of
    // the test's litecoind instead of the node's RPC (tests/regtest.rs, `SOUK_TEST_CHAIN_BACKEND`).
    // The binaries the step above built are run as they are: a `cargo test --test …` of its own would
    // resolve features differently and build much of the tree again.
    steps.step("escrow scenarios through Electrum (e-x)", || {
        for (name, binary) in test_binaries(&features, ESCROW_SCENARIOS)? {
            println!("{name}, through Electrum:");
            exec(
                Command::new(binary)
                    .current_dir(root().join("tests"))
                    .env("SOUK_ELECTRUMX", &electrumx)
                    .env("SOUK_TEST_CHAIN_BACKEND", "electrum"),
            )?;
        }
        Ok(())
    })?;
    // Escrow trades between `souk node` processes killed and restarted at points a fixed seed picks
    // (`cargo xtask chaos` runs more, with a seed of its own).
    steps.step(
        "chaos: 5 escrow trades, parties killed at random points",
        || {
            let binaries = test_binaries(&features, &["chaos"])?;
            let settings = Chaos {
                trades: 5,
                seed: 1,
                kill_percent: 35,
            };
            chaos_run(&binaries[0].1, &settings)
        },
    )?;
    // The same build CI always made, through the Tauri bundler, so packaging is checked on every run.
    let (bin, deb) = {
        let mut built = (PathBuf::new(), PathBuf::new());
        steps.step("desktop build and debug .deb (tauri build --debug)", || {
            bundle_deb(Profile::Debug, false).map(|b| built = b)
        })?;
        built
    };
    steps.step("desktop package check (dpkg-deb)", || package_test(&deb))?;
    steps.step("desktop smoke test (Xvfb + WebDriver + D-Bus)", || {
        desktop_smoke(&bin, &driver)
    })?;
    steps.step(
        "desktop unlocked by typing, on the Market screen (souk-bench desktop-footprint, Xvfb + xdotool)",
        || desktop_footprint_smoke(&bin),
    )?;
    steps.step(
        "UI fake backend against a real souk node (Vitest contract)",
        ui_contract_test,
    )?;
    steps.step("browser test (souk serve + Chromium)", browser_test)?;
    steps.step(
        "escrow browser test (souk serve + Chromium + litecoind -regtest)",
        escrow_browser_test,
    )?;
    steps.step(
        "dispute browser test (souk serve + Chromium + litecoind -regtest)",
        dispute_browser_test,
    )
}

/// What a chaos run does: how many trades, the seed that picks who is killed when, and the chance of a
/// kill at each point (percent).
struct Chaos {
    trades: u64,
    seed: u64,
    kill_percent: u64,
}

/// `cargo xtask chaos [--trades N] [--seed S] [--kill-percent P]`: N escrow trades (default 10) between
/// maker, taker and arbitrator `souk node` processes on a regtest chain, each party killed (SIGKILL) and
/// restarted at points the seed picks (default: a new seed each run, printed, so a failure can be run
/// again). Writes the figures to `artifacts/chaos.json`.
fn chaos(args: &[String]) -> Result {
    let mut settings = Chaos {
        trades: 10,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1),
        kill_percent: 35,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut number = |what: &str| -> Result<u64> {
            rest.next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("{arg} takes a whole number ({what})"))
        };
        match arg.as_str() {
            "--trades" => settings.trades = number("trades, at least 1")?.max(1),
            "--seed" => settings.seed = number("any seed")?,
            "--kill-percent" => settings.kill_percent = number("0 to 100")?.min(100),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let mut steps = Steps::new();
    let result = (|| {
        steps.step("apt packages", || ensure_packages(&["litecoind"]))?;
        let mut binary = PathBuf::new();
        steps.step("build souk and the chaos test", || {
            exec(cargo().args(["build", "-p", "souk-cli"]))?;
            let mut cmd = cargo();
            cmd.args(["test", "-p", "souk-tests", "--test", "chaos", "--no-run"])
                .args(["--message-format=json"])
                .stderr(std::process::Stdio::inherit());
            let out = cmd
                .output()
                .map_err(|e| format!("cannot start cargo: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout);
            binary = text
                .lines()
                .filter(|l| l.contains("\"name\":\"chaos\"") && l.contains("\"executable\":\""))
                .find_map(|l| {
                    let start = l.find("\"executable\":\"")? + "\"executable\":\"".len();
                    let end = start + l[start..].find('"')?;
                    Some(PathBuf::from(&l[start..end]))
                })
                .ok_or("cargo built no chaos test")?;
            Ok(())
        })?;
        steps.step(
            &format!(
                "chaos: {} trades, seed {}, {} % kill chance per point",
                settings.trades, settings.seed, settings.kill_percent
            ),
            || chaos_run(&binary, &settings),
        )
    })();
    steps.summary();
    result
}

/// Runs the chaos test binary with `settings`; its figures go to `artifacts/chaos.json`.
fn chaos_run(binary: &Path, settings: &Chaos) -> Result {
    std::fs::create_dir_all(artifacts_dir()).map_err(|e| format!("artifacts/: {e}"))?;
    let report = artifacts_dir().join("chaos.json");
    exec(
        Command::new(binary)
            .args(["--ignored", "--nocapture", "--test-threads", "1"])
            .current_dir(root().join("tests"))
            .env("SOUK_BIN", target_dir().join("debug/souk"))
            .env("SOUK_CHAOS_TRADES", settings.trades.to_string())
            .env("SOUK_CHAOS_SEED", settings.seed.to_string())
            .env("SOUK_CHAOS_KILL_PERCENT", settings.kill_percent.to_string())
            .env("SOUK_CHAOS_REPORT", &report),
    )?;
    println!("figures in {}", report.display());
    Ok(())
}

/// `cargo xtask soak [--nodes N] [--minutes M] [--offers-per-minute R] [--release]`: N real `souk node`
/// processes (the release build with `--release`, as users run them; the debug build otherwise)
/// on loopback (default 10) with offers posted and withdrawn at 20 a minute per node (or R across the
/// network) for M minutes (default 1; fractions allowed), every book checked against what was posted and withdrawn, each node's RSS and open fds
/// sampled and their slopes judged (`tests/soak.rs`). Writes the figures to `artifacts/soak.json`.
/// A long local run: not part of `test`.
fn soak(args: &[String]) -> Result {
    let (mut nodes, mut minutes) = (10u64, 1f64);
    let mut rate: Option<f64> = None;
    let mut release = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--release" {
            release = true;
            continue;
        }
        let value = rest.next();
        match arg.as_str() {
            "--nodes" => {
                nodes = value
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 2)
                    .ok_or("--nodes takes a whole number, at least 2")?;
            }
            "--minutes" => {
                minutes = value
                    .and_then(|n| n.parse().ok())
                    .filter(|m: &f64| *m > 0.0 && m.is_finite())
                    .ok_or("--minutes takes a number of minutes above 0")?;
            }
            "--offers-per-minute" => {
                rate = Some(
                    value
                        .and_then(|n| n.parse().ok())
                        .filter(|r: &f64| *r > 0.0 && r.is_finite())
                        .ok_or("--offers-per-minute takes a number above 0")?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let mut steps = Steps::new();
    let result = (|| {
        let mut binary = PathBuf::new();
        steps.step("build souk and the soak test", || {
            let mut build = cargo();
            build.args(["build", "-p", "souk-cli"]);
            if release {
                build.arg("--release");
            }
            exec(&mut build)?;
            let mut cmd = cargo();
            cmd.args(["test", "-p", "souk-tests", "--test", "soak", "--no-run"])
                .args(["--message-format=json"])
                .stderr(std::process::Stdio::inherit());
            let out = cmd
                .output()
                .map_err(|e| format!("cannot start cargo: {e}"))?;
            if !out.status.success() {
                return Err(format!("`{}` failed ({})", describe(&cmd), out.status));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            binary = text
                .lines()
                .filter(|l| l.contains("\"name\":\"soak\"") && l.contains("\"executable\":\""))
                .find_map(|l| {
                    let start = l.find("\"executable\":\"")? + "\"executable\":\"".len();
                    let end = start + l[start..].find('"')?;
                    Some(PathBuf::from(&l[start..end]))
                })
                .ok_or("cargo built no soak test")?;
            Ok(())
        })?;
        steps.step(
            &format!(
                "soak: {nodes} nodes, {minutes} min, {} offers/min",
                rate.unwrap_or(nodes as f64 * 20.0)
            ),
            || {
                std::fs::create_dir_all(artifacts_dir()).map_err(|e| format!("artifacts/: {e}"))?;
                let report = artifacts_dir().join("soak.json");
                // A run that fails before writing must not leave last time's figures looking like
                // this time's.
                let _ = std::fs::remove_file(&report);
                let mut cmd = Command::new(&binary);
                if let Some(rate) = rate {
                    cmd.env("SOUK_SOAK_OFFERS_PER_MINUTE", rate.to_string());
                }
                let ran = exec(
                    cmd.args(["--ignored", "--nocapture", "--test-threads", "1"])
                        .current_dir(root().join("tests"))
                        .env(
                            "SOUK_BIN",
                            target_dir()
                                .join(if release { "release" } else { "debug" })
                                .join("souk"),
                        )
                        .env("SOUK_SOAK_NODES", nodes.to_string())
                        .env("SOUK_SOAK_MINUTES", minutes.to_string())
                        .env("SOUK_SOAK_REPORT", &report)
                        .env("SOUK_SOAK_LOGS", artifacts_dir().join("soak-logs")),
                );
                if report.exists() {
                    println!("figures in {}", report.display());
                }
                ran
            },
        )
    })();
    steps.summary();
    result
}

/// The test files (of `tests/`) whose escrow scenarios run through each chain backend: the node's RPC
/// in the `cargo test` step, an Electrum server in the next.
const ESCROW_SCENARIOS: &[&str] = &[
    "escrow_never_strands_coins",
    "escrow_trade_on_regtest",
    "escrow_disputes_on_regtest",
    "resolution_survives_arbitrator_restart",
];

/// The executables of the integration tests `names`, as `cargo test --workspace FEATURES` built them
/// (asked of cargo with `--no-run`, which builds nothing more), in the order of `names`.
fn test_binaries(
    features: &[&str],
    names: &[&'static str],
) -> Result<Vec<(&'static str, PathBuf)>> {
    let mut cmd = cargo();
    cmd.args(["test", "--workspace"])
        .args(features)
        .args(["--no-run", "--message-format=json"])
        .stderr(std::process::Stdio::inherit());
    let shown = describe(&cmd);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{shown}` failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let executable = |line: &str| -> Option<PathBuf> {
        let start = line.find("\"executable\":\"")? + "\"executable\":\"".len();
        let end = start + line[start..].find('"')?;
        Some(PathBuf::from(&line[start..end]))
    };
    names
        .iter()
        .map(|name| {
            let wanted = format!("\"name\":\"{name}\"");
            text.lines()
                .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
                .filter(|l| l.contains(&wanted) && l.contains("\"kind\":[\"test\"]"))
                .find_map(executable)
                .map(|binary| (*name, binary))
                .ok_or_else(|| format!("cargo built no test named {name}"))
        })
        .collect()
}

/// Two real `souk serve` nodes on loopback, each driven in Chromium (`ui/e2e/browser.test.mjs`).
fn browser_test() -> Result {
    node_e2e_test("e2e/browser.test.mjs")
}

/// The UI's fake backend answering as the core does: each scenario of `ui/src/test/contract.test.ts` on
/// the fake and on a real `souk node` (started by `ui/vitest.souk-node.ts`), the answers compared.
fn ui_contract_test() -> Result {
    exec(cargo().args(["build", "-p", "souk-cli"]))?;
    exec(
        npm()
            .args(["exec", "--", "vitest", "run", "src/test/contract.test.ts"])
            .env("SOUK_CLI_BIN", target_dir().join("debug/souk"))
            .env("SOUK_CONTRACT", "required"),
    )
}

/// A whole escrow trade between two browsers, settled on a `litecoind -regtest` chain the test starts,
/// with an arbitrator node (`ui/e2e/escrow.browser.test.mjs`).
fn escrow_browser_test() -> Result {
    node_e2e_test("e2e/escrow.browser.test.mjs")
}

/// A funded escrow trade disputed from the buyer's trade room and decided in the arbitrator's Disputes
/// screen; the chain shows the payout (`ui/e2e/dispute.browser.test.mjs`).
fn dispute_browser_test() -> Result {
    node_e2e_test("e2e/dispute.browser.test.mjs")
}

/// Runs one `node --test` file of `ui/` against a fresh debug `souk` and the built UI.
fn node_e2e_test(file: &str) -> Result {
    exec(cargo().args(["build", "-p", "souk-cli"]))?;
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("creating {}: {e}", artifacts.display()))?;
    exec(
        Command::new("node")
            .arg("--test")
            .arg(ui_dir().join(file))
            .current_dir(root())
            .env("SOUK_CLI_BIN", target_dir().join("debug/souk"))
            .env("SOUK_UI_DIST", ui_dir().join("dist"))
            .env("CHROMIUM", CHROMIUM)
            .env("LITECOIND", LITECOIND)
            .env("SOUK_ARTIFACTS", &artifacts),
    )?;
    println!("screenshots in {}", artifacts.display());
    Ok(())
}

/// What the `.deb` holds, checked with `dpkg-deb` (`ui/e2e/package.test.mjs`).
fn package_test(deb: &Path) -> Result {
    exec(
        Command::new("node")
            .arg("--test")
            .arg(ui_dir().join("e2e/package.test.mjs"))
            .current_dir(root())
            .env("SOUK_DEB", deb),
    )
}

/// The desktop tests, one after the other (each is a real window): the smoke flow with notifications,
/// the tray and close-to-tray (a `souk serve` node takes the window's offer), the window state, then
/// every IPC command of the core's command table sent from the window.
fn desktop_smoke(bin: &Path, driver: &Path) -> Result {
    exec(cargo().args(["build", "-p", "souk-cli"]))?;
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("creating {}: {e}", artifacts.display()))?;
    exec(
        Command::new("xvfb-run")
            .args([
                "--auto-servernum",
                "--server-args=-screen 0 1280x800x24",
                "node",
                "--test",
                "--test-concurrency=1",
            ])
            .arg(ui_dir().join("e2e/desktop.smoke.test.mjs"))
            .arg(ui_dir().join("e2e/desktop.window.test.mjs"))
            .arg(ui_dir().join("e2e/desktop.ipc.test.mjs"))
            .current_dir(root())
            .env("SOUK_DESKTOP_BIN", bin)
            .env("SOUK_CLI_BIN", target_dir().join("debug/souk"))
            .env("SOUK_UI_DIST", ui_dir().join("dist"))
            .env("TAURI_DRIVER", driver)
            .env("SOUK_ARTIFACTS", &artifacts),
    )?;
    println!("screenshots in {}", artifacts.display());
    Ok(())
}

fn bindings() -> Result {
    exec(
        cargo()
            .args(["test", "-p", "souk-core", "--lib", "bindings::"])
            .env("SOUK_UPDATE_BINDINGS", "1"),
    )?;
    println!("wrote ui/src/bindings.ts");
    Ok(())
}

fn icons() -> Result {
    ensure_npm_packages()?;
    let out = env::temp_dir().join(format!("souk-icons-{}", std::process::id()));
    exec(
        Command::new(ui_dir().join("node_modules/.bin/tauri"))
            .args(["icon"])
            .arg(root().join("icons/souk.svg"))
            .arg("-o")
            .arg(&out),
    )?;
    // The PNGs and the .ico come out byte-identical from the same SVG; the .icns differs on every run,
    // so it is replaced only when the SVG changed the others (a dist run leaves the tree clean).
    let mut changed = Vec::new();
    for name in [
        "32x32.png",
        "128x128.png",
        "128x128@2x.png",
        "icon.png",
        "icon.ico",
        "icon.icns",
    ] {
        let (new, old) = (out.join(name), root().join("icons").join(name));
        let fresh = std::fs::read(&new).map_err(|e| format!("reading {}: {e}", new.display()))?;
        let same = std::fs::read(&old).is_ok_and(|committed| committed == fresh);
        if same || (name == "icon.icns" && changed.is_empty() && old.exists()) {
            continue;
        }
        std::fs::write(&old, fresh).map_err(|e| format!("writing {}: {e}", old.display()))?;
        changed.push(name);
    }
    let _ = std::fs::remove_dir_all(&out);
    if changed.is_empty() {
        println!("icons match icons/souk.svg");
    } else {
        println!(
            "icons regenerated from icons/souk.svg: {}",
            changed.join(", ")
        );
    }
    Ok(())
}

/// The release package: fresh icons from `icons/souk.svg`, the UI and the app built for release, one
/// `.deb` (the bundler adds the WebKitGTK runtime and the tray library as dependencies).
fn dist() -> Result {
    let mut steps = Steps::new();
    let built = (|| {
        steps.step("apt packages", || ensure_packages(BUILD_PACKAGES))?;
        steps.step("npm packages", ensure_npm_packages)?;
        steps.step("icons from icons/souk.svg", icons)?;
        let mut deb = PathBuf::new();
        steps.step("release build and .deb (tauri build)", || {
            bundle_deb(Profile::Release, true).map(|(_, d)| deb = d)
        })?;
        Ok::<_, String>(deb)
    })();
    steps.summary();
    let deb = built?;
    let size = deb
        .metadata()
        .map_err(|e| format!("reading {}: {e}", deb.display()))?
        .len();
    let mib = size as f64 / (1024.0 * 1024.0);
    println!("\n{} ({mib:.1} MiB, {size} bytes)", deb.display());
    Ok(())
}

/// Runs every benchmark, even after one fails, so one bad run does not hide the others' numbers.
fn bench() -> Result {
    // The watcher runs a regtest litecoind; the Tor benchmark a private Tor network.
    ensure_packages(&["litecoind", "tor"])?;
    // The real-nodes runs start release `souk node` processes: build the binary they run first.
    exec(cargo().args(["build", "--release", "-p", "souk-cli"]))?;
    let souk = target_dir().join("release").join("souk");
    let souk = souk.to_string_lossy();
    // 100 `souk node` processes, 20 offers, and what a variant adds.
    let real_nodes_100 = |extra: &[&'static str]| -> Vec<&str> {
        let mut args = vec!["--souk", &*souk, "--nodes", "100", "--offers", "20"];
        args.extend_from_slice(extra);
        args
    };
    // The watcher benchmark runs ElectrumX on a regtest litecoind.
    let electrumx = ensure_electrumx()?;
    // 1,000 DHT nodes with production settings need more than two cores: on two, every node's
    // routine Kademlia bootstrap (libp2p's default, every 5 minutes: ~10 lookups of ~40 requests
    // each, ~1,300 requests a second across the network) keeps both busy and lookups run into the
    // 30 s query timeout. A smaller machine runs the 1,000 without that routine bootstrap (each node
    // still bootstraps as it joins); the report says so.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let dht_routine: &[&str] = if cores >= 8 {
        &[]
    } else {
        println!(
            "{cores} cores: the 1,000-node DHT benchmark runs without the nodes' routine Kademlia bootstrap (with it, it needs 8 or more)"
        );
        &["--kad-bootstrap-secs", "0"]
    };
    let benches: [(&str, &str, Vec<&str>); 16] = [
        (
            "propagation",
            "propagation",
            vec!["--nodes", "100", "--offers", "50"],
        ),
        (
            "real-nodes-20",
            "real-nodes",
            vec!["--souk", &souk, "--nodes", "20", "--offers", "20"],
        ),
        ("real-nodes-100", "real-nodes", real_nodes_100(&[])),
        (
            "real-nodes-100-tcp",
            "real-nodes",
            real_nodes_100(&["--transport", "tcp"]),
        ),
        (
            "real-nodes-100-quic",
            "real-nodes",
            real_nodes_100(&["--transport", "quic"]),
        ),
        (
            "real-nodes-100-tcp-50ms",
            "real-nodes",
            real_nodes_100(&["--transport", "tcp", "--latency-ms", "50"]),
        ),
        (
            "real-nodes-100-churn",
            "real-nodes",
            real_nodes_100(&["--churn", "0.1"]),
        ),
        (
            "dht-100",
            "dht",
            vec!["--nodes", "100", "--transport", "tcp", "--lookups", "200"],
        ),
        // One process cannot hold 1,000 nodes (see `souk-bench dht --help`): over TCP both ends of
        // every connection would be its open files, past the 20,000 the hard limit allows; worker
        // processes hold 50 nodes each.
        (
            "dht-1000",
            "dht",
            [
                &[
                    "--nodes",
                    "1000",
                    "--processes",
                    "20",
                    "--transport",
                    "tcp",
                    "--lookups",
                    "200",
                ][..],
                dht_routine,
            ]
            .concat(),
        ),
        (
            "cold-start",
            "cold-start",
            vec!["--offers", "500", "--makers", "5"],
        ),
        ("book-pages", "book-pages", vec!["--offers", "100000"]),
        (
            "footprint",
            "footprint",
            vec!["--souk", &souk, "--offers", "0,10000,100000"],
        ),
        ("envelope", "envelope", vec!["--iterations", "2000"]),
        ("chat-rtt", "chat-rtt", vec!["--round-trips", "500"]),
        ("tor", "tor", vec!["--offers", "20", "--round-trips", "50"]),
        (
            "watcher",
            "watcher",
            vec!["--trades", "100", "--unrelated-outputs", "3000"],
        ),
    ];
    let mut failed = Vec::new();
    let mut results = Vec::new();
    for (name, bench, args) in benches {
        let json = artifacts_dir().join(format!("bench-{name}.json"));
        // A run that fails before writing must not leave last time's numbers looking like this time's.
        let _ = std::fs::remove_file(&json);
        let ran = exec(
            cargo()
                .args(["run", "--release", "-p", "souk-bench", "--", bench])
                .args(args)
                .env("SOUK_ELECTRUMX", &electrumx)
                .arg("--json")
                .arg(&json),
        );
        if let Err(e) = ran {
            failed.push(e);
        }
        results.push(json);
    }
    // The desktop app on the Market screen: the release build with the UI embedded, in a window on
    // Xvfb with a 10,000-offer book, unlocked by typing into it (xdotool); ImageMagick's `import`
    // takes the screenshot that shows which screen was measured.
    let json = artifacts_dir().join("bench-desktop-footprint.json");
    let _ = std::fs::remove_file(&json);
    if let Err(e) = desktop_footprint(&souk, &json) {
        failed.push(e);
    }
    results.push(json);
    // A run that did not deliver everything still writes its numbers.
    for json in results.iter().filter(|j| j.exists()) {
        println!("results in {}", json.display());
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n"))
    }
}

/// The desktop footprint benchmark on the debug app with a small book: the window is unlocked by
/// typing the passphrase into it and reaches the Market screen, and the benchmark keeps working.
fn desktop_footprint_smoke(app: &Path) -> Result {
    exec(cargo().args(["build", "-p", "souk-bench", "-p", "souk-cli"]))?;
    let debug = target_dir().join("debug");
    exec(
        Command::new("xvfb-run")
            .args(["--auto-servernum", "--server-args=-screen 0 1280x800x24"])
            .arg(debug.join("souk-bench"))
            .arg("desktop-footprint")
            .arg("--app")
            .arg(app)
            .arg("--souk")
            .arg(debug.join("souk"))
            .args(["--offers", "200", "--idle-secs", "1"]),
    )
}

/// Builds the release desktop app and measures it on the Market screen (`souk-bench desktop-footprint`).
fn desktop_footprint(souk: &str, json: &Path) -> Result {
    let packages: Vec<&str> = BUILD_PACKAGES
        .iter()
        .chain(&["xvfb", "xauth", "xdotool", "dbus-daemon", "imagemagick"])
        .copied()
        .collect();
    ensure_packages(&packages)?;
    ensure_npm_packages()?;
    build_ui()?;
    exec(cargo().args([
        "build",
        "--release",
        "-p",
        "souk-desktop",
        "--features",
        "custom-protocol",
    ]))?;
    exec(cargo().args(["build", "--release", "-p", "souk-bench"]))?;
    let app = target_dir().join("release/souk-desktop");
    exec(
        Command::new("xvfb-run")
            .args(["--auto-servernum", "--server-args=-screen 0 1280x800x24"])
            .arg(target_dir().join("release/souk-bench"))
            .arg("desktop-footprint")
            .arg("--app")
            .arg(&app)
            .args(["--souk", souk, "--offers", "10000", "--baseline"])
            .arg("--screenshot")
            .arg(artifacts_dir().join("desktop-footprint.png"))
            .arg("--json")
            .arg(json),
    )
}

/// The fuzz targets of `fuzz/`: one per decoder that reads bytes a peer or a file controls (see
/// `souk_core::fuzzing`).
const FUZZ_TARGETS: &[&str] = &[
    "market_update",
    "withdrawal",
    "take",
    "accept",
    "envelope",
    "channel_message",
    "negotiation",
    "trade_step",
    "direct",
    "dispute",
    "announcement",
    "psbt",
    "ticker",
    "keystore",
    "backup",
    "config",
    "recovery",
    "receipts",
];

/// The fuzz build's own target dir (instrumented, with sanitizer flags): outside the clone when the
/// machine has a home, so CI reuses it between runs without depending on it.
fn fuzz_target_dir() -> PathBuf {
    match env::var_os("HOME") {
        Some(home) => Path::new(&home).join(".cache/souk/fuzz-target"),
        None => root().join("fuzz/target"),
    }
}

/// `cargo xtask fuzz [--seconds N] [TARGET…]`: builds the fuzz targets with cargo-fuzz (libFuzzer,
/// AddressSanitizer; stable Rust with `RUSTC_BOOTSTRAP=1`) and runs each for N seconds (default 60)
/// from its committed corpus (`fuzz/corpus/TARGET`, read only: new inputs go to a scratch dir).
/// Reports executions per target to `artifacts/fuzz.json`; any crash fails the run and leaves its input
/// under `fuzz/artifacts/TARGET/`.
fn fuzz(args: &[String]) -> Result {
    let mut seconds: u64 = 60;
    let mut chosen: Vec<&str> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = rest
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--seconds takes a whole number of seconds, at least 1")?;
            }
            name => match FUZZ_TARGETS.iter().find(|t| **t == name) {
                Some(target) => chosen.push(target),
                None => {
                    return Err(format!(
                        "no fuzz target {name:?}; the targets: {}",
                        FUZZ_TARGETS.join(", ")
                    ));
                }
            },
        }
    }
    if chosen.is_empty() {
        chosen = FUZZ_TARGETS.to_vec();
    }
    fuzz_run(&chosen, seconds)
}

fn fuzz_run(targets: &[&str], seconds: u64) -> Result {
    ensure_cargo_fuzz()?;
    let fuzz_dir = root().join("fuzz");
    let target_dir = fuzz_target_dir();
    let mut build = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build
        .current_dir(&fuzz_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "build", "-O", "--target-dir"])
        .arg(&target_dir);
    exec(&mut build)?;
    let scratch = env::temp_dir().join(format!("souk-fuzz-{}", std::process::id()));
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for target in targets {
        let binary = target_dir
            .join("x86_64-unknown-linux-gnu/release")
            .join(target);
        let corpus = fuzz_dir.join("corpus").join(target);
        let work = scratch.join(target);
        let found = fuzz_dir.join("artifacts").join(target);
        for dir in [&corpus, &work, &found] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        println!("fuzzing {target} for {seconds} s");
        let started = std::time::Instant::now();
        let out = Command::new(&binary)
            .arg(&work)
            .arg(&corpus)
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .arg("-max_len=65536")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", found.display()))
            .output()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let stat = |name: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let executions = stat("number_of_executed_units").unwrap_or(0);
        let seeds = std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0);
        println!(
            "  {executions} executions in {:.0} s ({} exec/s), {seeds} seeds, {}",
            started.elapsed().as_secs_f64(),
            stat("average_exec_per_sec").unwrap_or(0),
            if out.status.success() {
                "no crash"
            } else {
                "FAILED"
            }
        );
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            failed.push(*target);
        }
        report.push(format!(
            "  {{\"target\": \"{target}\", \"seconds\": {seconds}, \"executions\": {executions}, \
             \"exec_per_sec\": {}, \"peak_rss_mb\": {}, \"seeds\": {seeds}, \"crashed\": {}}}",
            stat("average_exec_per_sec").unwrap_or(0),
            stat("peak_rss_mb").unwrap_or(0),
            !out.status.success()
        ));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("fuzz.json");
    let text = format!("[\n{}\n]\n", report.join(",\n"));
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz targets crashed: {} (inputs under fuzz/artifacts/)",
            failed.join(", ")
        ))
    }
}
