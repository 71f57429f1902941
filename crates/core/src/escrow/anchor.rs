//! A release's fee reserve, its "anchor": a small output of the release paying the buyer's own per-trade
//! key (P2WPKH), carved from the buyer's payout. Only the buyer's node can spend it, in a child
//! transaction that pays the reserve, less the child's fee, on to the buyer's payout address:
//! - while the release sits unconfirmed at a fee the chain no longer mines, the child pays enough fee
//!   for the two together to reach the current rate (child pays for parent, CPFP);
//! - once the release confirmed, the child only forwards the reserve at the current rate.
//!
//! Bitcoin Core's replace-by-fee would need both signers again, and Litecoin Core refuses replacements;
//! the reserve needs no one. Carving it from the buyer's own payout means nobody pays for another's
//! bump, and the cap on a bump is the reserve itself: [`anchor_value`].

use bitcoin::{
    Amount, CompressedPublicKey, EcdsaSighashType, FeeRate, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxOut, Witness,
    absolute::LockTime,
    ecdsa,
    hashes::Hash,
    secp256k1::{Keypair, Message, PublicKey, Secp256k1},
    sighash::SighashCache,
    transaction::Version,
};

use super::{Chain, EscrowError, deposit};

/// The child's bytes outside the witness, but for its output script: version (4), input count (1), the
/// input's outpoint, empty script and sequence (41), output count (1), the output's amount and script
/// length (9), lock time (4).
const CHILD_BASE_BYTES: u64 = 4 + 1 + 41 + 1 + 9 + 4;
/// The child's witness in weight units: item count (1), the longest DER signature with its sighash
/// byte and length (74), the compressed key with its length (34).
const CHILD_WITNESS_WU: u64 = 1 + 74 + 34;
/// The longest payout script (P2WSH, P2TR): 34 bytes.
const LONGEST_PAYOUT_SCRIPT: u64 = 34;

/// The child's virtual size when it pays to a script of `script_len` bytes (an upper bound: signatures
/// may be a byte shorter).
pub fn child_vsize(script_len: usize) -> u64 {
    let base = CHILD_BASE_BYTES + script_len as u64;
    (4 * base + 2 + CHILD_WITNESS_WU).div_ceil(4)
}

/// The reserve a release sets aside on `chain`: the fee of the largest escrow spend and its child at
/// the chain's high fee rate (the same rate the minimum deposit is sized for), plus the dust limit of
/// the longest payout script, so the child can always lift a release to that rate and still pay out.
pub fn anchor_value(chain: Chain) -> Amount {
    let vsize = deposit::MAX_SPEND_VSIZE + child_vsize(LONGEST_PAYOUT_SCRIPT as usize);
    let fee = vsize * deposit::high_fee_rate_sat_vb(chain);
    let p2wsh = ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::all_zeros());
    Amount::from_sat(fee) + chain.dust_limit(&p2wsh)
}

/// The script of the reserve: P2WPKH of the buyer's per-trade escrow key.
pub fn anchor_script(buyer: &PublicKey) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&CompressedPublicKey(*buyer).wpubkey_hash())
}

/// The reserve in `parent`, when it has one for `buyer`: its index and value.
pub fn find_anchor(parent: &Transaction, buyer: &PublicKey) -> Option<(u32, Amount)> {
    let script = anchor_script(buyer);
    parent
        .output
        .iter()
        .enumerate()
        .find(|(_, o)| o.script_pubkey == script)
        .and_then(|(i, o)| Some((u32::try_from(i).ok()?, o.value)))
}

/// The child's fee: at `rate` for the child alone when `parent` is confirmed; otherwise what lifts the
/// two together to `rate`, given what the parent pays (`parent_fee`) — never less than the child alone
/// needs. Capped by the caller at what the reserve can give.
pub fn child_fee(
    rate: FeeRate,
    to: &ScriptBuf,
    parent: Option<(&Transaction, Amount)>,
) -> Result<Amount, EscrowError> {
    let own = child_vsize(to.len());
    let alone = rate.fee_vb(own).ok_or(EscrowError::AmountOverflow)?;
    let Some((parent, parent_fee)) = parent else {
        return Ok(alone);
    };
    let package = rate
        .fee_vb(parent.vsize() as u64 + own)
        .ok_or(EscrowError::AmountOverflow)?;
    Ok(package
        .checked_sub(parent_fee)
        .unwrap_or(Amount::ZERO)
        .max(alone))
}

