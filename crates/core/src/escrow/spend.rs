//! Release, refund and return transactions as PSBTs (BIP-174): one side builds the PSBT from the agreed
//! [`SpendPlan`], each signing party runs [`check_psbt`] on what it received before [`sign_psbt`], and
//! whoever holds the signatures a branch needs [`combine_psbts`], [`finalize_psbt`]s and broadcasts.
//!
//! A plan's outputs share out exactly what its inputs hold; the network fee comes out of one named output
//! (`fee_payer`), so every other output pays exactly its agreed amount and a counterparty can raise the fee
//! only at the fee payer's expense, and never above the limit the checking party accepts. Each input names
//! the funder whose escrow output it spends, so the script it is checked and signed against is never the
//! counterparty's word.

use bitcoin::{
    Amount, EcdsaSighashType, FeeRate, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Witness,
    absolute::LockTime,
    ecdsa,
    hashes::Hash,
    psbt::{Input, Psbt},
    secp256k1::{Keypair, Message, PublicKey, Secp256k1, Verification},
    sighash::SighashCache,
    transaction::Version,
};

use super::{Chain, EscrowError, EscrowScript, Party, SpendPath, TradeEscrow};

/// Largest PSBT accepted from a counterparty, checked before decoding.
pub const MAX_PSBT_BYTES: usize = 64 * 1024;
/// Outpoint, empty script_sig length, sequence.
const INPUT_BASE_BYTES: u64 = 32 + 4 + 1 + 4;

/// One escrow output being spent: where it is, what it holds and whose coins it holds (from the chain
/// and the script it pays to, never from the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowInput {
    pub outpoint: OutPoint,
    pub value: Amount,
    pub funder: Party,
}

/// One output of a spend: a payout, or a deposit going back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub script_pubkey: ScriptBuf,
    pub amount: Amount,
}

/// What the parties agreed the escrow pays out. The outputs' amounts add up to the inputs' value; the
/// network fee is taken from `outputs[fee_payer]`. Outputs appear in the transaction in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendPlan {
    /// Decides the dust limit outputs must clear.
    pub chain: Chain,
    pub inputs: Vec<EscrowInput>,
    pub outputs: Vec<Payout>,
    pub fee_payer: usize,
    /// The script branch every input takes.
    pub path: SpendPath,
}

/// What [`check_psbt`] found acceptable: the fee the PSBT pays and the size it was judged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedSpend {
    pub fee: Amount,
    pub vsize: u64,
}

impl SpendPlan {
    /// Checks the plan itself and returns what its inputs hold.
    fn validate(&self, escrow: &TradeEscrow) -> Result<Amount, EscrowError> {
        if self.inputs.is_empty() {
            return Err(EscrowError::Empty("inputs"));
        }
        if self.outputs.is_empty() {
            return Err(EscrowError::Empty("outputs"));
        }
        if self.fee_payer >= self.outputs.len() {
            return Err(EscrowError::FeePayerOutOfRange {
                index: self.fee_payer,
                outputs: self.outputs.len(),
            });
        }
        for (i, input) in self.inputs.iter().enumerate() {
            if self.inputs[..i]
                .iter()
                .any(|o| o.outpoint == input.outpoint)
            {
                return Err(EscrowError::DuplicateInput(input.outpoint));
            }
            if escrow.of(input.funder).signers(self.path).is_none() {
                return Err(EscrowError::NoSuchBranch(self.path));
            }
        }
        if self.path == SpendPath::Reclaim
            && self
                .inputs
                .iter()
                .any(|i| i.funder != self.inputs[0].funder)
        {
            return Err(EscrowError::MixedReclaim);
        }
        for (index, out) in self.outputs.iter().enumerate() {
            let dust = self.chain.dust_limit(&out.script_pubkey);
            if out.amount < dust {
                return Err(EscrowError::Dust {
                    index,
                    amount: out.amount.to_sat(),
                    dust: dust.to_sat(),
                });
            }
        }
        let inputs = sum(self.inputs.iter().map(|i| i.value))?;
        let outputs = sum(self.outputs.iter().map(|o| o.amount))?;
        if inputs != outputs {
            return Err(EscrowError::SharesDoNotAddUp {
                inputs: inputs.to_sat(),
                outputs: outputs.to_sat(),
            });
        }
        Ok(inputs)
    }

    /// Virtual size of the fully signed spend: an upper bound, exact but for signatures shorter than the
    /// longest DER encoding (at most 1 vB per signature less).
    pub fn vsize(&self, escrow: &TradeEscrow) -> u64 {
        let (mut outputs, mut output_bytes) = (0u64, 0u64);
        for out in &self.outputs {
            outputs += 1;
            let len = out.script_pubkey.len() as u64;
            output_bytes += 8 + varint_len(len) + len;
        }
        let inputs = self.inputs.len() as u64;
        // version + lock time, input and output counts, inputs, outputs.
        let base = 4
            + 4
            + varint_len(inputs)
            + inputs * INPUT_BASE_BYTES
            + varint_len(outputs)
            + output_bytes;
        let witness: u64 = self
            .inputs
            .iter()
            .map(|i| escrow.of(i.funder).witness_weight(self.path))
            .sum();
        // Segwit marker and flag, then each input's witness.
        (base * 4 + 2 + witness).div_ceil(4)
    }

