//! Which chain and network a trade settles on, and the address prefixes each uses.

use std::{fmt, str::FromStr};

use bitcoin::{Amount, FeeRate, Script};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::EscrowError;

/// The Bitcoin-family chain a trade's escrow lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    Btc,
    Ltc,
}

/// Which of a chain's networks: real money (`main`) or one of the test networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Main,
    Test,
    Signet,
    Regtest,
}

impl Chain {
    pub const ALL: [Self; 2] = [Self::Btc, Self::Ltc];

    /// The name people use: "Bitcoin", "Litecoin".
    pub fn name(self) -> &'static str {
        match self {
            Self::Btc => "Bitcoin",
            Self::Ltc => "Litecoin",
        }
    }

    pub fn params(self, network: Network) -> ChainParams {
        ChainParams::of(self, network)
    }

    /// The least an output to `script` may carry and still be relayed by this chain's nodes.
    pub fn dust_limit(self, script: &Script) -> Amount {
        // The dust rate is the same on every network of a chain.
        script.minimal_non_dust_custom(self.params(Network::Main).dust_relay_fee)
    }
}

impl Network {
    pub const ALL: [Self; 4] = [Self::Main, Self::Test, Self::Signet, Self::Regtest];

    /// The `chain` field of Bitcoin Core's (and Litecoin Core's) `getblockchaininfo`.
    pub fn core_name(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Test => "test",
            Self::Signet => "signet",
            Self::Regtest => "regtest",
        }
    }

    /// The word people use: "mainnet", "testnet", "signet", "regtest".
    pub fn name(self) -> &'static str {
        match self {
            Self::Main => "mainnet",
            Self::Test => "testnet",
            Self::Signet => "signet",
            Self::Regtest => "regtest",
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Btc => "btc",
            Self::Ltc => "ltc",
        })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.core_name())
    }
}

impl FromStr for Chain {
    type Err = EscrowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "btc" | "bitcoin" => Ok(Self::Btc),
            "ltc" | "litecoin" => Ok(Self::Ltc),
            _ => Err(EscrowError::UnknownChain(s.to_owned())),
        }
    }
}

impl FromStr for Network {
    type Err = EscrowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "main" | "mainnet" => Ok(Self::Main),
            "test" | "testnet" => Ok(Self::Test),
            "signet" => Ok(Self::Signet),
            "regtest" => Ok(Self::Regtest),
            _ => Err(EscrowError::UnknownNetwork(s.to_owned())),
        }
    }
}

/// The address prefixes of one chain and network, as Bitcoin Core and Litecoin Core define them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainParams {
    pub chain: Chain,
    pub network: Network,
    /// Human-readable part of segwit addresses (BIP-173).
    pub hrp: &'static str,
    /// Base58check version byte of pay-to-pubkey-hash addresses.
    pub p2pkh: u8,
    /// Base58check version bytes of pay-to-script-hash addresses. Litecoin's test networks accept the
    /// old shared `0xc4` next to their own `0x3a`; Litecoin mainnet's old `0x05` ("3…") is deliberately
    /// left out because it cannot be told apart from a Bitcoin address.
    pub p2sh: &'static [u8],
    /// BIP-44 coin type, used in the escrow key path: 0 (BTC), 2 (LTC), 1 on every test network.
    pub coin_type: u32,
    /// The node's default `-dustrelayfee`: an output worth less than spending it costs at this rate is
    /// dust and not relayed. Bitcoin Core 3 sat/vB; Litecoin Core 0.0003 LTC/kB = 30 litoshi/vB.
    pub dust_relay_fee: FeeRate,
}

impl ChainParams {
    pub const fn of(chain: Chain, network: Network) -> Self {
        let (hrp, p2pkh, p2sh, coin_type): (_, _, &'static [u8], _) = match (chain, network) {
            (Chain::Btc, Network::Main) => ("bc", 0x00, &[0x05], 0),
            (Chain::Btc, Network::Test | Network::Signet) => ("tb", 0x6f, &[0xc4], 1),
            (Chain::Btc, Network::Regtest) => ("bcrt", 0x6f, &[0xc4], 1),
            (Chain::Ltc, Network::Main) => ("ltc", 0x30, &[0x32], 2),
            (Chain::Ltc, Network::Test | Network::Signet) => ("tltc", 0x6f, &[0x3a, 0xc4], 1),
            (Chain::Ltc, Network::Regtest) => ("rltc", 0x6f, &[0x3a, 0xc4], 1),
        };
        let dust_relay_fee = match chain {
            Chain::Btc => FeeRate::from_sat_per_vb_u32(3),
            Chain::Ltc => FeeRate::from_sat_per_vb_u32(30),
        };
        Self {
            chain,
            network,
            hrp,
            p2pkh,
            p2sh,
            coin_type,
            dust_relay_fee,
        }
    }

    /// "Litecoin regtest", for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.chain.name(), self.network.name())
    }

    pub fn all() -> impl Iterator<Item = Self> {
        Chain::ALL
            .into_iter()
            .flat_map(|c| Network::ALL.into_iter().map(move |n| Self::of(c, n)))
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::hashes::Hash;

    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_are_named() {
        for chain in Chain::ALL {
            assert_eq!(chain.to_string().parse::<Chain>().unwrap(), chain);
            let json = serde_json::to_string(&chain).unwrap();
            assert_eq!(json, format!("\"{chain}\""));
        }
        for network in Network::ALL {
            assert_eq!(network.to_string().parse::<Network>().unwrap(), network);
            assert_eq!(network.name().parse::<Network>().unwrap(), network);
            let json = serde_json::to_string(&network).unwrap();
            assert_eq!(json, format!("\"{network}\""));
        }
        assert_eq!("Litecoin".parse::<Chain>().unwrap(), Chain::Ltc);
        let err = "doge".parse::<Chain>().unwrap_err().to_string();
        assert!(err.contains("doge") && err.contains("btc or ltc"), "{err}");
        let err = "mainet".parse::<Network>().unwrap_err().to_string();
        assert!(err.contains("mainet") && err.contains("regtest"), "{err}");
    }

    #[test]
    fn prefixes_match_core() {
        let p = Chain::Ltc.params(Network::Regtest);
        assert_eq!((p.hrp, p.p2pkh, p.coin_type), ("rltc", 0x6f, 1));
        assert_eq!(p.describe(), "Litecoin regtest");
        assert_eq!(Chain::Btc.params(Network::Signet).hrp, "tb");
        assert_eq!(Chain::Ltc.params(Network::Main).p2pkh, 0x30);
        assert_eq!(ChainParams::all().count(), 8);
        let p2wpkh =
            bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0; 20]));
        assert_eq!(Chain::Btc.dust_limit(&p2wpkh), Amount::from_sat(294));
        assert_eq!(Chain::Ltc.dust_limit(&p2wpkh), Amount::from_sat(2_940));
    }
}