/// The child spending the reserve of `parent` (`vout`, `value`) with `key`, paying `value - fee` to `to`
/// on `chain`. Refused when the fee would leave the output below the dust limit.
pub fn build_child(
    chain: Chain,
    parent: &Transaction,
    (vout, value): (u32, Amount),
    key: &Keypair,
    to: ScriptBuf,
    fee: Amount,
) -> Result<Transaction, EscrowError> {
    let dust = chain.dust_limit(&to);
    let paid = value
        .checked_sub(fee)
        .filter(|a| *a >= dust)
        .ok_or(EscrowError::FeeDoesNotFit {
            index: 0,
            amount: value.to_sat(),
            fee: fee.to_sat(),
            dust: dust.to_sat(),
        })?;
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(parent.compute_txid(), vout),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: paid,
            script_pubkey: to,
        }],
    };
    let public = key.public_key();
    let spent = anchor_script(&public);
    let sighash = SighashCache::new(&tx)
        .p2wpkh_signature_hash(0, &spent, value, EcdsaSighashType::All)
        .map_err(|e| EscrowError::Internal(e.to_string()))?;
    let message = Message::from_digest(sighash.to_byte_array());
    let signature = Secp256k1::signing_only().sign_ecdsa(&message, &key.secret_key());
    tx.input[0].witness = Witness::p2wpkh(&ecdsa::Signature::sighash_all(signature), &public);
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use bitcoin::secp256k1::SecretKey;

    use super::*;

    fn key(byte: u8) -> Keypair {
        Keypair::from_secret_key(
            &Secp256k1::new(),
            &SecretKey::from_slice(&[byte; 32]).unwrap(),
        )
    }

    fn parent_paying(script: ScriptBuf, value: u64) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn::default()],
            output: vec![
                TxOut {
                    value: Amount::from_sat(100_000_000),
                    script_pubkey: ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::all_zeros()),
                },
                TxOut {
                    value: Amount::from_sat(value),
                    script_pubkey: script,
                },
            ],
        }
    }

    #[test]
    fn the_reserve_pays_the_largest_spend_and_its_child_at_the_high_rate() {
        // 554 vB spend + 122 vB child, at 20 litoshi/vB and 100 sat/vB, plus P2WSH dust.
        assert_eq!(child_vsize(34), 122);
        assert_eq!(child_vsize(22), 110);
        let p2wsh = ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::all_zeros());
        // As docs/protocol.md says.
        assert_eq!(anchor_value(Chain::Ltc), Amount::from_sat(16_820));
        assert_eq!(anchor_value(Chain::Btc), Amount::from_sat(67_930));
        for (chain, rate) in [(Chain::Ltc, 20), (Chain::Btc, 100)] {
            assert_eq!(
                anchor_value(chain),
                Amount::from_sat((554 + 122) * rate) + chain.dust_limit(&p2wsh),
                "{chain:?}"
            );
        }
    }

    #[test]
    fn a_child_lifts_its_parent_to_the_rate_and_pays_the_rest_on() {
        let buyer = key(7);
        let parent = parent_paying(anchor_script(&buyer.public_key()), 20_000);
        assert_eq!(
            find_anchor(&parent, &buyer.public_key()),
            Some((1, Amount::from_sat(20_000)))
        );
        assert_eq!(find_anchor(&parent, &key(8).public_key()), None);

        let to = ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::all_zeros());
        let rate = FeeRate::from_sat_per_vb(10).unwrap();
        // Confirmed parent: the child alone at 10 sat/vB.
        assert_eq!(child_fee(rate, &to, None).unwrap(), Amount::from_sat(1_220));
        // Unconfirmed parent paying 100 sat: the pair at 10 sat/vB, less what the parent pays.
        let package = (parent.vsize() as u64 + 122) * 10;
        assert_eq!(
            child_fee(rate, &to, Some((&parent, Amount::from_sat(100)))).unwrap(),
            Amount::from_sat(package - 100)
        );
        // A parent that already pays more: the child still pays its own way.
        assert_eq!(
            child_fee(rate, &to, Some((&parent, Amount::from_sat(1_000_000)))).unwrap(),
            Amount::from_sat(1_220)
        );

        let fee = Amount::from_sat(3_000);
        let child = build_child(
            Chain::Ltc,
            &parent,
            (1, Amount::from_sat(20_000)),
            &buyer,
            to.clone(),
            fee,
        )
        .unwrap();
        assert_eq!(
            child.input[0].previous_output,
            OutPoint::new(parent.compute_txid(), 1)
        );
        assert_eq!(child.output[0].value, Amount::from_sat(17_000));
        assert_eq!(child.output[0].script_pubkey, to);
        // The witness is the buyer's signature over this very spend, and its key.
        let witness: Vec<&[u8]> = child.input[0].witness.iter().collect();
        assert_eq!(witness.len(), 2);
        assert_eq!(witness[1], buyer.public_key().serialize());
        let signature = ecdsa::Signature::from_slice(witness[0]).unwrap();
        let sighash = SighashCache::new(&child)
            .p2wpkh_signature_hash(
                0,
                &anchor_script(&buyer.public_key()),
                Amount::from_sat(20_000),
                EcdsaSighashType::All,
            )
            .unwrap();
        Secp256k1::verification_only()
            .verify_ecdsa(
                &Message::from_digest(sighash.to_byte_array()),
                &signature.signature,
                &buyer.public_key(),
            )
            .expect("the signature verifies");
        assert!(
            child.vsize() as u64 <= child_vsize(34),
            "the estimate is an upper bound"
        );

        // A fee that leaves dust is refused.
        let err = build_child(
            Chain::Ltc,
            &parent,
            (1, Amount::from_sat(20_000)),
            &buyer,
            to,
            Amount::from_sat(19_900),
        )
        .unwrap_err();
        assert!(matches!(err, EscrowError::FeeDoesNotFit { .. }), "{err}");
    }
}
