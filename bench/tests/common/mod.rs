//! What the smoke tests that run `souk` processes share.

use std::path::PathBuf;

/// The `souk` binary of this build: `cargo test --workspace` builds it beside the test executables
/// (`target/<profile>/souk`, the tests being in `target/<profile>/deps`).
pub fn souk_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let souk = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .join("souk");
    assert!(
        souk.exists(),
        "{} is missing: build it first (`cargo build -p souk-cli`; `cargo test --workspace` does)",
        souk.display()
    );
    souk
}
