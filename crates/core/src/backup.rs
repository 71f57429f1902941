//! The encrypted backup file: one file holding everything a data directory needs to come back — the
//! keystore, a consistent snapshot of the database (trades, chats, escrows, payment accounts, settings)
//! and `souk.toml` — sealed with the keystore's passphrase by the keystore's own KDF and AEAD
//! (argon2id → XChaCha20-Poly1305).
//!
//! This module is the file format only (no I/O but what a caller hands it); `node::backup` takes the
//! snapshot and restores it. Like the keystore, it must never report a damaged file as a wrong passphrase
//! or the other way round.
//!
//! ```text
//! magic "SOUKBAK\0" | version u8 | kdf u8 (1 = argon2id v19) | memory_kib u32 | iterations u32 | lanes u32
//! | salt [16] | nonce [24] | peer_id_len u8 | peer_id | created_at_ms u64
//! | ciphertext_len u64 | ciphertext | sha256 [32]
//! ```
//! All integers little-endian. Everything before `ciphertext_len` is authenticated as associated data;
//! the trailing SHA-256 over all preceding bytes tells damage from a wrong passphrase. The PeerId and the
//! time are in the clear, so `souk backup info` can say whose backup a file is, and from when, without the
//! passphrase. The plaintext is a list of files:
//! `count u8 | (name_len u8 | name | len u64 | bytes) × count`, each name one of [`Entry`]'s.

use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce, aead::Aead, aead::Payload};
use libp2p_identity::PeerId;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{
    error_kind::ErrorKind,
    identity::{KdfCost, KeystoreError, keystore},
};

/// The extension the shells suggest for backup files.
pub const EXTENSION: &str = "soukbackup";
/// The largest backup this Souk reads or writes: it is held in memory whole.
pub const MAX_BYTES: u64 = 1 << 30;

const MAGIC: &[u8; 8] = b"SOUKBAK\0";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error(
        "wrong passphrase: the backup did not open with it (it opens with the passphrase of the keystore it holds)"
    )]
    WrongPassphrase,
    #[error("the backup file is damaged or was tampered with: {0}")]
    Corrupt(String),
    #[error(
        "the backup is version {found}; this Souk reads only up to version {supported}: update Souk"
    )]
    UnsupportedVersion { found: u8, supported: u8 },
    #[error("the backup is {bytes} bytes, more than the {MAX_BYTES} this Souk handles")]
    TooLarge { bytes: u64 },
    #[error("backup encryption failed: {0}")]
    Kdf(String),
}

impl BackupError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::WrongPassphrase => ErrorKind::WrongPassphrase,
            Self::Corrupt(_) | Self::UnsupportedVersion { .. } | Self::TooLarge { .. } => {
                ErrorKind::BackupCorrupt
            }
            Self::Kdf(_) => ErrorKind::Internal,
        }
    }
}

/// The cursor's "truncated" and the header's checks speak of a keystore; here they are the backup's.
fn corrupt(e: KeystoreError) -> BackupError {
    match e {
        KeystoreError::Corrupt(what) => BackupError::Corrupt(what),
        other => BackupError::Corrupt(other.to_string()),
    }
}

/// A file a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    Keystore,
    Database,
    Config,
}

impl Entry {
    pub const ALL: [Self; 3] = [Self::Keystore, Self::Database, Self::Config];

    /// Its file name in a data directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Keystore => keystore::FILE_NAME,
            Self::Database => crate::store::FILE_NAME,
            Self::Config => crate::config::FILE_NAME,
        }
    }

    fn from_name(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.file_name().as_bytes() == name)
    }
}

/// What a backup holds: the keystore and database always, `souk.toml` when there was one.
#[derive(Clone, PartialEq, Eq)]
pub struct Contents {
    pub keystore: Vec<u8>,
    pub database: Vec<u8>,
    pub config: Option<Vec<u8>>,
}

impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contents")
            .field("keystore", &self.keystore.len())
            .field("database", &self.database.len())
            .field("config", &self.config.as_ref().map(Vec::len))
            .finish()
    }
}

/// What a backup says of itself in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub peer_id: PeerId,
    pub created_at_ms: u64,
}

