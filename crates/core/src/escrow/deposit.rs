//! The smallest security deposit an escrow trade may ask for: enough that the largest spend of the
//! escrow (a release, a refund or a resolution) still pays its fee at a high fee rate and leaves each
//! party's output above the dust limit.
//!
//! A deposit below this could leave coins in the escrow that no spend can move at the fee rates of a
//! busy chain, which is exactly the stranded money the escrow exists to prevent. Pure arithmetic: no
//! chain node, no clock.

use bitcoin::{Amount, ScriptBuf, WScriptHash, hashes::Hash};

use super::Chain;

/// A fee rate Bitcoin's mempool reaches in busy weeks (sat/vB); a deposit must pay a spend at this rate.
pub const HIGH_FEE_RATE_BTC_SAT_VB: u64 = 100;
/// The same for Litecoin, whose fees run far lower than Bitcoin's (litoshi/vB).
pub const HIGH_FEE_RATE_LTC_SAT_VB: u64 = 20;

/// Escrow outputs the largest spend takes in: the seller's and the buyer's funding, and one late or
/// surplus output.
const SPEND_INPUTS: u64 = 3;
/// Outputs the largest spend pays: one per party.
const SPEND_OUTPUTS: u64 = 2;
/// The longest escrow witness script, in bytes (2-of-3 multisig with its timelocked branches).
const MAX_WITNESS_SCRIPT_BYTES: u64 = 290;
/// One input's witness, in weight units (one per byte): the item count (1), the empty dummy for
/// CHECKMULTISIG (1), two signatures with their length bytes (2 × 74), the branch selector (2), the
/// script's length as a varint (3) and the script itself.
const INPUT_WITNESS_WU: u64 = 1 + 1 + 2 * 74 + 2 + 3 + MAX_WITNESS_SCRIPT_BYTES;
/// The spend's bytes outside the witness: version (4), lock time (4), input count (1), each input's
/// outpoint, empty script and sequence (41), output count (1), each P2WSH output's amount, script length
/// and 34-byte script (43).
const BASE_BYTES: u64 = 4 + 4 + 1 + SPEND_INPUTS * 41 + 1 + SPEND_OUTPUTS * 43;
/// The spend's virtual size: base bytes weigh 4, the segwit marker and flag (2) and the witnesses 1.
pub const MAX_SPEND_VSIZE: u64 = (4 * BASE_BYTES + 2 + SPEND_INPUTS * INPUT_WITNESS_WU).div_ceil(4);

/// The "high" fee rate a deposit must be able to pay on `chain`, in base units per vB.
pub fn high_fee_rate_sat_vb(chain: Chain) -> u64 {
    match chain {
        Chain::Btc => HIGH_FEE_RATE_BTC_SAT_VB,
        Chain::Ltc => HIGH_FEE_RATE_LTC_SAT_VB,
    }
}

/// The least each party's escrow deposit may be on `chain`: the fee of the largest escrow spend
/// ([`MAX_SPEND_VSIZE`]) at the chain's high fee rate, plus the dust limit of a P2WSH output, so a
/// release or refund always fits whoever's output pays the fee.
pub fn min_deposit(chain: Chain) -> Amount {
    let fee = MAX_SPEND_VSIZE * high_fee_rate_sat_vb(chain);
    // Payout scripts vary; a P2WSH one (34 bytes) has the highest dust limit of the segwit kinds.
    let p2wsh = ScriptBuf::new_p2wsh(&WScriptHash::all_zeros());
    Amount::from_sat(fee) + chain.dust_limit(&p2wsh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_size_is_the_largest_escrow_spend() {
        // Witness per input: 1 + 1 + 2*74 + 2 + 3 + 290 = 445 WU.
        assert_eq!(INPUT_WITNESS_WU, 445);
        // Base: 4 + 4 + 1 + 3*41 + 1 + 2*43 = 219 bytes.
        assert_eq!(BASE_BYTES, 219);
        // Weight 4*219 + 2 + 3*445 = 876 + 2 + 1335 = 2213 WU; ceil(2213 / 4) = 554 vB.
        assert_eq!(MAX_SPEND_VSIZE, 554);
    }

    #[test]
    fn min_deposit_per_chain() {
        let p2wsh = ScriptBuf::new_p2wsh(&WScriptHash::all_zeros());
        assert_eq!(p2wsh.len(), 34);
        // Dust of a P2WSH output: (8 + 1 + 34 + 67 spend bytes) = 110 bytes at the dust relay fee,
        // 3 sat/vB on Bitcoin and 30 litoshi/vB on Litecoin.
        assert_eq!(Chain::Btc.dust_limit(&p2wsh), Amount::from_sat(330));
        assert_eq!(Chain::Ltc.dust_limit(&p2wsh), Amount::from_sat(3_300));
        // Bitcoin: 554 vB * 100 sat/vB = 55_400 sat, + 330 dust = 55_730 sat (0.0005573 BTC).
        assert_eq!(min_deposit(Chain::Btc), Amount::from_sat(55_730));
        // Litecoin: 554 vB * 20 litoshi/vB = 11_080, + 3_300 dust = 14_380 litoshi (0.0001438 LTC).
        assert_eq!(min_deposit(Chain::Ltc), Amount::from_sat(14_380));
    }
}
