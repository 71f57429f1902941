//! Who this install is: a BIP-39 seed phrase, the ed25519 identity derived from it (its libp2p `PeerId`),
//! and the BIP-32 root from which per-trade escrow keys are derived later.
//!
//! The seed entropy is kept in a keystore file encrypted at rest (argon2id → XChaCha20-Poly1305). This
//! module must never write a keystore over an existing one, and never report a damaged file as a wrong
//! passphrase or the other way round.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::Write,
    path::Path,
};

use bitcoin::bip32::Xpriv;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce, aead::Aead, aead::Payload};
use hmac::{Hmac, Mac};
use libp2p_identity::{Keypair, PeerId};
use sha2::{Digest, Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

use crate::error_kind::ErrorKind;

/// Shortest passphrase accepted for a new keystore.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Domain separation for the identity key, so the same seed never yields the same bytes for two purposes.
const IDENTITY_KEY_TAG: &[u8] = b"souk/identity/ed25519/v1";
/// Domain separation for the static X25519 key offers publish for sealed take requests.
const CHANNEL_KEY_TAG: &[u8] = b"souk/identity/x25519/v1";
/// Derivation tag of the key that seals secrets kept in the database (trade channel keys).
const STORAGE_KEY_TAG: &[u8] = b"souk/identity/storage/v1";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    #[error("wrong passphrase: the keystore did not open with it")]
    WrongPassphrase,
    #[error("the keystore file is damaged or was tampered with: {0}")]
    Corrupt(String),
    #[error(
        "the keystore is version {found}; this Souk reads only up to version {supported}: update Souk"
    )]
    UnsupportedVersion { found: u8, supported: u8 },
    #[error("invalid seed phrase: {0}")]
    InvalidSeedPhrase(String),
    #[error("passphrase too short: use at least {MIN_PASSPHRASE_CHARS} characters")]
    WeakPassphrase,
    #[error("keystore key derivation failed: {0}")]
    Kdf(String),
    /// No keystore in the data directory (the crate's `Error::NotInitialized` once converted).
    #[error("no identity in {0}: run `souk init` or `souk restore` first")]
    Missing(std::path::PathBuf),
    /// A keystore is there already and is never replaced (`Error::AlreadyInitialized`).
    #[error("an identity already exists in {0}; choose another data directory to create a new one")]
    Exists(std::path::PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl KeystoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::WrongPassphrase => ErrorKind::WrongPassphrase,
            Self::Corrupt(_) | Self::UnsupportedVersion { .. } => ErrorKind::KeystoreCorrupt,
            Self::InvalidSeedPhrase(_) => ErrorKind::InvalidSeedPhrase,
            Self::WeakPassphrase => ErrorKind::InvalidInput,
            Self::Kdf(_) => ErrorKind::Internal,
            Self::Missing(_) => ErrorKind::NotInitialized,
            Self::Exists(_) => ErrorKind::AlreadyInitialized,
            Self::Io { .. } => ErrorKind::Io,
        }
    }
}

/// The 24 BIP-39 words that recover everything this install owns.
pub struct SeedPhrase(bip39::Mnemonic);

impl SeedPhrase {
    /// 256 bits of fresh entropy from the operating system.
    pub fn generate() -> Result<Self, KeystoreError> {
        let mut entropy = Zeroizing::new([0u8; 32]);
        getrandom::fill(entropy.as_mut())
            .map_err(|e| KeystoreError::Kdf(format!("no randomness: {e}")))?;
        Self::from_entropy(entropy.as_ref())
    }

    fn from_entropy(entropy: &[u8]) -> Result<Self, KeystoreError> {
        bip39::Mnemonic::from_entropy(entropy)
            .map(Self)
            .map_err(|e| KeystoreError::InvalidSeedPhrase(e.to_string()))
    }

    /// Parses words typed by a person: case and spacing do not matter, the checksum does.
    pub fn parse(words: &str) -> Result<Self, KeystoreError> {
        let normalised = words
            .split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ");
        if normalised.is_empty() {
            return Err(KeystoreError::InvalidSeedPhrase("no words given".into()));
        }
        bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normalised)
            .map(Self)
            .map_err(|e| KeystoreError::InvalidSeedPhrase(describe_bip39_error(e)))
    }

    pub fn words(&self) -> Vec<String> {
        self.0.words().map(str::to_owned).collect()
    }

    fn entropy(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_entropy())
    }
}

impl fmt::Debug for SeedPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeedPhrase(<redacted>)")
    }
}

