//! How this node reaches the outside world, as the Settings screen edits it: the chain backend
//! (`[chain]` in `souk.toml`) and the bootstrap peers (`[net] bootstrap`).
//!
//! It reads what is saved, checks an edit field by field, tests a chain backend before anything is
//! saved, and writes the edit back into `souk.toml` with `toml_edit`, so comments, layout and every
//! other section survive. The file is replaced whole (temp file + rename); a refused edit leaves it
//! byte for byte as it was. It never echoes the RPC password: it says whether one is set.
//! The running node keeps the settings it started with; applying them is the shells' and
//! [`crate::node::Node`]'s business, not this module's.

use std::{
    io::Write,
    path::{Path, PathBuf},
    str::FromStr,
};

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item, TableLike, Value};
use ts_rs::TS;

mod edit;

use crate::{
    Error,
    chain::{ChainBackend, ElectrumBackend, RpcBackend},
    config::{self, ChainConfig, Config},
    escrow::{Chain, Network},
};

/// At most this many bootstrap peers.
pub const MAX_BOOTSTRAP: usize = 64;
/// A chain test gives up after this long, whatever `rpc_timeout_secs` says: a person is waiting.
pub const TEST_TIMEOUT_SECS: u64 = 10;
const MAX_FIELD_CHARS: usize = 1024;

/// The connection settings as they stand somewhere (the file, or the running node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ConnectionValues {
    pub chain: Chain,
    pub network: Network,
    /// As written; empty means no chain backend (escrow trades are off).
    pub rpc_url: String,
    pub rpc_user: String,
    /// Whether a password is set. The password itself never leaves the node.
    pub rpc_password_set: bool,
    /// Empty when none.
    pub rpc_cookie_file: String,
    /// An Electrum server (`tcp://` or `ssl://`) used instead of a node; empty when none.
    pub electrum_url: String,
    /// The pinned SHA-256 fingerprint of the Electrum server's TLS certificate; empty when none.
    pub electrum_cert_sha256: String,
    pub bootstrap: Vec<String>,
    /// Tor mode (`[net] tor`): every connection through this node's own tor.
    pub tor: bool,
}

impl ConnectionValues {
    pub fn of(config: &Config) -> Self {
        Self::from_parts(&config.chain, &config.net.bootstrap, config.net.tor)
    }

    pub fn from_parts(chain: &ChainConfig, bootstrap: &[String], tor: bool) -> Self {
        Self {
            chain: chain.chain,
            network: chain.network,
            rpc_url: chain.rpc_url.trim().to_owned(),
            rpc_user: chain.rpc_user.clone(),
            rpc_password_set: !chain.rpc_password.is_empty(),
            rpc_cookie_file: chain
                .rpc_cookie_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            electrum_url: chain.electrum_url.trim().to_owned(),
            electrum_cert_sha256: chain.electrum_cert_sha256.trim().to_owned(),
            bootstrap: bootstrap.to_vec(),
            tor,
        }
    }
}

/// A `SOUK_*` environment variable that overrides a key of the file in this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct EnvOverride {
    /// The dotted key it overrides, e.g. `chain.rpc_url`.
    pub key: String,
    /// The variable, e.g. `SOUK_RPC_URL`.
    pub variable: String,
}

/// What the Settings screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ConnectionSettings {
    /// The `souk.toml` edits go to.
    pub path: String,
    /// What `souk.toml` holds now (what an edit changes).
    pub saved: ConnectionValues,
    /// What this node runs with: the file as it was at start, then the environment and flags.
    pub running: ConnectionValues,
    /// Environment variables set now that override the file's chain keys.
    pub env_overrides: Vec<EnvOverride>,
    /// The file changed since this node started: a restart applies it.
    pub restart_needed: bool,
}

