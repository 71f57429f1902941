//! The escrow's witness scripts. A trade locks its coins in two P2WSH outputs of the same shape, one per
//! funder (the seller's amount and deposit, the buyer's deposit), so every coin on the chain says whose it
//! was: a refund, a surplus or a late payment goes back to the party that sent it without anyone's word.
//!
//! Each script has three branches:
//!
//! ```text
//! OP_IF
//!     2 <sorted buyer, seller, arbitrator> 3 OP_CHECKMULTISIG            any two of the three, at once
//! OP_ELSE
//!     OP_IF                                                              (only with a backup arbitrator)
//!         <backup> OP_CSV OP_DROP
//!         2 <sorted buyer, seller, backup arbitrator> 3 OP_CHECKMULTISIG
//!     OP_ELSE
//!         <reclaim> OP_CSV OP_DROP <funder> OP_CHECKSIG                  the funder alone, much later
//!     OP_ENDIF
//! OP_ENDIF
//! ```
//!
//! The timelocks are relative (BIP-68/112, in blocks from the output's confirmation) and fixed per chain
//! and network ([`Timelocks::of`]) so both parties build byte-identical scripts. Keys inside each multisig
//! are sorted (BIP-67) so the order in which a party learns them does not matter.

use bitcoin::{
    Script, ScriptBuf, Sequence,
    opcodes::all::{OP_CHECKMULTISIG, OP_CHECKSIG, OP_CSV, OP_DROP, OP_ELSE, OP_ENDIF, OP_IF},
    script::Builder,
    secp256k1::PublicKey,
};
use serde::{Deserialize, Serialize};

use super::{Chain, EscrowError, Network, Party, address};

/// Signatures a multisig branch needs.
pub const REQUIRED_SIGNATURES: usize = 2;

/// The relative timelocks of the fallback branches, in blocks after the escrow output confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timelocks {
    /// After this, the backup arbitrator's key replaces the first arbitrator's.
    pub backup: u16,
    /// After this, the funder alone takes its own coins back.
    pub reclaim: u16,
}

impl Timelocks {
    /// About 30 days for the backup arbitrator and 60 for the funder's reclaim on the real networks (long
    /// enough for fiat payments and a dispute); 20 and 40 blocks on regtest, where tests mine past them.
    pub fn of(chain: Chain, network: Network) -> Self {
        // Blocks per day: Bitcoin one per 10 minutes, Litecoin one per 2.5 minutes.
        let per_day: u16 = match chain {
            Chain::Btc => 144,
            Chain::Ltc => 576,
        };
        match network {
            Network::Regtest => Self {
                backup: 20,
                reclaim: 40,
            },
            Network::Main | Network::Test | Network::Signet => Self {
                backup: 30 * per_day,
                reclaim: 60 * per_day,
            },
        }
    }

    fn check(self) -> Result<(), EscrowError> {
        if self.backup == 0 || self.reclaim <= self.backup {
            return Err(EscrowError::BadTimelocks {
                backup: self.backup,
                reclaim: self.reclaim,
            });
        }
        Ok(())
    }
}

/// Who holds a key to a trade's escrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowParties {
    pub buyer: PublicKey,
    pub seller: PublicKey,
    pub arbitrator: PublicKey,
    /// The offer's second arbitrator, who can stand in for the first after [`Timelocks::backup`].
    pub backup: Option<PublicKey>,
}

impl EscrowParties {
    /// Refuses a key given for two roles: two keys would then be one party's, and that party alone could
    /// move the escrow.
    fn check(&self) -> Result<(), EscrowError> {
        let mut roles = vec![
            ("buyer", self.buyer),
            ("seller", self.seller),
            ("arbitrator", self.arbitrator),
        ];
        if let Some(backup) = self.backup {
            roles.push(("backup arbitrator", backup));
        }
        for (i, (first, a)) in roles.iter().enumerate() {
            if let Some((second, _)) = roles[i + 1..].iter().find(|(_, b)| b == a) {
                return Err(EscrowError::DuplicateKey { first, second });
            }
        }
        Ok(())
    }

    pub fn funder_key(&self, funder: Party) -> PublicKey {
        match funder {
            Party::Buyer => self.buyer,
            Party::Seller => self.seller,
        }
    }
}

/// Which branch of the script a spend takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendPath {
    /// Two of buyer, seller and arbitrator: release, refund, resolution. No lock.
    Multisig,
    /// Two of buyer, seller and backup arbitrator, once [`Timelocks::backup`] blocks have passed.
    Backup,
    /// The funder alone, once [`Timelocks::reclaim`] blocks have passed.
    Reclaim,
}