fn describe_bip39_error(e: bip39::Error) -> String {
    match e {
        bip39::Error::BadWordCount(n) => {
            format!("{n} words; a seed phrase has 12, 15, 18, 21 or 24")
        }
        bip39::Error::UnknownWord(i) => {
            format!("word #{} is not in the BIP-39 English word list", i + 1)
        }
        bip39::Error::InvalidChecksum => {
            "the checksum does not match: a word is wrong or out of order".into()
        }
        other => other.to_string(),
    }
}

/// The unlocked identity: signing key, PeerId and the escrow key root.
pub struct Identity {
    keypair: Keypair,
    escrow_root: Xpriv,
    channel_secret: x25519_dalek::StaticSecret,
    storage_key: Zeroizing<[u8; 32]>,
    phrase: SeedPhrase,
}

/// HMAC-SHA512(tag, seed), first 32 bytes: one independent secret per purpose from one seed.
fn derive_secret(tag: &[u8], seed: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let mut mac = <Hmac<Sha512> as hmac::KeyInit>::new_from_slice(tag)
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    mac.update(seed);
    let mut okm = mac.finalize().into_bytes();
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(&okm[..32]);
    okm.as_mut_slice().zeroize();
    Ok(secret)
}

impl Identity {
    pub fn from_phrase(phrase: SeedPhrase) -> Result<Self, KeystoreError> {
        let seed = Zeroizing::new(phrase.0.to_seed(""));
        let mut secret = derive_secret(IDENTITY_KEY_TAG, seed.as_ref())?;
        // `ed25519_from_bytes` zeroes the buffer it is given.
        let keypair = Keypair::ed25519_from_bytes(&mut secret[..])
            .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
        let channel_secret =
            x25519_dalek::StaticSecret::from(*derive_secret(CHANNEL_KEY_TAG, seed.as_ref())?);
        let escrow_root = Xpriv::new_master(bitcoin::NetworkKind::Main, seed.as_ref())
            .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
        let storage_key = derive_secret(STORAGE_KEY_TAG, seed.as_ref())?;
        Ok(Self {
            keypair,
            escrow_root,
            channel_secret,
            storage_key,
            phrase,
        })
    }

    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// Root of the per-trade escrow keys (BIP-32).
    pub fn escrow_root(&self) -> &Xpriv {
        &self.escrow_root
    }

    /// The static X25519 public key offers carry, so takers can seal take requests to this node.
    pub fn channel_public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.channel_secret).to_bytes()
    }

    pub fn channel_secret(&self) -> &x25519_dalek::StaticSecret {
        &self.channel_secret
    }

    /// The key that seals secrets this node keeps in its database (a restored seed opens them again).
    pub fn storage_key(&self) -> &[u8; 32] {
        &self.storage_key
    }

    pub fn seed_words(&self) -> Vec<String> {
        self.phrase.words()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id())
            .finish_non_exhaustive()
    }
}

/// argon2id cost of a keystore. Stored in the file header, so it can grow without breaking old files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl KdfCost {
    /// OWASP's first argon2id recommendation (19 MiB, 2 passes) raised to 64 MiB: ~0.2 s on a laptop.
    pub const DEFAULT: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        lanes: 1,
    };
    /// The bounds a keystore header may name; anything outside is treated as damage, not obeyed.
    const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    const MAX_ITERATIONS: u32 = 64;
    const MAX_LANES: u32 = 16;

    pub(crate) fn check(self) -> Result<Self, KeystoreError> {
        let sane = (8..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib)
            && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && (1..=Self::MAX_LANES).contains(&self.lanes);
        if sane {
            Ok(self)
        } else {
            Err(KeystoreError::Corrupt(format!(
                "implausible key derivation cost {self:?}"
            )))
        }
    }
}

/// The keystore file, version 1. All integers little-endian.
///
/// ```text
/// magic "SOUKKEY\0" | version u8 | kdf u8 (1 = argon2id v19) | memory_kib u32 | iterations u32 | lanes u32
/// | salt [16] | nonce [24] | peer_id_len u8 | peer_id | ciphertext_len u16 | ciphertext | sha256 [32]
/// ```
/// Everything before the ciphertext is authenticated as associated data; the trailing SHA-256 over all
/// preceding bytes tells accidental damage or tampering apart from a wrong passphrase. The PeerId is in
/// the clear so a locked app can say which identity it is about to unlock.
pub mod keystore {
    use super::*;

    pub const FILE_NAME: &str = "identity.keystore";
    const MAGIC: &[u8; 8] = b"SOUKKEY\0";
    const VERSION: u8 = 1;
    pub(crate) const KDF_ARGON2ID: u8 = 1;
    const SALT_LEN: usize = 16;
    const NONCE_LEN: usize = 24;
    const CHECKSUM_LEN: usize = 32;