    /// The fee this plan pays at `rate`.
    pub fn fee_at(&self, escrow: &TradeEscrow, rate: FeeRate) -> Result<Amount, EscrowError> {
        rate.fee_vb(self.vsize(escrow))
            .ok_or(EscrowError::AmountOverflow)
    }
}

fn sum(amounts: impl IntoIterator<Item = Amount>) -> Result<Amount, EscrowError> {
    amounts
        .into_iter()
        .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
        .ok_or(EscrowError::AmountOverflow)
}

pub(super) fn varint_len(n: u64) -> u64 {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Builds the unsigned PSBT of `plan`, paying `fee_rate` on the estimated size from the fee payer's share.
pub fn build_spend(
    escrow: &TradeEscrow,
    plan: &SpendPlan,
    fee_rate: FeeRate,
) -> Result<Psbt, EscrowError> {
    plan.validate(escrow)?;
    let fee = plan.fee_at(escrow, fee_rate)?;
    let payer = &plan.outputs[plan.fee_payer];
    let dust = plan.chain.dust_limit(&payer.script_pubkey);
    let payer_amount =
        payer
            .amount
            .checked_sub(fee)
            .filter(|a| *a >= dust)
            .ok_or(EscrowError::FeeDoesNotFit {
                index: plan.fee_payer,
                amount: payer.amount.to_sat(),
                fee: fee.to_sat(),
                dust: dust.to_sat(),
            })?;
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: plan
            .inputs
            .iter()
            .map(|i| TxIn {
                previous_output: i.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: escrow.of(i.funder).sequence(plan.path),
                witness: Witness::new(),
            })
            .collect(),
        output: plan
            .outputs
            .iter()
            .enumerate()
            .map(|(i, o)| TxOut {
                value: if i == plan.fee_payer {
                    payer_amount
                } else {
                    o.amount
                },
                script_pubkey: o.script_pubkey.clone(),
            })
            .collect(),
    };
    let mut psbt = Psbt::from_unsigned_tx(tx).map_err(|e| EscrowError::Internal(e.to_string()))?;
    for (input, planned) in psbt.inputs.iter_mut().zip(&plan.inputs) {
        let script = escrow.of(planned.funder);
        input.witness_utxo = Some(TxOut {
            value: planned.value,
            script_pubkey: script.script_pubkey(),
        });
        input.witness_script = Some(script.witness_script().to_owned());
        input.sighash_type = Some(EcdsaSighashType::All.into());
    }
    Ok(psbt)
}

/// What a party runs on a PSBT the counterparty built, before signing it: the inputs are exactly the
/// plan's escrow outputs (with their scripts and values), each on the plan's branch (its `nSequence`),
/// the outputs exactly the plan's scripts and amounts in the plan's order, only the fee payer's output is
/// lowered, by the fee, and the fee is not above `max_fee_rate` on the estimated size. No absolute lock
/// time, SIGHASH_ALL only.
pub fn check_psbt(
    psbt: &Psbt,
    escrow: &TradeEscrow,
    plan: &SpendPlan,
    max_fee_rate: FeeRate,
) -> Result<CheckedSpend, EscrowError> {
    let total = plan.validate(escrow)?;
    let tx = &psbt.unsigned_tx;
    if tx.lock_time != LockTime::ZERO {
        return Err(EscrowError::NotFinal(format!(
            "it has lock time {}",
            tx.lock_time
        )));
    }
    if tx.version != Version::TWO {
        return Err(EscrowError::NotFinal(format!(
            "it is version {}; relative locks need version 2",
            tx.version
        )));
    }
    if psbt.inputs.len() != tx.input.len() || psbt.outputs.len() != tx.output.len() {
        return Err(EscrowError::MalformedPsbt(
            "its maps do not match the transaction's inputs and outputs".into(),
        ));
    }
    for (i, txin) in tx.input.iter().enumerate() {
        let Some(planned) = plan
            .inputs
            .iter()
            .find(|p| p.outpoint == txin.previous_output)
        else {
            return Err(EscrowError::ForeignInput(txin.previous_output));
        };
        if tx.input[..i]
            .iter()
            .any(|t| t.previous_output == txin.previous_output)
        {
            return Err(EscrowError::DuplicateInput(txin.previous_output));
        }
        let expected = escrow.of(planned.funder).sequence(plan.path);
        let plain_final = plan.path == SpendPath::Multisig && txin.sequence == Sequence::MAX;
        if txin.sequence != expected && !plain_final {
            return Err(EscrowError::NotFinal(format!(
                "input {i} has sequence {:#x}; the agreed spend uses {:#x}",
                txin.sequence.to_consensus_u32(),
                expected.to_consensus_u32()
            )));
        }
        check_input(
            &psbt.inputs[i],
            i,
            escrow,
            Some((planned.funder, planned.value)),
        )?;
    }
    if let Some(missing) = plan
        .inputs
        .iter()
        .find(|p| !tx.input.iter().any(|t| t.previous_output == p.outpoint))
    {
        return Err(EscrowError::MissingInput(missing.outpoint));
    }
    if tx.output.len() != plan.outputs.len() {
        return Err(EscrowError::OutputCount {
            expected: plan.outputs.len(),
            got: tx.output.len(),
        });
    }
    for (index, (got, expected)) in tx.output.iter().zip(&plan.outputs).enumerate() {
        if got.script_pubkey != expected.script_pubkey {
            return Err(EscrowError::OutputScript {
                index,
                expected: expected.script_pubkey.to_hex_string(),
                got: got.script_pubkey.to_hex_string(),
            });
        }
        let lowered_for_fee = index == plan.fee_payer && got.value < expected.amount;
        if got.value != expected.amount && !lowered_for_fee {
            return Err(EscrowError::OutputAmount {
                index,
                expected: expected.amount.to_sat(),
                got: got.value.to_sat(),
            });
        }
    }
    let paid = sum(tx.output.iter().map(|o| o.value))?;
    let fee = total.checked_sub(paid).ok_or(EscrowError::AmountOverflow)?;
    let vsize = plan.vsize(escrow);
    let limit = max_fee_rate
        .fee_vb(vsize)
        .ok_or(EscrowError::AmountOverflow)?;
    if fee > limit {
        return Err(EscrowError::FeeAboveLimit {
            fee: fee.to_sat(),
            limit: limit.to_sat(),
            vsize,
        });
    }
    let payer = &tx.output[plan.fee_payer];
    let dust = plan.chain.dust_limit(&payer.script_pubkey);
    if payer.value < dust {
        return Err(EscrowError::Dust {
            index: plan.fee_payer,
            amount: payer.value.to_sat(),
            dust: dust.to_sat(),
        });
    }
    Ok(CheckedSpend { fee, vsize })
}