/// `[2, k1, k2, k3, 3, CHECKMULTISIG]` over the sorted keys.
fn multisig(builder: Builder, keys: &[PublicKey; 3]) -> Builder {
    keys.iter()
        .fold(builder.push_int(REQUIRED_SIGNATURES as i64), |b, k| {
            b.push_key(&bitcoin::PublicKey::new(*k))
        })
        .push_int(3)
        .push_opcode(OP_CHECKMULTISIG)
}

fn sorted(mut keys: [PublicKey; 3]) -> [PublicKey; 3] {
    // BIP-67: lexicographic order of the 33-byte compressed encodings.
    keys.sort_by_key(PublicKey::serialize);
    keys
}

/// One escrow output's script: the three branches over the trade's keys, for one funder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowScript {
    parties: EscrowParties,
    funder: Party,
    timelocks: Timelocks,
    keys: [PublicKey; 3],
    backup_keys: Option<[PublicKey; 3]>,
    witness_script: ScriptBuf,
}

impl EscrowScript {
    pub fn new(
        parties: EscrowParties,
        funder: Party,
        timelocks: Timelocks,
    ) -> Result<Self, EscrowError> {
        parties.check()?;
        timelocks.check()?;
        let keys = sorted([parties.buyer, parties.seller, parties.arbitrator]);
        let backup_keys = parties
            .backup
            .map(|backup| sorted([parties.buyer, parties.seller, backup]));
        let reclaim = |b: Builder| {
            b.push_int(i64::from(timelocks.reclaim))
                .push_opcode(OP_CSV)
                .push_opcode(OP_DROP)
                .push_key(&bitcoin::PublicKey::new(parties.funder_key(funder)))
                .push_opcode(OP_CHECKSIG)
        };
        let mut b = multisig(Builder::new().push_opcode(OP_IF), &keys).push_opcode(OP_ELSE);
        b = match &backup_keys {
            Some(backup_keys) => {
                let inner = b
                    .push_opcode(OP_IF)
                    .push_int(i64::from(timelocks.backup))
                    .push_opcode(OP_CSV)
                    .push_opcode(OP_DROP);
                reclaim(multisig(inner, backup_keys).push_opcode(OP_ELSE)).push_opcode(OP_ENDIF)
            }
            None => reclaim(b),
        };
        let witness_script = b.push_opcode(OP_ENDIF).into_script();
        Ok(Self {
            parties,
            funder,
            timelocks,
            keys,
            backup_keys,
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

    pub fn funder(&self) -> Party {
        self.funder
    }

    pub fn parties(&self) -> &EscrowParties {
        &self.parties
    }

    pub fn timelocks(&self) -> Timelocks {
        self.timelocks
    }

    /// The first branch's three keys in script order.
    pub fn keys(&self) -> &[PublicKey; 3] {
        &self.keys
    }

    /// The keys that sign on `path`, in the order their signatures take in the witness, and how many
    /// signatures it needs; `None` if the script has no such branch (no backup arbitrator).
    pub fn signers(&self, path: SpendPath) -> Option<(Vec<PublicKey>, usize)> {
        match path {
            SpendPath::Multisig => Some((self.keys.to_vec(), REQUIRED_SIGNATURES)),
            SpendPath::Backup => self.backup_keys.map(|k| (k.to_vec(), REQUIRED_SIGNATURES)),
            SpendPath::Reclaim => Some((vec![self.parties.funder_key(self.funder)], 1)),
        }
    }

    /// Every key that can sign for this output on some branch.
    pub fn can_sign(&self, key: &PublicKey) -> bool {
        [SpendPath::Multisig, SpendPath::Backup, SpendPath::Reclaim]
            .into_iter()
            .filter_map(|p| self.signers(p))
            .any(|(keys, _)| keys.contains(key))
    }

    /// The `nSequence` an input needs on `path`: opt-in replacement and no lock on the first branch, the
    /// branch's relative lock (which also signals replacement) on the others.
    pub fn sequence(&self, path: SpendPath) -> Sequence {
        match path {
            SpendPath::Multisig => Sequence::ENABLE_RBF_NO_LOCKTIME,
            SpendPath::Backup => Sequence::from_height(self.timelocks.backup),
            SpendPath::Reclaim => Sequence::from_height(self.timelocks.reclaim),
        }
    }

    /// The witness stack above the signatures that selects `path`: `OP_IF` pops the top item.
    pub(super) fn branch_selector(&self, path: SpendPath) -> Vec<Vec<u8>> {
        match (path, self.backup_keys.is_some()) {
            (SpendPath::Multisig, _) => vec![vec![1]],
            // Inner IF true (deeper), outer IF false (top).
            (SpendPath::Backup, _) => vec![vec![1], vec![]],
            (SpendPath::Reclaim, true) => vec![vec![], vec![]],
            (SpendPath::Reclaim, false) => vec![vec![]],
        }
    }

    /// Weight of a fully signed input's witness on `path`, counting the longest DER signatures.
    pub(super) fn witness_weight(&self, path: SpendPath) -> u64 {
        let (_, required) = self
            .signers(path)
            .unwrap_or((Vec::new(), REQUIRED_SIGNATURES));
        let multisig_dummy = u64::from(path != SpendPath::Reclaim);
        let selectors = self.branch_selector(path);
        let items = multisig_dummy + required as u64 + selectors.len() as u64 + 1;
        let script = self.witness_script.len() as u64;
        let selector_bytes: u64 = selectors.iter().map(|s| 1 + s.len() as u64).sum();
        super::spend::varint_len(items)
            + multisig_dummy
            + required as u64 * (1 + 73)
            + selector_bytes
            + super::spend::varint_len(script)
            + script
    }

    pub fn witness_script(&self) -> &Script {
        &self.witness_script
    }

    /// `OP_0 <sha256(witness script)>`.
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2wsh(&self.witness_script.wscript_hash())
    }

    /// The output's bech32 address on `chain`/`network` (`bc1q…`, `ltc1q…`, `rltc1q…`).
    pub fn address(&self, chain: Chain, network: Network) -> Result<String, EscrowError> {
        address::address_from_script(&self.script_pubkey(), chain, network)
    }
}

/// A trade's two escrow outputs: the seller's (amount and deposit) and the buyer's (deposit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeEscrow {
    seller: EscrowScript,
    buyer: EscrowScript,
}

impl TradeEscrow {
    pub fn new(parties: EscrowParties, timelocks: Timelocks) -> Result<Self, EscrowError> {
        Ok(Self {
            seller: EscrowScript::new(parties, Party::Seller, timelocks)?,
            buyer: EscrowScript::new(parties, Party::Buyer, timelocks)?,
        })
    }

