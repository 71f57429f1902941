//! Black-box tests of the `souk` binary: real processes, real files, a temp dir each.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

const PASS: &str = "correct horse battery";

fn souk(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
    cmd.arg("--data-dir")
        .arg(dir)
        .env_remove("SOUK_PASSPHRASE")
        .env_remove("SOUK_DATA_DIR")
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("souk runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// Every file below `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn init(dir: &Path) -> Value {
    let out = run(souk(dir)
        .args(["--json", "init"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(
        code(&out),
        0,
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

#[test]
fn init_then_id_prints_the_same_peer_id() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let created = init(&d);
    assert!(d.join("identity.keystore").is_file() && d.join("souk.db").is_file());
    let peer_id = created["identity"]["peer_id"].as_str().unwrap().to_owned();
    assert!(peer_id.starts_with("12D3KooW"), "{peer_id}");
    assert_eq!(created["words"].as_array().unwrap().len(), 24);

    let out = run(souk(&d).args(["--json", "id"]).env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let id = json(&out);
    assert_eq!(id["peer_id"], peer_id.as_str());
    assert_eq!(
        id["schema_version"],
        souk_core::store::supported_schema_version()
    );
    assert_eq!(id["data_dir"], d.display().to_string());

    // The same through a passphrase file, in human-readable form.
    let pass_file = tmp.path().join("pass");
    std::fs::write(&pass_file, format!("{PASS}\n")).unwrap();
    let out = run(souk(&d).arg("--passphrase-file").arg(&pass_file).arg("id"));
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&peer_id));
}

#[test]
fn human_init_shows_the_words_once_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(souk(tmp.path()).arg("init").env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("shown only this once"), "{text}");
    assert!(text.contains("24. "), "{text}");
}

#[test]
fn wrong_passphrase_exits_1_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    init(&d);
    let before = snapshot(&d);
    let out = run(souk(&d)
        .arg("id")
        .env("SOUK_PASSPHRASE", "not the passphrase"));
    assert_eq!(code(&out), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong passphrase"), "{err}");
    assert_eq!(snapshot(&d), before, "the data directory changed");

    let out = run(souk(&d)
        .args(["--json", "id"])
        .env("SOUK_PASSPHRASE", "not the passphrase"));
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["error"]["kind"], "wrong_passphrase");
    assert_eq!(snapshot(&d), before);
}

#[test]
fn restore_from_printed_words_gives_the_same_peer_id() {
    let tmp = tempfile::tempdir().unwrap();
    let created = init(&tmp.path().join("a"));
    let words: Vec<&str> = created["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();

    let words_file = tmp.path().join("words.txt");
    std::fs::write(&words_file, words.join("\n")).unwrap();
    let out = run(souk(&tmp.path().join("b"))
        .args(["--json", "restore", "--words-file"])
        .arg(&words_file)
        .env("SOUK_PASSPHRASE", "another passphrase"));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["peer_id"], created["identity"]["peer_id"]);

    // Words on standard input, as a script would pipe them.
    let mut child = souk(&tmp.path().join("c"))
        .args(["--json", "restore"])
        .env("SOUK_PASSPHRASE", "another passphrase")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(words.join(" ").to_uppercase().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0);
    assert_eq!(json(&out)["peer_id"], created["identity"]["peer_id"]);
}

#[test]
fn user_errors_exit_1_with_specific_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let cases: Vec<(Output, &str)> = vec![
        (
            run(souk(&d).arg("id").env("SOUK_PASSPHRASE", PASS)),
            "no identity",
        ),
        (run(souk(&d).arg("init")), "no passphrase"),
        (
            run(souk(&d).arg("init").env("SOUK_PASSPHRASE", "short")),
            "at least 8",
        ),
        (run(souk(&d).arg("frobnicate")), "unrecognized subcommand"),
        (
            run(souk(&d).args(["restore"]).env("SOUK_PASSPHRASE", PASS)),
            "no words",
        ),
    ];
    for (out, needle) in cases {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 1, "{needle}: {err}");
        assert!(err.contains(needle), "expected {needle:?} in {err}");
    }
    assert!(!d.join("identity.keystore").exists());

    init(&d);
    let out = run(souk(&d).arg("init").env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    std::fs::write(d.join("souk.toml"), "[log]\nlevle = 1\n").unwrap();
    let out = run(souk(&d).arg("id").env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("levle"));
}

#[test]
fn damaged_keystore_is_named_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    init(&d);
    let ks = d.join("identity.keystore");
    let bytes = std::fs::read(&ks).unwrap();
    std::fs::write(&ks, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(souk(&d).args(["--json", "id"]).env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    let err = &json(&out)["error"];
    assert_eq!(err["kind"], "keystore_corrupt");
    assert!(
        err["message"].as_str().unwrap().contains("truncated"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&ks).unwrap(),
        &bytes[..bytes.len() / 2],
        "the damaged keystore was rewritten"
    );
}

#[test]
fn internal_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = run(souk(&file.join("d"))
        .arg("init")
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Not a directory"));
}

#[test]
fn help_and_version_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    for arg in ["--help", "--version"] {
        let out = run(souk(tmp.path()).arg(arg));
        assert_eq!(code(&out), 0, "{arg}");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn serve_without_a_built_ui_says_how_to_get_one_before_asking_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let missing = tmp.path().join("no-ui");
    // No passphrase and no identity: the missing UI is what is reported, and nothing is written.
    let out = run(souk(&d)
        .arg("serve")
        .arg("--ui")
        .arg(&missing)
        .env_remove("SOUK_UI_DIR"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "{err}");
    assert!(err.contains("no built UI at"), "{err}");
    assert!(err.contains("npm --prefix ui run build"), "{err}");
    assert!(!d.exists(), "serve wrote to the data directory");
}

#[test]
fn init_tor_saves_tor_mode_and_refuses_a_clearnet_bootstrap_peer_first() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let out = run(souk(&d)
        .args(["--json", "init", "--tor"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(json(&out)["identity"]["peer_id"].is_string());
    let saved = std::fs::read_to_string(d.join("souk.toml")).unwrap();
    assert!(saved.contains("tor = true"), "{saved}");

    // A clearnet bootstrap peer in souk.toml: refused before any identity or database is made.
    let e = tmp.path().join("e");
    std::fs::create_dir_all(&e).unwrap();
    std::fs::write(
        e.join("souk.toml"),
        "[net]\nbootstrap = [\"/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN\"]\n",
    )
    .unwrap();
    let before = snapshot(&e);
    let out = run(souk(&e)
        .args(["init", "--tor"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Tor mode cannot be used with these settings") && err.contains("bootstrap"),
        "{err}"
    );
    assert_eq!(snapshot(&e), before, "the data directory changed");

    // Restore takes the same choice.
    let words: Vec<String> = json(&run(souk(&tmp.path().join("a"))
        .args(["--json", "init"])
        .env("SOUK_PASSPHRASE", PASS)))["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    let words_file = tmp.path().join("words.txt");
    std::fs::write(&words_file, words.join(" ")).unwrap();
    let r = tmp.path().join("r");
    let out = run(souk(&r)
        .args(["--json", "restore", "--tor", "--words-file"])
        .arg(&words_file)
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let saved = std::fs::read_to_string(r.join("souk.toml")).unwrap();
    assert!(saved.contains("tor = true"), "{saved}");
}
