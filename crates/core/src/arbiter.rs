//! Arbitrators: a node run with `--arbitrator` announces itself in the DHT with a signed record holding
//! an extended public key per chain and network. Every escrow's arbitrator key is derived from it without
//! asking the arbitrator anything (`xpub / i`, `i` from the trade id), and the arbitrator derives the
//! matching private key when a dispute reaches it. One seed backup recovers every arbitrator key too.
//!
//! Path of the announced key: `m / 7717' / coin' / 1'` (the parties' own keys use account `0'`); the
//! trade's key is its non-hardened descendant `i1/i2/i3/i4` = [`crate::escrow::trade_index`].

use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Xpriv, Xpub},
    secp256k1::{Keypair as SecpKeypair, PublicKey, Secp256k1},
};
use libp2p::{PeerId, identity::Keypair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::escrow::{Chain, ESCROW_PURPOSE, Network, trade_index};

/// Signature domain of an announcement.
pub const ANNOUNCEMENT_SIGNING_TAG: &[u8] = b"souk/arbitrator/v1\0";
/// Largest announcement on the wire.
pub const MAX_ANNOUNCEMENT_BYTES: usize = 2 * 1024;
const RECORD_KEY_TAG: &[u8] = b"souk/arbitrator-record/v1\0";

/// What an arbitrator announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub arbitrator: PeerId,
    pub chain: Chain,
    pub network: Network,
    /// `m/7717'/coin'/1'` as a BIP-32 xpub string.
    pub xpub: String,
    /// The arbitrator's static X25519 key: dispute cases are sealed to it.
    pub channel_key: [u8; 32],
    pub at: i64,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    arbitrator: Vec<u8>,
    chain: Chain,
    network: Network,
    xpub: String,
    channel_key: [u8; 32],
    at: i64,
}

/// An announcement with its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAnnouncement {
    pub bytes: Vec<u8>,
    pub key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The DHT key of `arbitrator`'s announcement for a chain and network.
pub fn record_key(arbitrator: &PeerId, chain: Chain, network: Network) -> Vec<u8> {
    Sha256::new()
        .chain_update(RECORD_KEY_TAG)
        .chain_update(arbitrator.to_bytes())
        .chain_update(chain.name().as_bytes())
        .chain_update(network.core_name().as_bytes())
        .finalize()
        .to_vec()
}

fn account_path(chain: Chain, network: Network) -> DerivationPath {
    let coin = chain.params(network).coin_type;
    [ESCROW_PURPOSE, coin, 1]
        .into_iter()
        .filter_map(|i| ChildNumber::from_hardened_idx(i).ok())
        .collect::<Vec<_>>()
        .into()
}

/// The trade's four non-hardened steps below the announced account (see [`trade_index`]).
fn child(trade_id: &Uuid) -> Result<Vec<ChildNumber>, String> {
    trade_index(trade_id)
        .into_iter()
        .map(|i| ChildNumber::from_normal_idx(i).map_err(|e| e.to_string()))
        .collect()
}

impl Announcement {
    /// This node's announcement as an arbitrator on `chain`/`network`.
    pub fn of(
        root: &Xpriv,
        arbitrator: PeerId,
        chain: Chain,
        network: Network,
        channel_key: [u8; 32],
        at: i64,
    ) -> Result<Self, String> {
        let secp = Secp256k1::new();
        let account = root
            .derive_priv(&secp, &account_path(chain, network))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            arbitrator,
            chain,
            network,
            xpub: Xpub::from_priv(&secp, &account).to_string(),
            channel_key,
            at,
        })
    }

    /// The arbitrator's public key for one trade.
    pub fn trade_key(&self, trade_id: &Uuid) -> Result<PublicKey, String> {
        let xpub: Xpub = self
            .xpub
            .parse()
            .map_err(|e| format!("the arbitrator's announced key is not an xpub: {e}"))?;
        let secp = Secp256k1::verification_only();
        Ok(xpub
            .derive_pub(&secp, &child(trade_id)?)
            .map_err(|e| e.to_string())?
            .public_key)
    }

    pub fn sign(&self, keypair: &Keypair) -> Result<SignedAnnouncement, String> {
        if keypair.public().to_peer_id() != self.arbitrator {
            return Err("an announcement is signed by its arbitrator".into());
        }
        let bytes = postcard::to_stdvec(&Wire {
            arbitrator: self.arbitrator.to_bytes(),
            chain: self.chain,
            network: self.network,
            xpub: self.xpub.clone(),
            channel_key: self.channel_key,
            at: self.at,
        })
        .map_err(|e| e.to_string())?;
        let (key, signature) = crate::signing::sign(ANNOUNCEMENT_SIGNING_TAG, &bytes, keypair)
            .map_err(|e| e.to_string())?;
        Ok(SignedAnnouncement {
            bytes,
            key,
            signature,
        })
    }
}

