//! The code's shape, as docs/architecture.md states it: no source file of the app grows past about
//! 600 lines of non-test code, and every trade query lives in `trading/store/`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// The most lines of non-test code a source file may hold.
const MAX_LINES: usize = 600;

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// A file's code before its first `#[cfg(test)]` item; nothing of a file that is all tests.
fn non_test_code(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    if name == "tests.rs" || name.ends_with("_tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn no_source_file_holds_more_than_about_600_lines_of_non_test_code() {
    let root = workspace();
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = crate_dir.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    rust_files(&root.join("src-tauri/src"), &mut files);
    assert!(
        files.len() > 100,
        "the walk found only {} files",
        files.len()
    );
    let mut over: Vec<_> = files
        .iter()
        .map(|f| (non_test_code(f).lines().count(), f))
        .filter(|(n, _)| *n > MAX_LINES)
        .map(|(n, f)| {
            format!(
                "{} ({n} lines)",
                f.strip_prefix(&root).unwrap_or(f).display()
            )
        })
        .collect();
    over.sort();
    assert!(
        over.is_empty(),
        "split these along their seams (docs/architecture.md): {over:?}"
    );
}

#[test]
fn every_trade_query_lives_in_the_trade_store() {
    let trading = workspace().join("crates/core/src/trading");
    let mut files = Vec::new();
    rust_files(&trading, &mut files);
    let store = trading.join("store");
    let mut outside: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with(&store) && f.as_path() != store.with_extension("rs"))
        .filter(|f| non_test_code(f).contains("sqlx::query"))
        .map(|f| f.strip_prefix(&trading).unwrap().display().to_string())
        .collect();
    outside.sort();
    assert!(
        outside.is_empty(),
        "trade SQL belongs in trading/store/: {outside:?}"
    );
    // The store does hold them (the walk saw the right place).
    let in_store = files
        .iter()
        .filter(|f| f.starts_with(&store))
        .filter(|f| non_test_code(f).contains("sqlx::query"))
        .count();
    assert!(in_store >= 10, "only {in_store} store files hold queries");
}