/// What a person typed into the chain and bootstrap settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionEdit {
    pub chain: Chain,
    pub network: Network,
    pub rpc_url: String,
    pub rpc_user: String,
    /// `None` keeps the saved password; `Some("")` removes it.
    pub rpc_password: Option<String>,
    /// Empty for none.
    pub rpc_cookie_file: String,
    /// An Electrum server (`tcp://host:port` or `ssl://host:port`) instead of a node; empty for none.
    #[serde(default)]
    pub electrum_url: String,
    /// The SHA-256 fingerprint of the Electrum server's TLS certificate to trust (a self-signed one);
    /// empty for a certificate signed by a public authority.
    #[serde(default)]
    pub electrum_cert_sha256: String,
    pub bootstrap: Vec<String>,
    /// Tor mode from the next start (bootstrap peers must then be onion addresses).
    #[serde(default)]
    pub tor: bool,
}

/// A chain backend that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ChainCheck {
    pub chain: Chain,
    pub network: Network,
    pub url: String,
    #[ts(type = "number")]
    pub tip_height: u64,
    /// Whether the node has wallet support: Souk watches escrows in a watch-only wallet of its own there
    /// (no keys; no transaction index needed). False with `-disablewallet`, and escrows cannot be used.
    pub wallets: bool,
    /// Whether the node prunes old blocks (supported).
    pub pruned: bool,
    /// It is an Electrum server (wallets and pruning are then the server's business).
    pub electrum: bool,
}

fn invalid(message: String) -> Error {
    Error::InvalidInput(message)
}

pub fn file_path(data_dir: &Path) -> PathBuf {
    data_dir.join(config::FILE_NAME)
}

fn read_text(path: &Path) -> Result<String, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// `souk.toml` opened for an edit: it must load as it is (a broken file is the person's to fix first).
struct Editing {
    path: PathBuf,
    origin: String,
    text: String,
    current: Config,
    doc: DocumentMut,
}

fn editing(data_dir: &Path) -> Result<Editing, Error> {
    let path = file_path(data_dir);
    let origin = path.display().to_string();
    let text = read_text(&path)?;
    let current = Config::from_parts(&origin, &text, []).map_err(|e| {
        invalid(format!(
            "{e}. Fix souk.toml by hand first; nothing was changed"
        ))
    })?;
    let doc = DocumentMut::from_str(&text).map_err(|e| {
        invalid(format!(
            "{origin} is not valid TOML ({e}); nothing was changed"
        ))
    })?;
    Ok(Editing {
        path,
        origin,
        text,
        current,
        doc,
    })
}

/// Writes `[backup]` of `souk.toml`: `folder` (removed when `None`: no automatic backups) and `keep`,
/// keeping everything else of the file as it is. The written file must load.
pub fn save_backup(data_dir: &Path, folder: Option<&Path>, keep: u32) -> Result<(), Error> {
    let Editing {
        path,
        origin,
        text,
        mut doc,
        ..
    } = editing(data_dir)?;
    let table = section(&mut doc, "backup")?;
    match folder {
        Some(folder) => {
            set_keeping_comments(table, "folder", Value::from(folder.display().to_string()))
        }
        None => {
            table.remove("folder");
        }
    }
    set_keeping_comments(table, "keep", Value::from(i64::from(keep)));
    let new_text = doc.to_string();
    Config::from_parts(&origin, &new_text, [])
        .map_err(|e| Error::Internal(format!("the edited souk.toml would not load: {e}")))?;
    if new_text != text {
        write_atomically(&path, &new_text)?;
        tracing::info!(file = %origin, "backup settings saved");
    }
    Ok(())
}