    pub fn of(&self, funder: Party) -> &EscrowScript {
        match funder {
            Party::Buyer => &self.buyer,
            Party::Seller => &self.seller,
        }
    }

    pub fn parties(&self) -> &EscrowParties {
        self.seller.parties()
    }

    /// Which funder's output pays to `script_pubkey`, if either.
    pub fn funder_of(&self, script_pubkey: &Script) -> Option<Party> {
        Party::BOTH
            .into_iter()
            .find(|f| self.of(*f).script_pubkey().as_script() == script_pubkey)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use bitcoin::{hashes::Hash, secp256k1::Secp256k1};

    use super::*;

    /// The public keys of the secret keys 1 to 4.
    pub(crate) fn small_keys() -> [PublicKey; 4] {
        let secp = Secp256k1::new();
        [1u8, 2, 3, 4].map(|n| {
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
    const G4: &str = "02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13";
    const LOCKS: Timelocks = Timelocks {
        backup: 20,
        reclaim: 40,
    };

    fn parties(order: [usize; 3], backup: Option<usize>) -> EscrowParties {
        let k = small_keys();
        EscrowParties {
            buyer: k[order[0]],
            seller: k[order[1]],
            arbitrator: k[order[2]],
            backup: backup.map(|i| k[i]),
        }
    }

    #[test]
    fn the_script_is_the_documented_one_whatever_the_role_order() {
        // Buyer = key 1, seller = key 2, arbitrator = key 3, backup = key 4.
        {
            let order = [0, 1, 2];
            let escrow = EscrowScript::new(parties(order, Some(3)), Party::Seller, LOCKS).unwrap();
            let expected = [
                "63",                       // OP_IF
                "5221{G1}21{G2}21{G3}53ae", // 2-of-3 sorted
                "67",                       // OP_ELSE
                "63",                       // OP_IF
                "0114b275",                 // <20> CSV DROP
                "5221{G1}21{G2}21{G4}53ae", // 2-of-3 with the backup arbitrator
                "67",                       // OP_ELSE
                "0128b275",                 // <40> CSV DROP
                "21{G2}ac",                 // <seller> CHECKSIG
                "68",                       // OP_ENDIF
                "68",                       // OP_ENDIF
            ]
            .concat();
            let expected = expected
                .replace("{G1}", G1)
                .replace("{G2}", G2)
                .replace("{G3}", G3)
                .replace("{G4}", G4);
            assert_eq!(escrow.witness_script().to_hex_string(), expected);
        }
        let single = EscrowScript::new(parties([0, 1, 2], None), Party::Buyer, LOCKS).unwrap();
        assert_eq!(
            single.witness_script().to_hex_string(),
            format!("635221{G1}21{G2}21{G3}53ae670128b27521{G1}ac68")
        );
        assert_eq!(single.signers(SpendPath::Backup), None);
        let spk = single.script_pubkey();
        assert!(spk.is_p2wsh());
        assert_eq!(
            &spk.as_bytes()[2..],
            single.witness_script().wscript_hash().as_byte_array()
        );
    }

    #[test]
    fn each_funder_has_its_own_output() {
        let escrow = TradeEscrow::new(parties([0, 1, 2], Some(3)), LOCKS).unwrap();
        let (seller, buyer) = (escrow.of(Party::Seller), escrow.of(Party::Buyer));
        assert_ne!(seller.script_pubkey(), buyer.script_pubkey());
        assert_eq!(
            escrow.funder_of(&seller.script_pubkey()),
            Some(Party::Seller)
        );
        assert_eq!(escrow.funder_of(&buyer.script_pubkey()), Some(Party::Buyer));
        assert_eq!(escrow.funder_of(&ScriptBuf::new()), None);
        let k = small_keys();
        assert_eq!(
            seller.signers(SpendPath::Reclaim),
            Some((vec![k[1]], 1)),
            "the seller alone reclaims its output"
        );
        assert!(!buyer.signers(SpendPath::Reclaim).unwrap().0.contains(&k[1]));
        assert!(seller.can_sign(&k[3]) && !seller.can_sign(&small_keys_extra()));
    }

    fn small_keys_extra() -> PublicKey {
        let secp = Secp256k1::new();
        let mut sk = [0u8; 32];
        sk[31] = 9;
        PublicKey::from_secret_key(
            &secp,
            &bitcoin::secp256k1::SecretKey::from_slice(&sk).unwrap(),
        )
    }

    #[test]
    fn addresses_match_rust_bitcoin_where_it_knows_the_network() {
        let escrow = EscrowScript::new(parties([0, 1, 2], None), Party::Seller, LOCKS).unwrap();
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
    }

    #[test]
    fn a_key_used_for_two_roles_is_refused() {
        let err = EscrowScript::new(parties([0, 1, 0], None), Party::Buyer, LOCKS)
            .unwrap_err()
            .to_string();
        assert!(err.contains("buyer") && err.contains("arbitrator"), "{err}");
        let err = EscrowScript::new(parties([0, 1, 2], Some(1)), Party::Buyer, LOCKS)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("seller") && err.contains("backup arbitrator"),
            "{err}"
        );
        let err = EscrowScript::new(parties([0, 1, 2], Some(2)), Party::Buyer, LOCKS)
            .unwrap_err()
            .to_string();
        assert!(err.contains("arbitrator and the backup"), "{err}");
    }

    #[test]
    fn timelocks_are_ordered_and_fit_a_relative_lock() {
        for chain in Chain::ALL {
            for network in Network::ALL {
                let t = Timelocks::of(chain, network);
                t.check().unwrap();
                assert!(t.reclaim >= 2 * t.backup, "{chain} {network}: {t:?}");
            }
        }
        // 30 days of Litecoin blocks.
        assert_eq!(Timelocks::of(Chain::Ltc, Network::Main).backup, 17_280);
        let bad = Timelocks {
            backup: 40,
            reclaim: 40,
        };
        assert!(EscrowScript::new(parties([0, 1, 2], None), Party::Buyer, bad).is_err());
        let escrow = EscrowScript::new(parties([0, 1, 2], Some(3)), Party::Buyer, LOCKS).unwrap();
        assert_eq!(
            escrow.sequence(SpendPath::Multisig),
            Sequence::ENABLE_RBF_NO_LOCKTIME
        );
        assert_eq!(
            escrow.sequence(SpendPath::Backup),
            Sequence::from_height(20)
        );
        assert_eq!(
            escrow.sequence(SpendPath::Reclaim),
            Sequence::from_height(40)
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
