//! Harness for Souk's end-to-end scenarios: every node gets its own temp data dir; nothing is shared.

use std::path::{Path, PathBuf};

use souk_core::{config::Config, identity::KdfCost, node::Node};

/// The keystore's strength is tested in souk-core; scenarios use a cheap KDF so they stay fast.
pub const TEST_KDF: KdfCost = KdfCost {
    memory_kib: 256,
    iterations: 1,
    lanes: 1,
};
pub const PASSPHRASE: &str = "scenario passphrase";

/// A data directory that disappears with the test.
#[derive(Debug)]
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A node over `data_dir` with default config and the cheap KDF.
pub fn node(data_dir: &Path) -> Node {
    Node::new(data_dir, Config::default()).with_kdf_cost(TEST_KDF)
}