/// Seals `contents` of identity `header.peer_id` with `passphrase`.
pub fn seal(
    contents: &Contents,
    header: &Header,
    passphrase: &str,
    cost: KdfCost,
) -> Result<Vec<u8>, BackupError> {
    Sealer::new(passphrase, cost)?.seal(contents, header)
}

/// A passphrase's backup key, derived once (one KDF run) with a fresh salt: automatic backups seal each
/// file with it and a fresh nonce, without the passphrase being kept.
pub struct Sealer {
    cost: KdfCost,
    salt: [u8; SALT_LEN],
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(passphrase: &str, cost: KdfCost) -> Result<Self, BackupError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| BackupError::Kdf(format!("no randomness: {e}")))?;
        let key = keystore::derive_key(passphrase, &salt, cost)
            .map_err(|e| BackupError::Kdf(e.to_string()))?;
        Ok(Self { cost, salt, key })
    }

    pub fn seal(&self, contents: &Contents, header: &Header) -> Result<Vec<u8>, BackupError> {
        let (cost, salt) = (self.cost, self.salt);
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| BackupError::Kdf(format!("no randomness: {e}")))?;
        let plain = plaintext(contents);
        let mut out = keystore::sealed_prefix(
            MAGIC,
            VERSION,
            cost,
            &salt,
            &nonce,
            &header.peer_id,
            plain.len() + 256,
        )
        .map_err(|e| BackupError::Kdf(e.to_string()))?;
        out.extend_from_slice(&header.created_at_ms.to_le_bytes());

        let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*self.key));
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &out,
                },
            )
            .map_err(|_| BackupError::Kdf("encryption failed".into()))?;
        out.extend_from_slice(&(ciphertext.len() as u64).to_le_bytes());
        out.extend_from_slice(&ciphertext);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        if out.len() as u64 > MAX_BYTES {
            return Err(BackupError::TooLarge {
                bytes: out.len() as u64,
            });
        }
        Ok(out)
    }
}

/// The list of files a backup seals: `count u8 | (name_len u8 | name | len u64 | bytes) × count`.
pub(crate) fn plaintext(contents: &Contents) -> Zeroizing<Vec<u8>> {
    let mut plain = Zeroizing::new(Vec::with_capacity(
        contents.keystore.len() + contents.database.len() + 256,
    ));
    let entries: Vec<(Entry, &[u8])> = [
        (Entry::Keystore, Some(contents.keystore.as_slice())),
        (Entry::Database, Some(contents.database.as_slice())),
        (Entry::Config, contents.config.as_deref()),
    ]
    .into_iter()
    .filter_map(|(entry, bytes)| bytes.map(|b| (entry, b)))
    .collect();
    plain.push(entries.len() as u8);
    for (entry, bytes) in entries {
        let name = entry.file_name().as_bytes();
        plain.push(name.len() as u8);
        plain.extend_from_slice(name);
        plain.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        plain.extend_from_slice(bytes);
    }
    plain
}

struct Parsed<'a> {
    header: Header,
    cost: KdfCost,
    salt: &'a [u8],
    nonce: &'a [u8],
    aad: &'a [u8],
    ciphertext: &'a [u8],
}