/// Writes `[net] tor` of `souk.toml`, keeping everything else of the file as it is, and says whether
/// the file changed. Refused (file untouched) when the file would not start a node, say Tor mode with a
/// bootstrap peer that is not an onion address.
pub fn save_tor(data_dir: &Path, on: bool) -> Result<bool, Error> {
    let Editing {
        path,
        origin,
        current,
        mut doc,
        ..
    } = editing(data_dir)?;
    if current.net.tor == on {
        return Ok(false);
    }
    set_keeping_comments(section(&mut doc, "net")?, "tor", Value::from(on));
    let new_text = doc.to_string();
    let written = Config::from_parts(&origin, &new_text, [])
        .map_err(|e| Error::Internal(format!("the edited souk.toml would not load: {e}")))?;
    written.net.resolve()?;
    write_atomically(&path, &new_text)?;
    tracing::info!(file = %origin, tor = on, "Tor mode saved");
    Ok(true)
}

/// `souk.toml` alone (no environment, no flags), as the config would read it.
pub fn read_saved(data_dir: &Path) -> Result<Config, Error> {
    let path = file_path(data_dir);
    let text = read_text(&path)?;
    Ok(Config::from_parts(&path.display().to_string(), &text, [])?)
}

/// The environment variables set in this process that override a `[chain]` key.
pub fn env_overrides() -> Vec<EnvOverride> {
    config::ENV_KEYS
        .iter()
        .filter(|(_, key)| key.starts_with("chain."))
        .filter(|(var, _)| std::env::var_os(var).is_some())
        .map(|(var, key)| EnvOverride {
            key: (*key).into(),
            variable: (*var).into(),
        })
        .collect()
}

/// Connects to the chain backend `edit` describes (the saved password when it gives none) and asks
/// for the tip, without saving anything. A backend off this machine goes through `proxy` (tor's, in
/// Tor mode: [`crate::node::Node`] says which, or why there is none to go through).
pub async fn test_chain(
    data_dir: &Path,
    edit: &ConnectionEdit,
    proxy: Result<Option<std::net::SocketAddr>, crate::chain::ChainError>,
) -> Result<ChainCheck, Error> {
    edit.validate_chain()?;
    let saved = read_saved(data_dir)?;
    let mut chain = edit.chain_config(&saved.chain);
    if chain.is_configured() && !chain.is_local() {
        chain.proxy = proxy?;
    }
    if !chain.is_configured() {
        return Err(invalid(
            "no chain backend to test: give the RPC URL of a Bitcoin Core or Litecoin Core node \
             (or its cookie file), or an Electrum server; without one Souk trades without escrow"
                .into(),
        ));
    }
    chain.rpc_timeout_secs = chain.rpc_timeout_secs.clamp(1, TEST_TIMEOUT_SECS);
    if chain.uses_electrum() {
        let backend = ElectrumBackend::connect(&chain).await?;
        return Ok(ChainCheck {
            chain: backend.chain(),
            network: backend.network(),
            url: backend.url().to_owned(),
            tip_height: backend.tip_height().await?,
            wallets: false,
            pruned: false,
            electrum: true,
        });
    }
    let backend = RpcBackend::connect(&chain).await?;
    let tip_height = backend.tip_height().await?;
    Ok(ChainCheck {
        chain: backend.chain(),
        network: backend.network(),
        url: backend.url().to_owned(),
        tip_height,
        wallets: backend.wallets_enabled().await?,
        pruned: backend.pruned().await?,
        electrum: false,
    })
}

