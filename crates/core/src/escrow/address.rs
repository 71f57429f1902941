//! Addresses of Bitcoin and Litecoin on every network, both ways: a payout address a person typed becomes
//! an output script only if it is for the trade's chain and network, and an output script becomes the
//! address a person can check.

use bech32::{Fe32, Hrp};
use bitcoin::{
    PubkeyHash, Script, ScriptBuf, ScriptHash, WitnessProgram, WitnessVersion, hashes::Hash,
    secp256k1::XOnlyPublicKey,
};

use super::{Chain, ChainParams, EscrowError, Network};

/// The output script an address pays to, if it is a valid address of `chain`/`network`.
///
/// Accepts segwit v0 (P2WPKH, P2WSH; bech32), v1 (P2TR; bech32m) and base58check P2PKH/P2SH. Refuses an
/// address of another chain or network by name ("a Bitcoin testnet/signet address, but this trade is on
/// Litecoin regtest"), and future witness versions, which would be anyone-can-spend today.
pub fn parse_payout_address(
    address: &str,
    chain: Chain,
    network: Network,
) -> Result<ScriptBuf, EscrowError> {
    let address = address.trim();
    let params = chain.params(network);
    let invalid = |reason: String| EscrowError::InvalidAddress {
        address: address.to_owned(),
        reason,
    };
    if address.is_empty() {
        return Err(invalid("it is empty".into()));
    }
    if let Some(hrp) = segwit_prefix(address) {
        let (hrp_found, version, program) =
            bech32::segwit::decode(address).map_err(|e| invalid(e.to_string()))?;
        debug_assert_eq!(hrp_found.to_lowercase(), hrp);
        if hrp != params.hrp {
            return Err(wrong_network(address, &params, |p| p.hrp == hrp));
        }
        return witness_script(address, version, &program);
    }
    let data = bitcoin::base58::decode_check(address).map_err(|e| {
        invalid(format!(
            "neither a segwit address of a known prefix nor valid base58check ({e})"
        ))
    })?;
    let [version, hash @ ..] = data.as_slice() else {
        return Err(invalid("empty base58 payload".into()));
    };
    let hash: [u8; 20] = hash.try_into().map_err(|_| {
        invalid(format!(
            "a base58 address carries a 20-byte hash, this one {} bytes",
            hash.len()
        ))
    })?;
    if *version == params.p2pkh {
        return Ok(ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array(hash)));
    }
    if params.p2sh.contains(version) {
        return Ok(ScriptBuf::new_p2sh(&ScriptHash::from_byte_array(hash)));
    }
    let known = ChainParams::all().any(|p| p.p2pkh == *version || p.p2sh.contains(version));
    if !known {
        return Err(invalid(format!(
            "version byte {version:#04x} is no Bitcoin or Litecoin address type"
        )));
    }
    Err(wrong_network(address, &params, |p| {
        p.p2pkh == *version || p.p2sh.contains(version)
    }))
}

/// The lower-case HRP if `address` starts with one of the known segwit prefixes followed by `1`.
fn segwit_prefix(address: &str) -> Option<String> {
    let (hrp, _) = address.rsplit_once('1')?;
    let hrp = hrp.to_ascii_lowercase();
    ChainParams::all().any(|p| p.hrp == hrp).then_some(hrp)
}