fn u64_at(r: &mut keystore::Reader<'_>, what: &str) -> Result<u64, BackupError> {
    let b = r.take(8, what).map_err(corrupt)?;
    let mut le = [0u8; 8];
    le.copy_from_slice(b);
    Ok(u64::from_le_bytes(le))
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, BackupError> {
    if bytes.len() as u64 > MAX_BYTES {
        return Err(BackupError::TooLarge {
            bytes: bytes.len() as u64,
        });
    }
    let mut r = keystore::Reader { bytes, at: 0 };
    if r.take(MAGIC.len(), "header").map_err(corrupt)? != MAGIC {
        return Err(BackupError::Corrupt(
            "not a Souk backup (bad magic bytes)".into(),
        ));
    }
    let version = r.u8("version").map_err(corrupt)?;
    if version > VERSION {
        return Err(BackupError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    if version == 0 {
        return Err(BackupError::Corrupt("version 0 does not exist".into()));
    }
    let kdf = r.u8("key derivation id").map_err(corrupt)?;
    let cost = KdfCost {
        memory_kib: r.u32("kdf memory").map_err(corrupt)?,
        iterations: r.u32("kdf passes").map_err(corrupt)?,
        lanes: r.u32("kdf lanes").map_err(corrupt)?,
    };
    let salt = r.take(SALT_LEN, "salt").map_err(corrupt)?;
    let nonce = r.take(NONCE_LEN, "nonce").map_err(corrupt)?;
    let peer_id_len = usize::from(r.u8("PeerId length").map_err(corrupt)?);
    let peer_id_bytes = r.take(peer_id_len, "PeerId").map_err(corrupt)?;
    let created_at_ms = u64_at(&mut r, "creation time")?;
    let aad_end = r.at;
    let ct_len = u64_at(&mut r, "ciphertext length")?;
    let ct_len = usize::try_from(ct_len)
        .map_err(|_| BackupError::Corrupt(format!("ciphertext length {ct_len}")))?;
    let ciphertext = r.take(ct_len, "ciphertext").map_err(corrupt)?;
    r.checksum_ends_it().map_err(corrupt)?;
    if kdf != keystore::KDF_ARGON2ID {
        return Err(BackupError::Corrupt(format!(
            "unknown key derivation id {kdf}"
        )));
    }
    let peer_id = PeerId::from_bytes(peer_id_bytes)
        .map_err(|e| BackupError::Corrupt(format!("unreadable PeerId: {e}")))?;
    Ok(Parsed {
        header: Header {
            peer_id,
            created_at_ms,
        },
        cost: cost.check().map_err(corrupt)?,
        salt,
        nonce,
        aad: &bytes[..aad_end],
        ciphertext,
    })
}

/// Whose backup `bytes` is and when it was made, read without the passphrase (and checked for damage).
pub fn header(bytes: &[u8]) -> Result<Header, BackupError> {
    Ok(parse(bytes)?.header)
}

/// Opens a backup with `passphrase`.
pub fn open(bytes: &[u8], passphrase: &str) -> Result<(Header, Contents), BackupError> {
    let p = parse(bytes)?;
    let key = keystore::derive_key(passphrase, p.salt, p.cost)
        .map_err(|e| BackupError::Kdf(e.to_string()))?;
    let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key));
    let nonce =
        XNonce::try_from(p.nonce).map_err(|_| BackupError::Corrupt("bad nonce length".into()))?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: p.ciphertext,
                    aad: p.aad,
                },
            )
            .map_err(|_| BackupError::WrongPassphrase)?,
    );
    Ok((p.header, entries(&plain)?))
}

/// The files of an opened backup. The plaintext was authenticated, so a bad list means a Souk wrote a
/// bad file: still reported as damage, never obeyed.
pub(crate) fn entries(plain: &[u8]) -> Result<Contents, BackupError> {
    let mut r = keystore::Reader {
        bytes: plain,
        at: 0,
    };
    let count = r.u8("file count").map_err(corrupt)?;
    let (mut keystore, mut database, mut config) = (None, None, None);
    for _ in 0..count {
        let name_len = usize::from(r.u8("file name length").map_err(corrupt)?);
        let name = r.take(name_len, "file name").map_err(corrupt)?;
        let len = u64_at(&mut r, "file length")?;
        let len =
            usize::try_from(len).map_err(|_| BackupError::Corrupt(format!("file length {len}")))?;
        let bytes = r.take(len, "file").map_err(corrupt)?.to_vec();
        let slot = match Entry::from_name(name) {
            Some(Entry::Keystore) => &mut keystore,
            Some(Entry::Database) => &mut database,
            Some(Entry::Config) => &mut config,
            None => {
                return Err(BackupError::Corrupt(format!(
                    "it holds a file this Souk does not know: {:?}",
                    String::from_utf8_lossy(name)
                )));
            }
        };
        if slot.replace(bytes).is_some() {
            return Err(BackupError::Corrupt(format!(
                "it holds {} twice",
                String::from_utf8_lossy(name)
            )));
        }
    }
    if r.at != plain.len() {
        return Err(BackupError::Corrupt("bytes after the last file".into()));
    }
    let missing = |what: Entry| BackupError::Corrupt(format!("it holds no {}", what.file_name()));
    Ok(Contents {
        keystore: keystore.ok_or_else(|| missing(Entry::Keystore))?,
        database: database.ok_or_else(|| missing(Entry::Database))?,
        config,
    })
}