/// Writes `edit` into `souk.toml`, changing only the keys whose value differs, and returns what the
/// file now holds. Refused (file untouched) when the edit is invalid or the file cannot be read as
/// Souk's config.
pub fn save(data_dir: &Path, edit: &ConnectionEdit) -> Result<ConnectionValues, Error> {
    edit.validate()?;
    let Editing {
        path,
        origin,
        text,
        current,
        mut doc,
    } = editing(data_dir)?;

    let wanted = edit.chain_config(&current.chain);
    let now = &current.chain;
    let mut chain_changes: Vec<(&str, Option<Value>)> = Vec::new();
    if wanted.chain != now.chain {
        chain_changes.push(("chain", Some(Value::from(wanted.chain.to_string()))));
    }
    if wanted.network != now.network {
        chain_changes.push(("network", Some(Value::from(network_key(wanted.network)?))));
    }
    if wanted.rpc_url != now.rpc_url.trim() {
        chain_changes.push(("rpc_url", Some(Value::from(wanted.rpc_url.clone()))));
    }
    if wanted.rpc_user != now.rpc_user {
        chain_changes.push(("rpc_user", Some(Value::from(wanted.rpc_user.clone()))));
    }
    if wanted.rpc_password != now.rpc_password {
        chain_changes.push((
            "rpc_password",
            Some(Value::from(wanted.rpc_password.clone())),
        ));
    }
    if wanted.electrum_url.trim() != now.electrum_url.trim() {
        let url = wanted.electrum_url.trim();
        chain_changes.push(("electrum_url", (!url.is_empty()).then(|| Value::from(url))));
    }
    if wanted.electrum_cert_sha256.trim() != now.electrum_cert_sha256.trim() {
        let pin = wanted.electrum_cert_sha256.trim();
        chain_changes.push((
            "electrum_cert_sha256",
            (!pin.is_empty()).then(|| Value::from(pin)),
        ));
    }
    if wanted.rpc_cookie_file != now.rpc_cookie_file {
        let cookie = wanted
            .rpc_cookie_file
            .as_ref()
            .map(|p| Value::from(p.display().to_string()));
        chain_changes.push(("rpc_cookie_file", cookie));
    }
    if !chain_changes.is_empty() {
        let table = section(&mut doc, "chain")?;
        for (key, value) in chain_changes {
            match value {
                Some(value) => set_keeping_comments(table, key, value),
                None => {
                    table.remove(key);
                }
            }
        }
    }
    let bootstrap = edit.bootstrap_texts();
    if bootstrap != current.net.bootstrap {
        let table = section(&mut doc, "net")?;
        set_keeping_comments(table, "bootstrap", Value::Array(array_of(&bootstrap)));
    }
    if edit.tor != current.net.tor {
        let table = section(&mut doc, "net")?;
        set_keeping_comments(table, "tor", Value::from(edit.tor));
    }

    let new_text = doc.to_string();
    // What is written must load: never leave a file the node then refuses to start with.
    let written = Config::from_parts(&origin, &new_text, [])
        .map_err(|e| Error::Internal(format!("the edited souk.toml would not load: {e}")))?;
    written.net.resolve()?;
    if new_text != text {
        write_atomically(&path, &new_text)?;
        tracing::info!(file = %origin, "connection settings saved");
    }
    Ok(ConnectionValues::of(&written))
}

/// The name `souk.toml` uses for a network (the config's own spelling).
fn network_key(network: Network) -> Result<String, Error> {
    match serde_json::to_value(network) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(Error::Internal(format!("network {network} has no name"))),
    }
}

/// The table `[name]`, created at the end of the file when absent.
fn section<'a>(doc: &'a mut DocumentMut, name: &str) -> Result<&'a mut dyn TableLike, Error> {
    doc.entry(name)
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| {
            invalid(format!(
                "`{name}` in souk.toml is not a table; nothing was changed"
            ))
        })
}

/// Sets `key`, keeping the comment written after an existing value (`rpc_url = "…" # my node`) and
/// the comment lines above its key.
fn set_keeping_comments(table: &mut dyn TableLike, key: &str, mut value: Value) {
    if let Some(old) = table.get_mut(key).and_then(Item::as_value_mut) {
        *value.decor_mut() = old.decor().clone();
        *old = value;
        return;
    }
    table.insert(key, Item::Value(value));
}

/// One address per line when there are several, so the file stays readable.
fn array_of(items: &[String]) -> toml_edit::Array {
    let mut array = toml_edit::Array::new();
    for item in items {
        let mut value = Value::from(item.clone());
        if items.len() > 1 {
            value.decor_mut().set_prefix("\n    ");
        }
        array.push_formatted(value);
    }
    if items.len() > 1 {
        array.set_trailing_comma(true);
        array.set_trailing("\n");
    }
    array
}

