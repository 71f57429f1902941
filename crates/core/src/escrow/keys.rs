//! Per-trade escrow keys, derived from the identity's BIP-32 root so the seed phrase alone recovers every
//! escrow a node ever took part in.
//!
//! Path: `m / 7717' / coin' / 0' / i1' / i2' / i3' / i4'`, all hardened, where `coin` is the BIP-44 coin
//! type (0 BTC, 2 LTC, 1 on every test network) and `i1…i4` are the first sixteen bytes of SHA-256(trade
//! id, 16 raw bytes) read as four big-endian numbers with their top bits cleared: 124 bits, so nobody can
//! grind two trade ids onto the same keys (with one 31-bit step, about 2^16 tries found a pair). To recover
//! a trade's key one needs only the seed, the chain and network, and the trade id. Hardened steps mean a
//! leaked per-trade key or xpub never exposes the others.

use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Xpriv},
    secp256k1::{Keypair, Secp256k1},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Chain, EscrowError, Network};

/// The first (purpose) step of every escrow key path; not a registered BIP-43 purpose, so no wallet
/// derives the same keys for something else.
pub const ESCROW_PURPOSE: u32 = 7717;

/// The last four path steps for a trade: SHA-256 of its id, first 16 bytes, each step below 2^31.
pub fn trade_index(trade_id: &Uuid) -> [u32; 4] {
    let digest = Sha256::digest(trade_id.as_bytes());
    std::array::from_fn(|i| {
        let b = &digest[4 * i..4 * i + 4];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff
    })
}

/// `m/7717'/coin'/0'/i1'/i2'/i3'/i4'` for this trade.
pub fn trade_key_path(chain: Chain, network: Network, trade_id: &Uuid) -> DerivationPath {
    let coin = chain.params(network).coin_type;
    // Every index is below 2^31 by construction, so `from_hardened_idx` cannot fail.
    [ESCROW_PURPOSE, coin, 0]
        .into_iter()
        .chain(trade_index(trade_id))
        .filter_map(|i| ChildNumber::from_hardened_idx(i).ok())
        .collect::<Vec<_>>()
        .into()
}

/// This party's escrow keypair for the trade.
pub fn trade_keypair(
    root: &Xpriv,
    chain: Chain,
    network: Network,
    trade_id: &Uuid,
) -> Result<Keypair, EscrowError> {
    let secp = Secp256k1::signing_only();
    let path = trade_key_path(chain, network, trade_id);
    let child = root
        .derive_priv(&secp, &path)
        .map_err(|e| EscrowError::Internal(format!("deriving {path}: {e}")))?;
    Ok(child.to_keypair(&secp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(seed: u8) -> Xpriv {
        Xpriv::new_master(bitcoin::NetworkKind::Main, &[seed; 64]).unwrap()
    }

    #[test]
    fn path_is_hardened_and_documented() {
        let id = Uuid::from_bytes([7; 16]);
        let path = trade_key_path(Chain::Ltc, Network::Main, &id);
        assert_eq!(path.len(), 7);
        assert!(path.into_iter().all(ChildNumber::is_hardened));
        let [a, b, c, d] = trade_index(&id);
        assert_eq!(path.to_string(), format!("7717'/2'/0'/{a}'/{b}'/{c}'/{d}'"));
        let digest = Sha256::digest([7u8; 16]);
        for (i, step) in trade_index(&id).into_iter().enumerate() {
            let bytes: [u8; 4] = digest[4 * i..4 * i + 4].try_into().unwrap();
            assert_eq!(step, u32::from_be_bytes(bytes) & 0x7fff_ffff);
        }
        // Two ids that share the old single 31-bit step no longer share keys.
        assert_ne!(
            trade_index(&id)[1..],
            trade_index(&Uuid::from_bytes([8; 16]))[1..]
        );
        assert!(
            trade_key_path(Chain::Btc, Network::Regtest, &id)
                .to_string()
                .starts_with("7717'/1'/0'/")
        );
    }

    #[test]
    fn keys_are_deterministic_and_distinct_per_trade_chain_and_seed() {
        let (a, b) = (Uuid::from_bytes([1; 16]), Uuid::from_bytes([2; 16]));
        let key = |seed, chain, id| trade_keypair(&root(seed), chain, Network::Main, id).unwrap();
        assert_eq!(key(1, Chain::Btc, &a), key(1, Chain::Btc, &a));
        assert_ne!(key(1, Chain::Btc, &a), key(1, Chain::Btc, &b));
        assert_ne!(key(1, Chain::Btc, &a), key(1, Chain::Ltc, &a));
        assert_ne!(key(1, Chain::Btc, &a), key(2, Chain::Btc, &a));
        // The same key a BIP-32 wallet given the seed and the path would compute.
        let secp = Secp256k1::new();
        let [i1, i2, i3, i4] = trade_index(&a);
        let path: DerivationPath = format!("m/7717'/0'/0'/{i1}'/{i2}'/{i3}'/{i4}'")
            .parse()
            .unwrap();
        let expected = root(1).derive_priv(&secp, &path).unwrap().private_key;
        assert_eq!(key(1, Chain::Btc, &a).secret_key(), expected);
    }
}