/// `[year, month, day, hour, minute, second]` in UTC of a time in ms since 1970.
pub fn utc_parts(ms: u64) -> [i64; 6] {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = i64::try_from(secs % 86_400).unwrap_or(0);
    // Howard Hinnant's days → civil date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    [year, month, day, rem / 3600, rem % 3600 / 60, rem % 60]
}

/// `2026-12-04 15:30 UTC`: when a backup was made, for people.
pub fn utc_text(ms: u64) -> String {
    let [year, month, day, hour, minute, _] = utc_parts(ms);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    const COST: KdfCost = KdfCost {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };

    fn sample() -> (Contents, Header) {
        let contents = Contents {
            keystore: b"keystore bytes".to_vec(),
            database: vec![7; 10_000],
            config: Some(b"[log]\nlevel = \"info\"\n".to_vec()),
        };
        let header = Header {
            peer_id: PeerId::random(),
            created_at_ms: 1_764_000_000_000,
        };
        (contents, header)
    }

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc_text(1_796_398_245_000), "2026-12-04 15:30 UTC");
    }

    #[test]
    fn a_sealed_backup_opens_with_its_passphrase_and_says_whose_it_is_without() {
        let (contents, header) = sample();
        let bytes = seal(&contents, &header, "the passphrase", COST).unwrap();
        assert_eq!(super::header(&bytes).unwrap(), header);
        let (read, opened) = open(&bytes, "the passphrase").unwrap();
        assert_eq!((read, opened), (header.clone(), contents.clone()));
        // Without a config, none comes back.
        let bare = Contents {
            config: None,
            ..contents
        };
        let bytes = seal(&bare, &header, "the passphrase", COST).unwrap();
        assert_eq!(open(&bytes, "the passphrase").unwrap().1, bare);
        // The secret parts are not in the clear.
        assert!(!bytes.windows(14).any(|w| w == b"keystore bytes"));
    }

    #[test]
    fn a_wrong_passphrase_and_damage_are_told_apart() {
        let (contents, header) = sample();
        let bytes = seal(&contents, &header, "the passphrase", COST).unwrap();
        let err = open(&bytes, "another passphrase").unwrap_err();
        assert!(matches!(err, BackupError::WrongPassphrase), "{err}");
        assert_eq!(err.kind(), ErrorKind::WrongPassphrase);

        // Any flipped byte, header or ciphertext, is damage, whatever the passphrase.
        for at in [0, 9, 20, 60, 75, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            let err = open(&bad, "the passphrase").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BackupCorrupt, "byte {at}: {err}");
        }
        let err = open(&bytes[..bytes.len() - 40], "the passphrase").unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = open(b"PK\x03\x04 a zip file", "the passphrase").unwrap_err();
        assert!(err.to_string().contains("not a Souk backup"), "{err}");
        let err = open(&[], "the passphrase").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BackupCorrupt, "{err}");
        let mut newer = bytes.clone();
        newer[8] = VERSION + 1;
        let err = open(&newer, "the passphrase").unwrap_err();
        assert!(
            matches!(err, BackupError::UnsupportedVersion { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_list_of_files_it_does_not_know_is_refused() {
        let good = {
            let mut p = vec![1u8, 17];
            p.extend_from_slice(b"identity.keystore");
            p.extend_from_slice(&1u64.to_le_bytes());
            p.push(9);
            p
        };
        let err = entries(&good).unwrap_err();
        assert!(err.to_string().contains("no souk.db"), "{err}");
        let mut unknown = vec![1u8, 6];
        unknown.extend_from_slice(b"../etc");
        unknown.extend_from_slice(&0u64.to_le_bytes());
        let err = entries(&unknown).unwrap_err();
        assert!(err.to_string().contains("does not know"), "{err}");
        let mut twice = good.clone();
        twice[0] = 2;
        twice.extend_from_slice(&good[1..]);
        let err = entries(&twice).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let mut long = good;
        long[19..27].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = entries(&long).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BackupCorrupt, "{err}");
    }
}