/// The checks every step makes on an input's PSBT data; returns whose escrow output it spends, its script
/// and the value it holds.
fn check_input<'e>(
    input: &Input,
    index: usize,
    escrow: &'e TradeEscrow,
    expected: Option<(Party, Amount)>,
) -> Result<(&'e EscrowScript, Amount), EscrowError> {
    let bad = |reason: String| EscrowError::BadInput {
        input: index,
        reason,
    };
    let utxo = input.witness_utxo.as_ref().ok_or_else(|| {
        bad(
            "it carries no witness UTXO (the value and script of the escrow output it spends)"
                .into(),
        )
    })?;
    let Some(funder) = escrow.funder_of(&utxo.script_pubkey) else {
        return Err(bad(format!(
            "it spends script {}, not the escrow's",
            utxo.script_pubkey.to_hex_string()
        )));
    };
    let script = escrow.of(funder);
    if let Some((expected_funder, expected_value)) = expected {
        if expected_funder != funder {
            return Err(bad(format!(
                "it spends the {}'s escrow output, the chain says that output is the {}'s",
                funder.as_str(),
                expected_funder.as_str()
            )));
        }
        if expected_value != utxo.value {
            return Err(bad(format!(
                "it claims the escrow output holds {}, the chain says {}",
                utxo.value.to_sat(),
                expected_value.to_sat()
            )));
        }
    }
    if let Some(ws) = input.witness_script.as_ref()
        && ws.as_script() != script.witness_script()
    {
        return Err(bad("its witness script is not the escrow's".into()));
    }
    if let Some(ty) = input.sighash_type
        && ty.ecdsa_hash_ty() != Ok(EcdsaSighashType::All)
    {
        return Err(bad(format!(
            "it asks for sighash type {ty}; only ALL is signed"
        )));
    }
    Ok((script, utxo.value))
}

/// Each input's script and the BIP-143 message its signatures commit to (the same on every branch).
fn sighashes<'e>(
    psbt: &Psbt,
    escrow: &'e TradeEscrow,
) -> Result<Vec<(&'e EscrowScript, Message)>, EscrowError> {
    let mut cache = SighashCache::new(&psbt.unsigned_tx);
    psbt.inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let (script, value) = check_input(input, i, escrow, None)?;
            let hash = cache
                .p2wsh_signature_hash(i, script.witness_script(), value, EcdsaSighashType::All)
                .map_err(|e| EscrowError::BadInput {
                    input: i,
                    reason: e.to_string(),
                })?;
            Ok((script, Message::from_digest(hash.to_byte_array())))
        })
        .collect()
}

/// Adds this party's signature (SIGHASH_ALL) to every input whose script has its key on some branch. Run
/// [`check_psbt`] first on a PSBT someone else built: this function checks that the inputs spend the
/// escrow, not what the outputs pay.
pub fn sign_psbt(psbt: &mut Psbt, escrow: &TradeEscrow, key: &Keypair) -> Result<(), EscrowError> {
    let public = key.public_key();
    let secp = Secp256k1::signing_only();
    let messages = sighashes(psbt, escrow)?;
    let mut signed = 0;
    for (input, (script, message)) in psbt.inputs.iter_mut().zip(messages) {
        if !script.can_sign(&public) {
            continue;
        }
        let signature = secp.sign_ecdsa(&message, &key.secret_key());
        input.partial_sigs.insert(
            bitcoin::PublicKey::new(public),
            ecdsa::Signature::sighash_all(signature),
        );
        signed += 1;
    }
    if signed == 0 {
        return Err(EscrowError::NotAParty);
    }
    Ok(())
}