/// Replaces `path` whole: a new file (owner-only, as it may hold the RPC password) written and
/// synced beside it, then renamed over it, so a crash leaves the old file or the new one.
fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
    let dir = path
        .parent()
        .ok_or_else(|| Error::Internal(format!("{} has no directory", path.display())))?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let temp = path.with_extension(format!("toml.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(io(e));
    }
    // The rename itself survives a crash only once the directory is synced.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    fn edit() -> ConnectionEdit {
        ConnectionEdit {
            chain: Chain::Ltc,
            network: Network::Regtest,
            rpc_url: "http://127.0.0.1:19443/".into(),
            rpc_user: "souk".into(),
            rpc_password: Some("s3cret".into()),
            rpc_cookie_file: String::new(),
            electrum_url: String::new(),
            electrum_cert_sha256: String::new(),
            bootstrap: vec![format!("/ip4/127.0.0.1/tcp/4001/p2p/{PEER}")],
            tor: false,
        }
    }

    const COMMENTED: &str = "\
# Souk settings, written by hand.
[log]
level = \"debug\" # chatty while testing

[chain]
# The litecoind on the NAS.
chain = \"btc\"
rpc_url = \"http://10.0.0.2:8332/\" # old node
rpc_user = \"old\"

[net]
mdns = false
# Friends' nodes:
bootstrap = []