/// The arbitrator's private key for one trade (only the arbitrator's own root derives it).
pub fn arbitrator_trade_keypair(
    root: &Xpriv,
    chain: Chain,
    network: Network,
    trade_id: &Uuid,
) -> Result<SecpKeypair, String> {
    let secp = Secp256k1::new();
    let mut path: Vec<ChildNumber> = account_path(chain, network).into();
    path.extend(child(trade_id)?);
    let key = root
        .derive_priv(&secp, &DerivationPath::from(path))
        .map_err(|e| e.to_string())?;
    Ok(key.to_keypair(&secp))
}

impl SignedAnnouncement {
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Size, strict decoding, signature, signer ↔ arbitrator, and a usable xpub.
    pub fn verify(bytes: &[u8]) -> Result<Announcement, String> {
        if bytes.len() > MAX_ANNOUNCEMENT_BYTES {
            return Err(format!(
                "an announcement of {} bytes; at most {MAX_ANNOUNCEMENT_BYTES}",
                bytes.len()
            ));
        }
        let signed: Self = crate::codec::decode_exact(bytes, "arbitrator announcement")?;
        let signer = crate::signing::verify(
            ANNOUNCEMENT_SIGNING_TAG,
            &signed.bytes,
            &signed.key,
            &signed.signature,
        )
        .map_err(|e| e.to_string())?;
        let wire: Wire = crate::codec::decode_exact(&signed.bytes, "announcement")?;
        let arbitrator =
            PeerId::from_bytes(&wire.arbitrator).map_err(|e| format!("arbitrator: {e}"))?;
        if signer != arbitrator {
            return Err(format!(
                "an announcement for {arbitrator} signed by {signer}"
            ));
        }
        wire.xpub
            .parse::<Xpub>()
            .map_err(|e| format!("the announced key is not an xpub: {e}"))?;
        Ok(Announcement {
            arbitrator,
            chain: wire.chain,
            network: wire.network,
            xpub: wire.xpub,
            channel_key: wire.channel_key,
            at: wire.at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announced_key_matches_the_arbitrators_private_key_per_trade() {
        let root = Xpriv::new_master(bitcoin::NetworkKind::Main, &[3; 64]).unwrap();
        let identity = Keypair::generate_ed25519();
        let me = identity.public().to_peer_id();
        let a = Announcement::of(&root, me, Chain::Ltc, Network::Regtest, [9; 32], 1).unwrap();
        let bytes = a.sign(&identity).unwrap().to_bytes();
        let verified = SignedAnnouncement::verify(&bytes).unwrap();
        assert_eq!(verified, a);
        let trade = Uuid::now_v7();
        let private =
            arbitrator_trade_keypair(&root, Chain::Ltc, Network::Regtest, &trade).unwrap();
        assert_eq!(verified.trade_key(&trade).unwrap(), private.public_key());
        assert_ne!(
            verified.trade_key(&Uuid::now_v7()).unwrap(),
            private.public_key()
        );
        // Someone else cannot announce for this arbitrator.
        let forged = Announcement {
            arbitrator: me,
            ..a.clone()
        }
        .sign(&Keypair::generate_ed25519());
        assert!(forged.is_err());
        let mut tampered = a.sign(&identity).unwrap();
        tampered.bytes.push(0);
        assert!(SignedAnnouncement::verify(&tampered.to_bytes()).is_err());
    }
}