/// Merges the signatures of two copies of the same PSBT.
pub fn combine_psbts(mut mine: Psbt, theirs: Psbt) -> Result<Psbt, EscrowError> {
    if mine.unsigned_tx != theirs.unsigned_tx {
        return Err(EscrowError::DifferentTransactions);
    }
    mine.combine(theirs)
        .map_err(|e| EscrowError::MalformedPsbt(e.to_string()))?;
    Ok(mine)
}

/// Verifies the signatures and puts each input's witness together on the first branch its signatures and
/// `nSequence` satisfy: two of the three keys; two of the backup's keys once the backup lock is in the
/// sequence; the funder's key once the reclaim lock is. Extracts the transaction ready to broadcast.
pub fn finalize_psbt(mut psbt: Psbt, escrow: &TradeEscrow) -> Result<Transaction, EscrowError> {
    let secp = Secp256k1::verification_only();
    let messages = sighashes(&psbt, escrow)?;
    let sequences: Vec<Sequence> = psbt.unsigned_tx.input.iter().map(|i| i.sequence).collect();
    for (index, (input, (script, message))) in psbt.inputs.iter_mut().zip(messages).enumerate() {
        let mut best = 0;
        let mut chosen = None;
        for path in [SpendPath::Multisig, SpendPath::Backup, SpendPath::Reclaim] {
            let Some((keys, required)) = script.signers(path) else {
                continue;
            };
            if path != SpendPath::Multisig && sequences[index] != script.sequence(path) {
                continue;
            }
            let signatures = valid_signatures(&secp, input, index, &keys, &message)?;
            best = best.max(signatures.len());
            if signatures.len() >= required {
                chosen = Some((path, signatures[..required].to_vec()));
                break;
            }
        }
        let Some((path, signatures)) = chosen else {
            return Err(EscrowError::NotEnoughSignatures {
                input: index,
                have: best,
            });
        };
        let mut witness = Witness::new();
        if path != SpendPath::Reclaim {
            // CHECKMULTISIG pops one item too many.
            witness.push([]);
        }
        for signature in &signatures {
            witness.push(signature.to_vec());
        }
        for selector in script.branch_selector(path) {
            witness.push(selector);
        }
        witness.push(script.witness_script().as_bytes());
        input.final_script_witness = Some(witness);
        // BIP-174: the finaliser clears everything but the UTXO and the final fields.
        input.partial_sigs.clear();
        input.sighash_type = None;
        input.witness_script = None;
        input.bip32_derivation.clear();
    }
    psbt.extract_tx()
        .map_err(|e| EscrowError::MalformedPsbt(e.to_string()))
}

/// The input's signatures by `keys` that verify, in the order of `keys`. A signature that is present but
/// wrong is an error naming its key, not silently skipped: the peer sent something bad.
fn valid_signatures<C: Verification>(
    secp: &Secp256k1<C>,
    input: &Input,
    index: usize,
    keys: &[PublicKey],
    message: &Message,
) -> Result<Vec<ecdsa::Signature>, EscrowError> {
    let mut valid = Vec::new();
    for key in keys {
        let Some(signature) = input.partial_sigs.get(&bitcoin::PublicKey::new(*key)) else {
            continue;
        };
        let ok = signature.sighash_type == EcdsaSighashType::All
            && secp
                .verify_ecdsa(message, &signature.signature, key)
                .is_ok();
        if !ok {
            return Err(EscrowError::BadSignature {
                input: index,
                key: key.to_string(),
            });
        }
        valid.push(*signature);
    }
    Ok(valid)
}

/// The PSBT's BIP-174 binary form, as exchanged between the parties.
pub fn encode_psbt(psbt: &Psbt) -> Vec<u8> {
    psbt.serialize()
}