fn witness_script(address: &str, version: Fe32, program: &[u8]) -> Result<ScriptBuf, EscrowError> {
    let unsupported = || EscrowError::UnsupportedWitnessVersion {
        address: address.to_owned(),
        version: version.to_u8(),
    };
    let witness_version = WitnessVersion::try_from(version).map_err(|_| unsupported())?;
    match (witness_version, program.len()) {
        (WitnessVersion::V0, 20 | 32) => {}
        (WitnessVersion::V1, 32) => {
            // A taproot output key must be a valid x-only point, or the coins are lost.
            XOnlyPublicKey::from_slice(program).map_err(|e| EscrowError::InvalidAddress {
                address: address.to_owned(),
                reason: format!("its taproot key is not a valid point ({e})"),
            })?;
        }
        _ => return Err(unsupported()),
    }
    let program =
        WitnessProgram::new(witness_version, program).map_err(|e| EscrowError::InvalidAddress {
            address: address.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(ScriptBuf::new_witness_program(&program))
}

/// "… is a Bitcoin testnet/signet/regtest or Litecoin testnet/signet/regtest address, but …".
fn wrong_network(
    address: &str,
    expected: &ChainParams,
    matches: impl Fn(&ChainParams) -> bool,
) -> EscrowError {
    let per_chain: Vec<String> = Chain::ALL
        .into_iter()
        .filter_map(|chain| {
            let networks: Vec<&str> = Network::ALL
                .into_iter()
                .filter(|n| matches(&chain.params(*n)))
                .map(Network::name)
                .collect();
            (!networks.is_empty()).then(|| format!("{} {}", chain.name(), networks.join("/")))
        })
        .collect();
    EscrowError::WrongNetworkAddress {
        address: address.to_owned(),
        found: format!("a {} address", per_chain.join(" or ")),
        expected: expected.describe(),
    }
}

/// The address of a standard output script on `chain`/`network`: what a person checks a payout against.
pub fn address_from_script(
    script: &Script,
    chain: Chain,
    network: Network,
) -> Result<String, EscrowError> {
    let params = chain.params(network);
    let no_form = || EscrowError::NoAddressForm(params.describe());
    let bytes = script.as_bytes();
    if script.is_p2pkh() {
        return Ok(base58(params.p2pkh, &bytes[3..23]));
    }
    if script.is_p2sh() {
        let version = *params.p2sh.first().ok_or_else(no_form)?;
        return Ok(base58(version, &bytes[2..22]));
    }
    if script.is_p2wpkh() || script.is_p2wsh() || script.is_p2tr() {
        let version = script.witness_version().ok_or_else(no_form)?;
        let fe = Fe32::try_from(version.to_num()).map_err(|_| no_form())?;
        let hrp = Hrp::parse(params.hrp).map_err(|e| EscrowError::Internal(e.to_string()))?;
        return bech32::segwit::encode(hrp, fe, &bytes[2..])
            .map_err(|e| EscrowError::Internal(format!("bech32 encoding: {e}")));
    }
    Err(no_form())
}

fn base58(version: u8, hash: &[u8]) -> String {
    let mut data = Vec::with_capacity(1 + hash.len());
    data.push(version);
    data.extend_from_slice(hash);
    bitcoin::base58::encode_check(&data)
}

#[cfg(test)]
mod tests {
    use bitcoin::{WScriptHash, key::TweakedPublicKey};

    use super::*;

    fn scripts() -> Vec<ScriptBuf> {
        let xonly = XOnlyPublicKey::from_slice(
            &bitcoin::hex::FromHex::from_hex(
                "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
            )
            .map(|v: Vec<u8>| v)
            .unwrap(),
        )
        .unwrap();
        vec![
            ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array([1; 20])),
            ScriptBuf::new_p2sh(&ScriptHash::from_byte_array([2; 20])),
            ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([3; 20])),
            ScriptBuf::new_p2wsh(&WScriptHash::from_byte_array([4; 32])),
            ScriptBuf::new_p2tr_tweaked(TweakedPublicKey::dangerous_assume_tweaked(xonly)),
        ]
    }

    #[test]
    fn every_script_round_trips_on_every_chain_and_network() {
        for params in ChainParams::all() {
            for script in scripts() {
                let address = address_from_script(&script, params.chain, params.network).unwrap();
                let back = parse_payout_address(&address, params.chain, params.network)
                    .unwrap_or_else(|e| panic!("{address} on {}: {e}", params.describe()));
                assert_eq!(back, script, "{address}");
                if address.contains('1') && !script.is_p2pkh() && !script.is_p2sh() {
                    let upper = address.to_uppercase();
                    assert_eq!(
                        parse_payout_address(&upper, params.chain, params.network).unwrap(),
                        script
                    );
                }
            }
        }
    }

    #[test]
    fn bitcoin_addresses_match_rust_bitcoin() {
        for (network, kind) in [
            (Network::Main, bitcoin::Network::Bitcoin),
            (Network::Test, bitcoin::Network::Testnet),
            (Network::Regtest, bitcoin::Network::Regtest),
        ] {
            for script in scripts() {
                let theirs = bitcoin::Address::from_script(&script, kind)
                    .unwrap()
                    .to_string();
                assert_eq!(
                    address_from_script(&script, Chain::Btc, network).unwrap(),
                    theirs
                );
            }
        }
    }

    #[test]
    fn known_addresses_parse() {
        // BIP-173 / BIP-350 examples and well-known mainnet addresses.
        let cases = [
            (
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                Chain::Btc,
                Network::Main,
                "0014751e76e8199196d454941c45d1b3a323f1433bd6",
            ),
            (
                "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                Chain::Btc,
                Network::Main,
                "76a91477bff20c60e522dfaa3350c39b030a5d004e839a88ac",
            ),
            (
                "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
                Chain::Btc,
                Network::Test,
                "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
            ),
        ];
        for (address, chain, network, hex) in cases {
            let script = parse_payout_address(address, chain, network).unwrap();
            assert_eq!(script.to_hex_string(), hex, "{address}");
        }
    }

    #[test]
    fn addresses_of_another_chain_or_network_are_refused_by_name() {
        let escrow_like = ScriptBuf::new_p2wsh(&WScriptHash::from_byte_array([4; 32]));
        let btc_test = address_from_script(&escrow_like, Chain::Btc, Network::Test).unwrap();
        let err = parse_payout_address(&btc_test, Chain::Ltc, Network::Regtest)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "is a Bitcoin testnet/signet address, but this trade is on Litecoin regtest"
            ),
            "{err}"
        );
        let ltc_main = address_from_script(&escrow_like, Chain::Ltc, Network::Main).unwrap();
        let err = parse_payout_address(&ltc_main, Chain::Btc, Network::Main)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a Litecoin mainnet address, but this trade is on Bitcoin mainnet"),
            "{err}"
        );
        let p2pkh = ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array([1; 20]));
        let btc_main = address_from_script(&p2pkh, Chain::Btc, Network::Main).unwrap();
        let err = parse_payout_address(&btc_main, Chain::Ltc, Network::Main)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a Bitcoin mainnet address"), "{err}");
        // Test-network base58 versions are shared by Bitcoin and Litecoin; only mainnet tells them apart.
        let test = address_from_script(&p2pkh, Chain::Ltc, Network::Regtest).unwrap();
        let err = parse_payout_address(&test, Chain::Ltc, Network::Main)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Bitcoin testnet/signet/regtest or Litecoin testnet/signet/regtest"),
            "{err}"
        );
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        let good = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
        let bad_checksum = good.replace("f3t4", "f3t5");
        for (address, needle) in [
            ("", "empty"),
            ("   ", "empty"),
            (bad_checksum.as_str(), "not a valid address"),
            ("hello world", "base58"),
            ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "base58"),
            (
                "BC1QW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                "not a valid address",
            ),
        ] {
            let err = parse_payout_address(address, Chain::Btc, Network::Main)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{address}: {err}");
        }
        // A future witness version (v2) and a v1 program that is not 32 bytes are refused.
        let hrp = Hrp::parse("bc").unwrap();
        let v2 = bech32::segwit::encode(hrp, Fe32::Z, &[0; 32]).unwrap();
        let err = parse_payout_address(&v2, Chain::Btc, Network::Main)
            .unwrap_err()
            .to_string();
        assert!(err.contains("witness version 2"), "{err}");
        let v1_short = bech32::segwit::encode(hrp, Fe32::P, &[0; 20]).unwrap();
        let err = parse_payout_address(&v1_short, Chain::Btc, Network::Main)
            .unwrap_err()
            .to_string();
        assert!(err.contains("witness version 1"), "{err}");
        // An output script with no address form.
        let err = address_from_script(
            &ScriptBuf::new_op_return([1u8; 4]),
            Chain::Btc,
            Network::Main,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no address form"), "{err}");
    }
}
