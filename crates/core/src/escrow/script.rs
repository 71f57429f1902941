//! The escrow's 2-of-3 witness script. Keys are sorted (BIP-67, as `sortedmulti()`) so buyer, seller and
//! arbitrator compute byte-identical scripts from the same three keys whatever order they learn them in.

use bitcoin::{
    Script, ScriptBuf, opcodes::all::OP_CHECKMULTISIG, script::Builder, secp256k1::PublicKey,
};

use super::{Chain, EscrowError, Network, address};

/// Signatures a spend needs.
pub const REQUIRED_SIGNATURES: usize = 2;

/// `OP_2 <k1> <k2> <k3> OP_3 OP_CHECKMULTISIG` over the three sorted compressed keys, paid to as P2WSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowScript {
    keys: [PublicKey; 3],
    witness_script: ScriptBuf,
}

impl EscrowScript {
    /// Refuses a key given for two roles: two keys would then be one party's, and that party alone
    /// could release the escrow.
    pub fn new(
        buyer: PublicKey,
        seller: PublicKey,
        arbitrator: PublicKey,
    ) -> Result<Self, EscrowError> {
        let roles = [
            ("buyer", buyer),
            ("seller", seller),
            ("arbitrator", arbitrator),
        ];
        for (i, (first, a)) in roles.iter().enumerate() {
            if let Some((second, _)) = roles[i + 1..].iter().find(|(_, b)| b == a) {
                return Err(EscrowError::DuplicateKey { first, second });
            }
        }
        let mut keys = [buyer, seller, arbitrator];
        // BIP-67: lexicographic order of the 33-byte compressed encodings.
        keys.sort_by_key(PublicKey::serialize);
        let witness_script = keys
            .iter()
            .fold(
                Builder::new().push_int(REQUIRED_SIGNATURES as i64),
                |b, k| b.push_key(&bitcoin::PublicKey::new(*k)),
            )
            .push_int(3)
            .push_opcode(OP_CHECKMULTISIG)
            .into_script();
        Ok(Self {
            keys,
            witness_script,
        })
    }

    /// Parses a 33-byte compressed public key a counterparty sent.
    pub fn parse_key(bytes: &[u8]) -> Result<PublicKey, EscrowError> {
        if bytes.len() != 33 {
            return Err(EscrowError::BadKey(format!(
                "{} bytes; a compressed key has 33",
                bytes.len()
            )));
        }
        PublicKey::from_slice(bytes).map_err(|e| EscrowError::BadKey(e.to_string()))
    }

    /// The three keys in script order.
    pub fn keys(&self) -> &[PublicKey; 3] {
        &self.keys
    }

    /// Where `key` sits in the script, which is the order its signature must take in the witness.
    pub fn position(&self, key: &PublicKey) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    pub fn witness_script(&self) -> &Script {
        &self.witness_script
    }

    /// `OP_0 <sha256(witness script)>`.
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2wsh(&self.witness_script.wscript_hash())
    }

    /// The escrow's bech32 address on `chain`/`network` (`bc1q…`, `ltc1q…`, `rltc1q…`).
    pub fn address(&self, chain: Chain, network: Network) -> Result<String, EscrowError> {
        address::address_from_script(&self.script_pubkey(), chain, network)
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::{hashes::Hash, secp256k1::Secp256k1};

    use super::*;

    /// The public keys of the secret keys 1, 2 and 3.
    pub(crate) fn small_keys() -> [PublicKey; 3] {
        let secp = Secp256k1::new();
        [1u8, 2, 3].map(|n| {
            let mut sk = [0u8; 32];
            sk[31] = n;
            PublicKey::from_secret_key(
                &secp,
                &bitcoin::secp256k1::SecretKey::from_slice(&sk).unwrap(),
            )
        })
    }

    const G1: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    const G2: &str = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";
    const G3: &str = "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";

    #[test]
    fn script_is_sorted_multisig_whatever_the_role_order() {
        let [a, b, c] = small_keys();
        let expected = format!("5221{G1}21{G2}21{G3}53ae");
        for (x, y, z) in [
            (a, b, c),
            (a, c, b),
            (b, a, c),
            (b, c, a),
            (c, a, b),
            (c, b, a),
        ] {
            let escrow = EscrowScript::new(x, y, z).unwrap();
            assert_eq!(escrow.witness_script().to_hex_string(), expected);
            assert_eq!(escrow.keys(), &[a, b, c]);
        }
        let escrow = EscrowScript::new(c, a, b).unwrap();
        assert_eq!(escrow.position(&c), Some(2));
        let spk = escrow.script_pubkey();
        assert!(spk.is_p2wsh());
        assert_eq!(
            &spk.as_bytes()[2..],
            escrow.witness_script().wscript_hash().as_byte_array()
        );
    }

    #[test]
    fn address_matches_rust_bitcoin_where_it_knows_the_network() {
        let [a, b, c] = small_keys();
        let escrow = EscrowScript::new(a, b, c).unwrap();
        for (network, kind) in [
            (Network::Main, bitcoin::Network::Bitcoin),
            (Network::Test, bitcoin::Network::Testnet),
            (Network::Signet, bitcoin::Network::Signet),
            (Network::Regtest, bitcoin::Network::Regtest),
        ] {
            let theirs = bitcoin::Address::p2wsh(escrow.witness_script(), kind).to_string();
            assert_eq!(escrow.address(Chain::Btc, network).unwrap(), theirs);
        }
        let ltc = escrow.address(Chain::Ltc, Network::Regtest).unwrap();
        assert!(ltc.starts_with("rltc1q") && ltc.len() == 64, "{ltc}");
        assert!(
            escrow
                .address(Chain::Ltc, Network::Main)
                .unwrap()
                .starts_with("ltc1q")
        );
    }

    #[test]
    fn a_key_used_for_two_roles_is_refused() {
        let [a, b, _] = small_keys();
        let err = EscrowScript::new(a, b, a).unwrap_err().to_string();
        assert!(err.contains("buyer") && err.contains("arbitrator"), "{err}");
        let err = EscrowScript::new(a, b, b).unwrap_err().to_string();
        assert!(
            err.contains("seller") && err.contains("arbitrator"),
            "{err}"
        );
    }

    #[test]
    fn counterparty_keys_are_parsed_strictly() {
        let [a, ..] = small_keys();
        assert_eq!(EscrowScript::parse_key(&a.serialize()).unwrap(), a);
        let err = EscrowScript::parse_key(&a.serialize_uncompressed())
            .unwrap_err()
            .to_string();
        assert!(err.contains("65 bytes"), "{err}");
        let mut bad = a.serialize();
        bad[0] = 0x05;
        assert!(EscrowScript::parse_key(&bad).is_err());
    }
}