[price]
refresh_secs = 120
";

    #[test]
    fn a_save_keeps_comments_and_other_sections_and_changes_only_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path());
        std::fs::write(&path, COMMENTED).unwrap();
        let mut e = edit();
        e.bootstrap
            .push(format!("/dns4/seed.example.org/tcp/4001/p2p/{PEER}"));
        let saved = save(dir.path(), &e).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for kept in [
            "# Souk settings, written by hand.",
            "level = \"debug\" # chatty while testing",
            "# The litecoind on the NAS.",
            "# old node",
            "# Friends' nodes:",
            "mdns = false",
            "refresh_secs = 120",
        ] {
            assert!(text.contains(kept), "{kept:?} was lost:\n{text}");
        }
        assert!(text.contains("chain = \"ltc\""), "{text}");
        assert!(
            text.contains("rpc_url = \"http://127.0.0.1:19443/\" # old node"),
            "{text}"
        );
        assert!(text.contains("network = \"regtest\""), "{text}");
        assert!(text.contains("rpc_password = \"s3cret\""), "{text}");
        // The [chain] keys stay in [chain], before [net].
        assert!(text.find("rpc_password").unwrap() < text.find("[net]").unwrap());
        let config = Config::from_parts("f", &text, []).unwrap();
        assert_eq!(config.chain.chain, Chain::Ltc);
        assert_eq!(config.chain.rpc_password, "s3cret");
        assert_eq!(config.net.bootstrap, e.bootstrap);
        assert!(!config.net.mdns);
        assert_eq!(config.price.refresh_secs, 120);
        assert_eq!(saved.bootstrap, e.bootstrap);
        assert!(saved.rpc_password_set);

        // Saving the same again writes nothing new; keeping the password (None) keeps it.
        e.rpc_password = None;
        save(dir.path(), &e).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "souk.toml may hold a password");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != config::FILE_NAME)
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

        // Removing the password and the cookie file removes the keys.
        e.rpc_password = Some(String::new());
        let saved = save(dir.path(), &e).unwrap();
        assert!(!saved.rpc_password_set);
        assert!(
            read_saved(dir.path())
                .unwrap()
                .chain
                .rpc_password
                .is_empty(),
            "{}",
            std::fs::read_to_string(&path).unwrap()
        );
    }

    #[test]
    fn an_electrum_server_is_saved_shown_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let pin = "AB:".repeat(31) + "CD";
        let with = ConnectionEdit {
            electrum_url: " ssl://electrum.example.org:50002 ".into(),
            electrum_cert_sha256: format!(" {pin} "),
            ..edit()
        };
        let saved = save(dir.path(), &with).unwrap();
        assert_eq!(saved.electrum_url, "ssl://electrum.example.org:50002");
        assert_eq!(saved.electrum_cert_sha256, pin);
        let text = std::fs::read_to_string(file_path(dir.path())).unwrap();
        assert!(
            text.contains("electrum_url = \"ssl://electrum.example.org:50002\""),
            "{text}"
        );
        assert!(
            text.contains(&format!("electrum_cert_sha256 = \"{pin}\"")),
            "{text}"
        );
        let read = read_saved(dir.path()).unwrap().chain;
        assert!(read.uses_electrum());
        assert_eq!(read.electrum_cert_sha256, pin);
        let saved = save(dir.path(), &edit()).unwrap();
        assert_eq!(saved.electrum_url, "");
        assert_eq!(saved.electrum_cert_sha256, "");
        let text = std::fs::read_to_string(file_path(dir.path())).unwrap();
        assert!(!text.contains("electrum"), "{text}");
    }

    #[test]
    fn tor_mode_is_saved_with_onion_bootstrap_peers_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(file_path(dir.path()), COMMENTED).unwrap();
        let mut e = edit();
        e.tor = true;
        let err = e.validate().unwrap_err().to_string();
        assert!(
            err.contains("bootstrap peer 1") && err.contains("not an onion address"),
            "{err}"
        );
        assert!(save(dir.path(), &e).is_err());
        assert_eq!(
            std::fs::read_to_string(file_path(dir.path())).unwrap(),
            COMMENTED
        );

        e.bootstrap = vec![format!(
            "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001/p2p/{PEER}"
        )];
        let saved = save(dir.path(), &e).unwrap();
        assert!(saved.tor);
        let text = std::fs::read_to_string(file_path(dir.path())).unwrap();
        assert!(text.contains("tor = true"), "{text}");
        assert!(
            text.starts_with("# Souk settings, written by hand."),
            "{text}"
        );
        let config = read_saved(dir.path()).unwrap();
        assert!(config.net.resolve().unwrap().0.tor.is_some());

        // And off again.
        e.tor = false;
        assert!(!save(dir.path(), &e).unwrap().tor);
    }

    #[test]
    fn a_missing_file_is_created_with_only_the_changed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let e = ConnectionEdit {
            chain: Chain::Btc,
            network: Network::Main,
            rpc_url: String::new(),
            rpc_user: String::new(),
            rpc_password: None,
            rpc_cookie_file: String::new(),
            electrum_url: String::new(),
            electrum_cert_sha256: String::new(),
            bootstrap: vec![format!("/ip4/127.0.0.1/tcp/4001/p2p/{PEER}")],
            tor: false,
        };
        save(dir.path(), &e).unwrap();
        let text = std::fs::read_to_string(file_path(dir.path())).unwrap();
        assert!(
            !text.contains("[chain]"),
            "defaults are not written:\n{text}"
        );
        assert!(text.contains("[net]") && text.contains(PEER), "{text}");
    }

    #[test]
    fn bad_input_is_refused_with_the_field_and_leaves_the_file_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path());
        std::fs::write(&path, COMMENTED).unwrap();
        let cases: Vec<(ConnectionEdit, &str)> = vec![
            (
                ConnectionEdit {
                    bootstrap: vec!["/ip4/127.0.0.1/tcp/4001".into()],
                    ..edit()
                },
                "does not end in /p2p/<PeerId>",
            ),
            (
                ConnectionEdit {
                    bootstrap: vec![format!("/ip4/127.0.0.1/tcp/4001/p2p/{PEER}/tcp/5")],
                    ..edit()
                },
                "bootstrap peer 1",
            ),
            (
                ConnectionEdit {
                    bootstrap: vec!["not an address".into()],
                    ..edit()
                },
                "is not a multiaddr",
            ),
            (
                ConnectionEdit {
                    bootstrap: vec![edit().bootstrap[0].clone(), edit().bootstrap[0].clone()],
                    ..edit()
                },
                "bootstrap peer 2",
            ),
            (
                ConnectionEdit {
                    rpc_url: "127.0.0.1:9332".into(),
                    ..edit()
                },
                "must start with http://",
            ),
            (
                ConnectionEdit {
                    electrum_url: "electrum.example.org:50002".into(),
                    ..edit()
                },
                "must start with tcp:// or ssl://",
            ),
            (
                ConnectionEdit {
                    electrum_url: "ssl://electrum.example.org".into(),
                    ..edit()
                },
                "ssl://HOST:PORT",
            ),
            (
                ConnectionEdit {
                    electrum_url: "ssl://electrum.example.org:50002".into(),
                    electrum_cert_sha256: "AB:CD".into(),
                    ..edit()
                },
                "64 hex digits",
            ),
            (
                ConnectionEdit {
                    electrum_url: "tcp://electrum.example.org:50001".into(),
                    electrum_cert_sha256: "ab".repeat(32),
                    ..edit()
                },
                "over TLS (ssl://",
            ),
            (
                ConnectionEdit {
                    rpc_url: "http://".into(),
                    ..edit()
                },
                "RPC URL",
            ),
            (
                ConnectionEdit {
                    rpc_user: "a:b".into(),
                    ..edit()
                },
                "cannot contain ':'",
            ),
            (
                ConnectionEdit {
                    rpc_password: Some("line\nbreak".into()),
                    ..edit()
                },
                "RPC password",
            ),
            (
                ConnectionEdit {
                    rpc_cookie_file: "relative/.cookie".into(),
                    ..edit()
                },
                "must be a full path",
            ),
        ];
        for (bad, reason) in cases {
            let err = save(dir.path(), &bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(reason), "{reason:?} not in {err}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
        }

        // A file Souk cannot read is not "fixed" by a save: it is left for the person to fix.
        let broken = "[chain]\nrpc_pasword = \"typo\"\n# keep me\n";
        std::fs::write(&path, broken).unwrap();
        let err = save(dir.path(), &edit()).unwrap_err();
        assert!(err.to_string().contains("rpc_pasword"), "{err}");
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
        let not_toml = "[chain\n";
        std::fs::write(&path, not_toml).unwrap();
        assert!(save(dir.path(), &edit()).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), not_toml);
    }

    #[test]
    fn a_password_is_reported_as_set_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            file_path(dir.path()),
            "[chain]\nrpc_user = \"u\"\nrpc_password = \"hunter2\"\n",
        )
        .unwrap();
        let values = ConnectionValues::of(&read_saved(dir.path()).unwrap());
        assert!(values.rpc_password_set);
        assert!(!serde_json::to_string(&values).unwrap().contains("hunter2"));
    }

    #[tokio::test]
    async fn a_chain_test_reports_the_exact_problem() {
        let dir = tempfile::tempdir().unwrap();
        let nothing = ConnectionEdit {
            rpc_url: String::new(),
            ..edit()
        };
        let err = test_chain(dir.path(), &nothing, Ok(None))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("no chain backend to test"),
            "{err}"
        );
        // A port nobody listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let closed = ConnectionEdit {
            rpc_url: format!("http://127.0.0.1:{port}/"),
            ..edit()
        };
        let err = test_chain(dir.path(), &closed, Ok(None)).await.unwrap_err();
        assert!(
            err.to_string().contains("cannot reach the chain node"),
            "{err}"
        );
        assert!(!file_path(dir.path()).exists(), "a test saved something");
    }
}