/// Decodes a PSBT a peer sent, refusing anything above [`MAX_PSBT_BYTES`] before decoding.
pub fn decode_psbt(bytes: &[u8]) -> Result<Psbt, EscrowError> {
    if bytes.len() > MAX_PSBT_BYTES {
        return Err(EscrowError::MalformedPsbt(format!(
            "{} bytes, at most {MAX_PSBT_BYTES} are accepted",
            bytes.len()
        )));
    }
    Psbt::deserialize(bytes).map_err(|e| EscrowError::MalformedPsbt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use bitcoin::{Txid, WPubkeyHash, consensus, secp256k1::SecretKey};

    use super::*;

    fn keypair(n: u8) -> Keypair {
        let mut sk = [0u8; 32];
        sk[31] = n;
        sk[0] = 0x42;
        Keypair::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&sk).unwrap())
    }

    struct Setup {
        buyer: Keypair,
        seller: Keypair,
        arbitrator: Keypair,
        backup: Keypair,
        escrow: TradeEscrow,
        plan: SpendPlan,
    }

    const LOCKS: super::super::Timelocks = super::super::Timelocks {
        backup: 20,
        reclaim: 40,
    };

    const RATE: FeeRate = FeeRate::from_sat_per_vb_u32(10);
    const MAX_RATE: FeeRate = FeeRate::from_sat_per_vb_u32(20);

    fn wpkh(n: u8) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([n; 20]))
    }

    fn outpoint(n: u8) -> OutPoint {
        OutPoint::new(Txid::from_byte_array([n; 32]), u32::from(n))
    }

    /// 1,000,000 in the seller's escrow output: 700,000 to the buyer, 300,000 back to the seller, who
    /// pays the fee.
    fn setup() -> Setup {
        let (buyer, seller, arbitrator, backup) = (keypair(1), keypair(2), keypair(3), keypair(4));
        let escrow = TradeEscrow::new(
            super::super::EscrowParties {
                buyer: buyer.public_key(),
                seller: seller.public_key(),
                arbitrator: arbitrator.public_key(),
                backup: Some(backup.public_key()),
            },
            LOCKS,
        )
        .unwrap();
        let plan = SpendPlan {
            chain: Chain::Btc,
            inputs: vec![EscrowInput {
                outpoint: outpoint(9),
                value: Amount::from_sat(1_000_000),
                funder: Party::Seller,
            }],
            outputs: vec![
                Payout {
                    script_pubkey: wpkh(1),
                    amount: Amount::from_sat(700_000),
                },
                Payout {
                    script_pubkey: wpkh(2),
                    amount: Amount::from_sat(300_000),
                },
            ],
            fee_payer: 1,
            path: SpendPath::Multisig,
        };
        Setup {
            buyer,
            seller,
            arbitrator,
            backup,
            escrow,
            plan,
        }
    }

    fn signed_by(s: &Setup, psbt: &Psbt, key: &Keypair) -> Psbt {
        let mut copy = psbt.clone();
        sign_psbt(&mut copy, &s.escrow, key).unwrap();
        copy
    }

    /// Checks the extracted transaction independently: sighash recomputed from the final tx, both
    /// witness signatures verify against keys in script order.
    fn assert_spends_escrow(tx: &Transaction, s: &Setup, signers: [&Keypair; 2]) {
        let tx: Transaction = consensus::deserialize(&consensus::serialize(tx)).unwrap();
        let secp = Secp256k1::verification_only();
        let mut cache = SighashCache::new(&tx);
        let script = s.escrow.of(Party::Seller);
        for (i, input) in tx.input.iter().enumerate() {
            let items: Vec<&[u8]> = input.witness.iter().collect();
            assert_eq!(items.len(), 5);
            assert!(items[0].is_empty());
            assert_eq!(items[3], [1u8], "the first branch");
            assert_eq!(items[4], script.witness_script().as_bytes());
            let hash = cache
                .p2wsh_signature_hash(
                    i,
                    script.witness_script(),
                    s.plan.inputs[i].value,
                    EcdsaSighashType::All,
                )
                .unwrap();
            let message = Message::from_digest(hash.to_byte_array());
            let mut keys: Vec<_> = signers.iter().map(|k| k.public_key()).collect();
            keys.sort_by_key(|k| script.keys().iter().position(|x| x == k));
            for (item, key) in items[1..3].iter().zip(keys) {
                let sig = ecdsa::Signature::from_slice(item).unwrap();
                assert_eq!(sig.sighash_type, EcdsaSighashType::All);
                secp.verify_ecdsa(&message, &sig.signature, &key).unwrap();
            }
        }
    }

    #[test]
    fn any_two_of_three_sign_combine_and_finalise() {
        let s = setup();
        let psbt = build_spend(&s.escrow, &s.plan, RATE).unwrap();
        let checked = check_psbt(&psbt, &s.escrow, &s.plan, RATE).unwrap();
        assert_eq!(checked.fee, RATE.fee_vb(checked.vsize).unwrap());
        assert_eq!(psbt.unsigned_tx.output[0].value, Amount::from_sat(700_000));
        assert_eq!(
            psbt.unsigned_tx.output[1].value,
            Amount::from_sat(300_000) - checked.fee
        );
        for pair in [
            [&s.buyer, &s.seller],
            [&s.seller, &s.arbitrator],
            [&s.arbitrator, &s.buyer],
        ] {
            // Each signs its own copy, carried over the wire.
            let a = decode_psbt(&encode_psbt(&signed_by(&s, &psbt, pair[0]))).unwrap();
            let b = decode_psbt(&encode_psbt(&signed_by(&s, &psbt, pair[1]))).unwrap();
            let combined = combine_psbts(a, b).unwrap();
            let tx = finalize_psbt(combined, &s.escrow).unwrap();
            assert_spends_escrow(&tx, &s, pair);
            let estimate = checked.vsize;
            let actual = tx.vsize() as u64;
            assert!(
                estimate >= actual && estimate - actual <= 2,
                "{estimate} vs {actual}"
            );
        }
    }

    #[test]
    fn vsize_estimate_counts_inputs_outputs_and_the_branch() {
        let s = setup();
        let script = s.escrow.of(Party::Seller);
        let len = script.witness_script().len() as u64;
        assert!(len > 252, "a three-byte length prefix: {len}");
        // Witness: item count, empty item, two signatures, the branch selector, the script.
        let witness = 1 + 1 + 2 * 74 + 2 + 3 + len;
        let base = 4 + 4 + 1 + 41 + 1 + 2 * 31;
        assert_eq!(
            s.plan.vsize(&s.escrow),
            (4 * base + 2 + witness).div_ceil(4)
        );
        let mut two = s.plan.clone();
        two.inputs.push(EscrowInput {
            outpoint: outpoint(3),
            value: Amount::from_sat(5_000),
            funder: Party::Buyer,
        });
        assert!(two.vsize(&s.escrow) > s.plan.vsize(&s.escrow) + 41);
        let mut reclaim = s.plan.clone();
        reclaim.path = SpendPath::Reclaim;
        assert!(
            reclaim.vsize(&s.escrow) < s.plan.vsize(&s.escrow),
            "one signature"
        );
    }

    /// The fallbacks: two of buyer, seller and backup arbitrator after the backup lock; the funder alone
    /// after the reclaim lock; each refused without its lock or its keys.
    #[test]
    fn fallback_branches_need_their_lock_and_their_keys() {
        let s = setup();
        let script = s.escrow.of(Party::Seller);
        let mut backup_plan = s.plan.clone();
        backup_plan.path = SpendPath::Backup;
        let psbt = build_spend(&s.escrow, &backup_plan, RATE).unwrap();
        assert_eq!(
            psbt.unsigned_tx.input[0].sequence,
            Sequence::from_height(20)
        );
        let checked = check_psbt(&psbt, &s.escrow, &backup_plan, RATE).unwrap();
        let signed = signed_by(&s, &signed_by(&s, &psbt, &s.buyer), &s.backup);
        let tx = finalize_psbt(signed, &s.escrow).unwrap();
        let items: Vec<&[u8]> = tx.input[0].witness.iter().collect();
        assert_eq!(items.len(), 6);
        assert!(items[0].is_empty() && items[4].is_empty());
        assert_eq!(items[3], [1u8]);
        assert_eq!(items[5], script.witness_script().as_bytes());
        let actual = tx.vsize() as u64;
        assert!(checked.vsize >= actual && checked.vsize - actual <= 2);
        // The backup's signature alone, or with the first arbitrator's, is not two of its branch.
        let lone = signed_by(&s, &psbt, &s.backup);
        assert!(matches!(
            finalize_psbt(lone, &s.escrow).unwrap_err(),
            EscrowError::NotEnoughSignatures { input: 0, .. }
        ));
        // Without the lock in the sequence, the backup's key opens nothing.
        let unlocked = build_spend(&s.escrow, &s.plan, RATE).unwrap();
        let signed = signed_by(&s, &signed_by(&s, &unlocked, &s.buyer), &s.backup);
        assert!(matches!(
            finalize_psbt(signed, &s.escrow).unwrap_err(),
            EscrowError::NotEnoughSignatures { input: 0, have: 1 }
        ));

        let mut reclaim = s.plan.clone();
        reclaim.path = SpendPath::Reclaim;
        reclaim.outputs = vec![Payout {
            script_pubkey: wpkh(2),
            amount: Amount::from_sat(1_000_000),
        }];
        reclaim.fee_payer = 0;
        let psbt = build_spend(&s.escrow, &reclaim, RATE).unwrap();
        assert_eq!(
            psbt.unsigned_tx.input[0].sequence,
            Sequence::from_height(40)
        );
        let tx = finalize_psbt(signed_by(&s, &psbt, &s.seller), &s.escrow).unwrap();
        let items: Vec<&[u8]> = tx.input[0].witness.iter().collect();
        assert_eq!(items.len(), 4, "signature, two false selectors, script");
        assert!(items[1].is_empty() && items[2].is_empty());
        // The buyer cannot reclaim the seller's output.
        assert!(matches!(
            finalize_psbt(signed_by(&s, &psbt, &s.buyer), &s.escrow).unwrap_err(),
            EscrowError::NotEnoughSignatures { input: 0, have: 1 }
        ));
        // A reclaim of both funders' outputs at once is refused: each reclaims its own.
        let mut mixed = reclaim.clone();
        mixed.inputs.push(EscrowInput {
            outpoint: outpoint(3),
            value: Amount::from_sat(50_000),
            funder: Party::Buyer,
        });
        mixed.outputs[0].amount += Amount::from_sat(50_000);
        assert!(matches!(
            build_spend(&s.escrow, &mixed, RATE).unwrap_err(),
            EscrowError::MixedReclaim
        ));
        // A first-branch plan is refused a PSBT that carries the reclaim lock, and the other way round.
        let err = check_psbt(&psbt, &s.escrow, &s.plan, MAX_RATE).unwrap_err();
        assert!(
            matches!(
                err,
                EscrowError::OutputCount { .. } | EscrowError::NotFinal(_)
            ),
            "{err}"
        );
        let mut relabelled = psbt.clone();
        relabelled.unsigned_tx.input[0].sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;
        let err = check_psbt(&relabelled, &s.escrow, &reclaim, MAX_RATE).unwrap_err();
        assert!(err.to_string().contains("sequence"), "{err}");
    }

    #[test]
    fn an_escrow_without_a_backup_has_no_backup_branch() {
        let s = setup();
        let mut parties = *s.escrow.parties();
        parties.backup = None;
        let escrow = TradeEscrow::new(parties, LOCKS).unwrap();
        let mut plan = s.plan.clone();
        plan.path = SpendPath::Backup;
        assert!(matches!(
            build_spend(&escrow, &plan, RATE).unwrap_err(),
            EscrowError::NoSuchBranch(SpendPath::Backup)
        ));
    }

    #[test]
    fn finalising_needs_two_valid_signatures() {
        let s = setup();
        let psbt = build_spend(&s.escrow, &s.plan, RATE).unwrap();
        let err = finalize_psbt(signed_by(&s, &psbt, &s.buyer), &s.escrow).unwrap_err();
        assert!(
            matches!(err, EscrowError::NotEnoughSignatures { input: 0, have: 1 }),
            "{err}"
        );
        // A signature filed under the wrong key is named, not ignored.
        let mut forged = signed_by(&s, &psbt, &s.buyer);
        let sig = forged.inputs[0]
            .partial_sigs
            .values()
            .next()
            .copied()
            .unwrap();
        forged.inputs[0]
            .partial_sigs
            .insert(bitcoin::PublicKey::new(s.seller.public_key()), sig);
        let err = finalize_psbt(forged, &s.escrow).unwrap_err();
        assert!(
            matches!(err, EscrowError::BadSignature { input: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains(&s.seller.public_key().to_string()));
    }

    #[test]
    fn outsiders_and_mismatched_psbts_are_refused() {
        let s = setup();
        let psbt = build_spend(&s.escrow, &s.plan, RATE).unwrap();
        let mut copy = psbt.clone();
        let err = sign_psbt(&mut copy, &s.escrow, &keypair(5)).unwrap_err();
        assert!(matches!(err, EscrowError::NotAParty), "{err}");
        let other = build_spend(&s.escrow, &s.plan, MAX_RATE).unwrap();
        let err = combine_psbts(psbt.clone(), other).unwrap_err();
        assert!(matches!(err, EscrowError::DifferentTransactions), "{err}");
        // An input not spending the escrow script is not signed.
        let mut foreign = psbt.clone();
        foreign.inputs[0]
            .witness_utxo
            .as_mut()
            .unwrap()
            .script_pubkey = wpkh(7);
        let err = sign_psbt(&mut foreign, &s.escrow, &s.buyer).unwrap_err();
        assert!(err.to_string().contains("not the escrow's"), "{err}");
        let mut missing = psbt;
        missing.inputs[0].witness_utxo = None;
        let err = sign_psbt(&mut missing, &s.escrow, &s.buyer).unwrap_err();
        assert!(err.to_string().contains("no witness UTXO"), "{err}");
    }

    #[test]
    fn psbt_bytes_are_bounded_and_checked() {
        let err = decode_psbt(&vec![0u8; MAX_PSBT_BYTES + 1]).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
        let err = decode_psbt(b"psbt\xff garbage").unwrap_err();
        assert!(matches!(err, EscrowError::MalformedPsbt(_)), "{err}");
    }

    #[test]
    fn plans_that_do_not_add_up_are_refused() {
        let s = setup();
        let mut plan = s.plan.clone();
        plan.outputs[0].amount = Amount::from_sat(600_000);
        let err = build_spend(&s.escrow, &plan, RATE).unwrap_err();
        assert!(
            matches!(
                err,
                EscrowError::SharesDoNotAddUp {
                    inputs: 1_000_000,
                    outputs: 900_000
                }
            ),
            "{err}"
        );
        let mut plan = s.plan.clone();
        plan.fee_payer = 2;
        assert!(matches!(
            build_spend(&s.escrow, &plan, RATE).unwrap_err(),
            EscrowError::FeePayerOutOfRange {
                index: 2,
                outputs: 2
            }
        ));
        let mut plan = s.plan.clone();
        plan.outputs[1].amount = Amount::from_sat(200);
        plan.outputs[0].amount = Amount::from_sat(999_800);
        assert!(matches!(
            build_spend(&s.escrow, &plan, RATE).unwrap_err(),
            EscrowError::Dust { index: 1, .. }
        ));
        // Litecoin's dust limit is ten times Bitcoin's.
        plan.outputs[1].amount = Amount::from_sat(2_000);
        plan.outputs[0].amount = Amount::from_sat(998_000);
        build_spend(&s.escrow, &plan, FeeRate::ZERO).unwrap();
        plan.chain = Chain::Ltc;
        assert!(matches!(
            build_spend(&s.escrow, &plan, FeeRate::ZERO).unwrap_err(),
            EscrowError::Dust {
                index: 1,
                amount: 2_000,
                dust: 2_940
            }
        ));
        let mut plan = s.plan.clone();
        plan.outputs[1].amount = Amount::from_sat(2_000);
        plan.outputs[0].amount = Amount::from_sat(998_000);
        let err = build_spend(&s.escrow, &plan, RATE).unwrap_err();
        assert!(
            matches!(err, EscrowError::FeeDoesNotFit { index: 1, .. }),
            "{err}"
        );
        let mut plan = s.plan.clone();
        plan.inputs.push(plan.inputs[0]);
        assert!(matches!(
            build_spend(&s.escrow, &plan, RATE).unwrap_err(),
            EscrowError::DuplicateInput(_)
        ));
        let mut plan = s.plan.clone();
        plan.outputs.clear();
        assert!(matches!(
            build_spend(&s.escrow, &plan, RATE).unwrap_err(),
            EscrowError::Empty("outputs")
        ));
    }

    /// The counterparty built `psbt`; each tampering is refused with its own reason.
    #[test]
    fn tampered_psbts_are_refused_with_the_reason() {
        let s = setup();
        let honest = build_spend(&s.escrow, &s.plan, RATE).unwrap();
        let check = |psbt: &Psbt| check_psbt(psbt, &s.escrow, &s.plan, MAX_RATE);
        check(&honest).unwrap();
        let tamper = |f: &dyn Fn(&mut Psbt)| {
            let mut psbt = honest.clone();
            f(&mut psbt);
            check(&psbt).unwrap_err()
        };

        let err = tamper(&|p| p.unsigned_tx.output[0].script_pubkey = wpkh(66));
        assert!(
            matches!(err, EscrowError::OutputScript { index: 0, .. }),
            "{err}"
        );

        let err = tamper(&|p| p.unsigned_tx.output[1].value -= Amount::from_sat(50_000));
        assert!(matches!(err, EscrowError::FeeAboveLimit { .. }), "{err}");
        assert!(err.to_string().contains("above the limit"), "{err}");

        let err = tamper(&|p| p.unsigned_tx.output[0].value -= Amount::from_sat(1));
        assert!(
            matches!(
                err,
                EscrowError::OutputAmount {
                    index: 0,
                    expected: 700_000,
                    got: 699_999
                }
            ),
            "{err}"
        );

        // The fee payer's output may be lowered by the fee, never raised above its share.
        let err = tamper(&|p| p.unsigned_tx.output[1].value = Amount::from_sat(300_001));
        assert!(
            matches!(err, EscrowError::OutputAmount { index: 1, .. }),
            "{err}"
        );

        let err = tamper(&|p| {
            let half = p.unsigned_tx.output[1].value / 2;
            p.unsigned_tx.output[1].value -= half;
            p.unsigned_tx.output.push(TxOut {
                value: half,
                script_pubkey: wpkh(66),
            });
            p.outputs.push(Default::default());
        });
        assert!(
            matches!(
                err,
                EscrowError::OutputCount {
                    expected: 2,
                    got: 3
                }
            ),
            "{err}"
        );

        let err = tamper(&|p| p.unsigned_tx.input[0].previous_output = outpoint(5));
        assert!(
            matches!(err, EscrowError::ForeignInput(o) if o == outpoint(5)),
            "{err}"
        );

        let err = tamper(&|p| p.unsigned_tx.lock_time = LockTime::from_height(800_000).unwrap());
        assert!(matches!(err, EscrowError::NotFinal(_)), "{err}");

        let err = tamper(&|p| p.unsigned_tx.input[0].sequence = Sequence::from_height(10));
        assert!(matches!(err, EscrowError::NotFinal(_)), "{err}");

        let err = tamper(&|p| p.inputs[0].witness_utxo.as_mut().unwrap().value = Amount::ONE_BTC);
        assert!(err.to_string().contains("the chain says 1000000"), "{err}");

        // The input claims to spend the buyer's output where the chain holds the seller's.
        let err = tamper(&|p| {
            let buyer = s.escrow.of(Party::Buyer);
            p.inputs[0].witness_utxo.as_mut().unwrap().script_pubkey = buyer.script_pubkey();
            p.inputs[0].witness_script = Some(buyer.witness_script().to_owned());
        });
        assert!(
            err.to_string()
                .contains("the chain says that output is the seller's"),
            "{err}"
        );

        let err = tamper(&|p| p.unsigned_tx.version = Version::ONE);
        assert!(matches!(err, EscrowError::NotFinal(_)), "{err}");

        let err = tamper(&|p| {
            p.inputs[0].sighash_type = Some(EcdsaSighashType::SinglePlusAnyoneCanPay.into())
        });
        assert!(err.to_string().contains("only ALL"), "{err}");

        // A plan with two escrow outputs: a PSBT spending only one of them is refused.
        let mut plan = s.plan.clone();
        plan.inputs.push(EscrowInput {
            outpoint: outpoint(10),
            value: Amount::from_sat(100_000),
            funder: Party::Buyer,
        });
        plan.outputs[1].amount += Amount::from_sat(100_000);
        let err = check_psbt(&honest, &s.escrow, &plan, MAX_RATE).unwrap_err();
        assert!(
            matches!(err, EscrowError::MissingInput(o) if o == outpoint(10)),
            "{err}"
        );
        let two = build_spend(&s.escrow, &plan, RATE).unwrap();
        check_psbt(&two, &s.escrow, &plan, MAX_RATE).unwrap();
    }
}