    /// Writes a new keystore at `path`. Fails if any file is already there: keys are never overwritten.
    pub fn create(
        path: &Path,
        identity: &Identity,
        passphrase: &str,
        cost: KdfCost,
    ) -> Result<(), KeystoreError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(KeystoreError::WeakPassphrase);
        }
        let bytes = seal(identity, passphrase, cost)?;
        write_new(path, &bytes)
    }

    /// The PeerId a keystore belongs to, read from its header without the passphrase.
    pub fn peer_id(path: &Path) -> Result<PeerId, KeystoreError> {
        let bytes = read(path)?;
        Ok(parse(&bytes)?.peer_id)
    }

    /// Opens the keystore with `passphrase`.
    pub fn open(path: &Path, passphrase: &str) -> Result<Identity, KeystoreError> {
        let bytes = read(path)?;
        unseal(&bytes, passphrase)
    }

    fn read(path: &Path) -> Result<Vec<u8>, KeystoreError> {
        fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                KeystoreError::Missing(path.parent().unwrap_or(path).to_path_buf())
            }
            _ => KeystoreError::Io {
                context: format!("reading keystore {}", path.display()),
                source: e,
            },
        })
    }

    pub(crate) fn seal(
        identity: &Identity,
        passphrase: &str,
        cost: KdfCost,
    ) -> Result<Vec<u8>, KeystoreError> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut salt)
            .map_err(|e| KeystoreError::Kdf(format!("no randomness: {e}")))?;
        getrandom::fill(&mut nonce)
            .map_err(|e| KeystoreError::Kdf(format!("no randomness: {e}")))?;
        let mut out = sealed_prefix(
            MAGIC,
            VERSION,
            cost,
            &salt,
            &nonce,
            &identity.peer_id(),
            160,
        )?;

        let key = derive_key(passphrase, &salt, cost)?;
        let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key));
        let entropy = identity.phrase.entropy();
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &entropy,
                    aad: &out,
                },
            )
            .map_err(|_| KeystoreError::Kdf("encryption failed".into()))?;
        let ct_len = u16::try_from(ciphertext.len())
            .map_err(|_| KeystoreError::Kdf("secret too long".into()))?;
        out.extend_from_slice(&ct_len.to_le_bytes());
        out.extend_from_slice(&ciphertext);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        Ok(out)
    }

    /// The start every file sealed with a passphrase has (the keystore, a backup): `magic | version |
    /// kdf (argon2id) | memory_kib | iterations | lanes | salt | nonce | peer_id_len | peer_id`.
    pub(crate) fn sealed_prefix(
        magic: &[u8; 8],
        version: u8,
        cost: KdfCost,
        salt: &[u8],
        nonce: &[u8],
        peer_id: &PeerId,
        capacity: usize,
    ) -> Result<Vec<u8>, KeystoreError> {
        let peer_id = peer_id.to_bytes();
        let peer_id_len = u8::try_from(peer_id.len())
            .map_err(|_| KeystoreError::Kdf("PeerId too long".into()))?;
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(magic);
        out.push(version);
        out.push(KDF_ARGON2ID);
        out.extend_from_slice(&cost.memory_kib.to_le_bytes());
        out.extend_from_slice(&cost.iterations.to_le_bytes());
        out.extend_from_slice(&cost.lanes.to_le_bytes());
        out.extend_from_slice(salt);
        out.extend_from_slice(nonce);
        out.push(peer_id_len);
        out.extend_from_slice(&peer_id);
        Ok(out)
    }

    pub(crate) struct Parsed<'a> {
        cost: KdfCost,
        salt: &'a [u8],
        nonce: &'a [u8],
        peer_id: PeerId,
        aad: &'a [u8],
        ciphertext: &'a [u8],
    }

    /// A cursor that turns every short read into a "truncated" error.
    pub(crate) struct Reader<'a> {
        pub(crate) bytes: &'a [u8],
        pub(crate) at: usize,
    }

    impl<'a> Reader<'a> {
        pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], KeystoreError> {
            let end = self
                .at
                .checked_add(n)
                .filter(|end| *end <= self.bytes.len())
                .ok_or_else(|| {
                    KeystoreError::Corrupt(format!(
                        "truncated: the file ends before its {what} ({} bytes)",
                        self.bytes.len()
                    ))
                })?;
            let slice = &self.bytes[self.at..end];
            self.at = end;
            Ok(slice)
        }
        pub(crate) fn u8(&mut self, what: &str) -> Result<u8, KeystoreError> {
            Ok(self.take(1, what)?[0])
        }
        pub(crate) fn u16(&mut self, what: &str) -> Result<u16, KeystoreError> {
            let b = self.take(2, what)?;
            Ok(u16::from_le_bytes([b[0], b[1]]))
        }
        /// The SHA-256 of everything read so far comes next, and then the end: damage anywhere is
        /// found here, before anything read is trusted.
        pub(crate) fn checksum_ends_it(&mut self) -> Result<(), KeystoreError> {
            let body_end = self.at;
            let checksum = self.take(CHECKSUM_LEN, "checksum")?;
            if self.at != self.bytes.len() {
                return Err(KeystoreError::Corrupt(format!(
                    "{} unexpected bytes after the checksum",
                    self.bytes.len() - self.at
                )));
            }
            if Sha256::digest(&self.bytes[..body_end]).as_slice() != checksum {
                return Err(KeystoreError::Corrupt("checksum mismatch".into()));
            }
            Ok(())
        }
        pub(crate) fn u32(&mut self, what: &str) -> Result<u32, KeystoreError> {
            let b = self.take(4, what)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed<'_>, KeystoreError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len(), "header")? != MAGIC {
            return Err(KeystoreError::Corrupt(
                "not a Souk keystore (bad magic bytes)".into(),
            ));
        }
        let version = r.u8("version")?;
        if version > VERSION {
            return Err(KeystoreError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        if version == 0 {
            return Err(KeystoreError::Corrupt("version 0 does not exist".into()));
        }
        let kdf = r.u8("key derivation id")?;
        let cost = KdfCost {
            memory_kib: r.u32("kdf memory")?,
            iterations: r.u32("kdf passes")?,
            lanes: r.u32("kdf lanes")?,
        };
        let salt = r.take(SALT_LEN, "salt")?;
        let nonce = r.take(NONCE_LEN, "nonce")?;
        let peer_id_len = usize::from(r.u8("PeerId length")?);
        let peer_id_bytes = r.take(peer_id_len, "PeerId")?;
        let aad_end = r.at;
        let ct_len = usize::from(r.u16("ciphertext length")?);
        let ciphertext = r.take(ct_len, "ciphertext")?;
        r.checksum_ends_it()?;
        // Checked after the checksum: a damaged file is reported as damage, whatever byte it hit.
        if kdf != KDF_ARGON2ID {
            return Err(KeystoreError::Corrupt(format!(
                "unknown key derivation id {kdf}"
            )));
        }
        let peer_id = PeerId::from_bytes(peer_id_bytes)
            .map_err(|e| KeystoreError::Corrupt(format!("unreadable PeerId: {e}")))?;
        Ok(Parsed {
            cost: cost.check()?,
            salt,
            nonce,
            peer_id,
            aad: &bytes[..aad_end],
            ciphertext,
        })
    }

    pub(crate) fn unseal(bytes: &[u8], passphrase: &str) -> Result<Identity, KeystoreError> {
        let p = parse(bytes)?;
        let key = derive_key(passphrase, p.salt, p.cost)?;
        let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key));
        let nonce = XNonce::try_from(p.nonce)
            .map_err(|_| KeystoreError::Corrupt("bad nonce length".into()))?;
        let entropy = Zeroizing::new(
            cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: p.ciphertext,
                        aad: p.aad,
                    },
                )
                .map_err(|_| KeystoreError::WrongPassphrase)?,
        );
        let identity = Identity::from_phrase(SeedPhrase::from_entropy(&entropy)?)?;
        if identity.peer_id() != p.peer_id {
            return Err(KeystoreError::Corrupt(
                "the secret does not belong to the PeerId in the header".into(),
            ));
        }
        Ok(identity)
    }

    pub(crate) fn derive_key(
        passphrase: &str,
        salt: &[u8],
        cost: KdfCost,
    ) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.lanes, Some(32))
            .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
            .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
        Ok(key)
    }

    /// Creates `path` exclusively (never replacing a file), writes, syncs, and syncs the directory.
    fn write_new(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeystoreError::Exists(dir.to_path_buf()),
            _ => KeystoreError::Io {
                context: format!("creating keystore {}", path.display()),
                source: e,
            },
        })?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(KeystoreError::Io {
                context: format!("writing keystore {}", path.display()),
                source: e,
            });
        }
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap cost for tests that are about the format, not the KDF's strength.
    const TEST_COST: KdfCost = KdfCost {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };
    const WORDS: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                         abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                         abandon art";

    fn identity() -> Identity {
        Identity::from_phrase(SeedPhrase::parse(WORDS).unwrap()).unwrap()
    }

    #[test]
    fn same_words_give_same_peer_id_and_escrow_root() {
        let a = identity();
        let b = Identity::from_phrase(
            SeedPhrase::parse(&WORDS.to_uppercase().replace(' ', "  \n")).unwrap(),
        )
        .unwrap();
        assert_eq!(a.peer_id(), b.peer_id());
        assert_eq!(a.escrow_root(), b.escrow_root());
        assert_eq!(a.channel_public_key(), b.channel_public_key());
        assert_ne!(
            a.channel_public_key(),
            a.keypair().public().encode_protobuf()[4..]
        );
        let other = Identity::from_phrase(SeedPhrase::generate().unwrap()).unwrap();
        assert_ne!(a.peer_id(), other.peer_id());
    }

    #[test]
    fn identity_key_is_pinned() {
        // Changing the derivation would orphan every existing identity: this value must never change.
        assert_eq!(identity().peer_id().to_string(), PINNED_PEER_ID);
    }
    const PINNED_PEER_ID: &str = "12D3KooWBqph6ZF9esfcLigaTjNsf8rCYJew4cxLaqtT2GAzR1wy";

    #[test]
    fn keystore_round_trip() {
        let id = identity();
        let bytes = keystore::seal(&id, "correct horse", TEST_COST).unwrap();
        let back = keystore::unseal(&bytes, "correct horse").unwrap();
        assert_eq!(back.peer_id(), id.peer_id());
        assert_eq!(back.seed_words(), id.seed_words());
        // A fresh salt and nonce every time.
        assert_ne!(
            bytes,
            keystore::seal(&id, "correct horse", TEST_COST).unwrap()
        );
    }

    #[test]
    fn wrong_passphrase_is_reported_as_such() {
        let bytes = keystore::seal(&identity(), "correct horse", TEST_COST).unwrap();
        let err = keystore::unseal(&bytes, "correct horsf").unwrap_err();
        assert!(matches!(err, KeystoreError::WrongPassphrase), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::WrongPassphrase);
    }

    #[test]
    fn every_flipped_byte_is_damage_not_a_wrong_passphrase() {
        let bytes = keystore::seal(&identity(), "correct horse", TEST_COST).unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let err = keystore::unseal(&bad, "correct horse").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::KeystoreCorrupt, "byte {i}: {err:?}");
        }
    }

    #[test]
    fn every_truncation_is_reported() {
        let bytes = keystore::seal(&identity(), "correct horse", TEST_COST).unwrap();
        for len in 0..bytes.len() {
            let err = keystore::unseal(&bytes[..len], "correct horse").unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::KeystoreCorrupt,
                "length {len}: {err:?}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            keystore::unseal(&longer, "correct horse"),
            Err(KeystoreError::Corrupt(_))
        ));
    }

    #[test]
    fn tampering_with_a_recomputed_checksum_is_still_refused() {
        let mut bytes = keystore::seal(&identity(), "correct horse", TEST_COST).unwrap();
        let body = bytes.len() - 32;
        bytes[body - 1] ^= 0x80; // last ciphertext byte (the tag)
        let checksum = Sha256::digest(&bytes[..body]);
        bytes[body..].copy_from_slice(&checksum);
        // Indistinguishable from a wrong passphrase by design (the AEAD is the only judge), but never accepted.
        assert!(keystore::unseal(&bytes, "correct horse").is_err());
    }

    #[test]
    fn newer_version_is_refused_clearly() {
        let mut bytes = keystore::seal(&identity(), "correct horse", TEST_COST).unwrap();
        bytes[8] = 9;
        let err = keystore::unseal(&bytes, "correct horse").unwrap_err();
        assert!(
            matches!(
                err,
                KeystoreError::UnsupportedVersion {
                    found: 9,
                    supported: 1
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn create_refuses_to_overwrite_and_weak_passphrases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(keystore::FILE_NAME);
        let err = keystore::create(&path, &identity(), "short", TEST_COST).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!path.exists());
        keystore::create(&path, &identity(), "long enough", TEST_COST).unwrap();
        let before = fs::read(&path).unwrap();
        let err = keystore::create(&path, &identity(), "another one", TEST_COST).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyInitialized);
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(keystore::peer_id(&path).unwrap(), identity().peer_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn seed_phrase_errors_are_specific() {
        let err = |s: &str| SeedPhrase::parse(s).unwrap_err().to_string();
        assert!(err("").contains("no words"));
        assert!(err("abandon abandon").contains("2 words"));
        assert!(err(&WORDS.replace("art", "zebra")).contains("checksum"));
        assert!(err(&WORDS.replace("art", "notaword")).contains("word #24"));
    }
}
