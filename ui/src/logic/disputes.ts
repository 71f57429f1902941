import type { DisputeInfo, Party } from '../bindings';
import { formatAmount, parseAmount } from './amount';
import type { Parsed } from './amount';

/** Not decided yet, or a party refused the decision and none took it (the arbitrator decides again). */
export function isOpen(dispute: DisputeInfo): boolean {
  return dispute.resolved_to === null || dispute.decision?.can_decide_again === true;
}

/** What the escrow's outputs hold on the chain now, when the core could ask the chain. */
export function onChainTotal(dispute: DisputeInfo): number | null {
  return dispute.on_chain ? dispute.on_chain.buyer_output + dispute.on_chain.seller_output : null;
}

/** What a decision shares out: what the chain shows, or what was agreed when the chain is unknown. */
export function shareableTotal(dispute: DisputeInfo): number {
  return onChainTotal(dispute) ?? escrowTotal(dispute);
}

/** A party's answer to a decision, in words. */
export function answerLabel(answer: string | null): string {
  if (answer === null) return 'no answer yet';
  if (answer === 'stored') return 'took it (co-signs and broadcasts its share)';
  return answer;
}

/** The decision that stands, in coins: "to the buyer" or "split: 0.6 LTC to the buyer, 0.7 LTC to the seller". */
export function decisionLabel(dispute: DisputeInfo): string {
  const d = dispute.decision;
  if (dispute.resolved_to === 'split' && d) {
    return `Split: ${coins(d.buyer_share, dispute)} to the buyer, ${coins(d.seller_share, dispute)} to the seller`;
  }
  return `Resolved to the ${dispute.resolved_to ?? '?'}`;
}

/** Open disputes first, then the decided ones; newest first in each (the order the core lists them in). */
export function compareDisputes(a: DisputeInfo, b: DisputeInfo): number {
  if (isOpen(a) !== isOpen(b)) return isOpen(a) ? -1 : 1;
  if (a.opened_at !== b.opened_at) return b.opened_at - a.opened_at;
  return a.trade_id < b.trade_id ? -1 : a.trade_id > b.trade_id ? 1 : 0;
}

export function orderDisputes(list: DisputeInfo[]): DisputeInfo[] {
  return [...list].sort(compareDisputes);
}

/** Replaces a dispute by trade id (or adds it) and keeps the list in order. */
export function upsertDispute(list: DisputeInfo[], dispute: DisputeInfo): DisputeInfo[] {
  return orderDisputes([...list.filter((d) => d.trade_id !== dispute.trade_id), dispute]);
}

export function otherSide(side: Party): Party {
  return side === 'buyer' ? 'seller' : 'buyer';
}

/** The state in words: decided (to whom), or open (and whether both parties' cases are in). */
export function disputeStateLabel(dispute: DisputeInfo): string {
  if (dispute.decision?.can_decide_again) return 'Refused: decide again';
  if (dispute.resolved_to === 'split') return 'Split';
  if (dispute.resolved_to !== null) return `Resolved to the ${dispute.resolved_to}`;
  if (dispute.cases.length < 2) return 'Open: one case so far';
  return 'Open';
}

/** Who opened the dispute: a party's signed dispute step, or a deadline passing. */
export function openedByLabel(dispute: DisputeInfo): string {
  return dispute.opened_by === null ? 'a deadline (no signed dispute)' : `the ${dispute.opened_by}`;
}

/** "LTC/EUR" */
export function disputeMarket(dispute: DisputeInfo): string {
  return `${dispute.offer.base}/${dispute.offer.quote}`;
}

/** What the escrow was funded with: the amount traded and both deposits, in base units. */
export function escrowTotal(dispute: DisputeInfo): number {
  return dispute.amount + dispute.buyer_deposit + dispute.seller_deposit;
}

export function coins(units: number, dispute: DisputeInfo): string {
  return `${formatAmount(units, dispute.offer.base)} ${dispute.offer.base}`;
}

/** The address a decision pays to: the winner's own, from its signed escrow-key step. */
export function payoutAddress(dispute: DisputeInfo, to: Party): string {
  return to === 'buyer' ? dispute.buyer_address : dispute.seller_address;
}

/** What the confirmation says a decision does: everything in the escrow, less the fee, to one party. */
export function payoutSummary(dispute: DisputeInfo, to: Party): string {
  return (
    `Everything the escrow holds — ${coins(shareableTotal(dispute), dispute)} (${coins(dispute.amount, dispute)} traded, ` +
    `${coins(dispute.buyer_deposit, dispute)} buyer’s deposit, ${coins(dispute.seller_deposit, dispute)} seller’s deposit) ` +
    `less the network fee — is paid to the ${to}’s address ${payoutAddress(dispute, to)}. ` +
    `The ${otherSide(to)} gets nothing from the escrow. This cannot be undone.`
  );
}

/** What the split dialog says: each party's share, the fee from the larger one, and where each goes. */
export function splitSummary(dispute: DisputeInfo, buyerGets: number): string {
  const sellerGets = shareableTotal(dispute) - buyerGets;
  return (
    `The escrow’s ${coins(shareableTotal(dispute), dispute)} are split: ${coins(buyerGets, dispute)} to the buyer’s address ` +
    `${dispute.buyer_address}, ${coins(sellerGets, dispute)} to the seller’s address ${dispute.seller_address}; the network ` +
    `fee comes out of the larger share. Each party’s node co-signs its payout. This cannot be undone unless a party refuses it.`
  );
}

/** The buyer's share typed in coins: more than nothing, less than the whole escrow. */
export function parseBuyerShare(text: string, dispute: DisputeInfo): Parsed<number> {
  const parsed = parseAmount(text, dispute.offer.base);
  if (!parsed.ok) return parsed;
  const total = shareableTotal(dispute);
  if (parsed.value >= total) {
    return {
      ok: false,
      error: `The buyer’s share must be less than the ${coins(total, dispute)} the escrow holds; give it all with “Resolve to buyer”.`,
    };
  }
  return parsed;
}

/** The most characters a decision's reason may have (the core refuses more). */
export const MAX_DECISION_REASON = 1000;

/** One transcript line, read from the reporting party's side. */
export interface TranscriptLine {
  /** When its sender sent it (unix ms), when the line says. */
  at: number | null;
  /** Who wrote it, when the line says. */
  from: Party | null;
  /** The message as the party wrote it: plain text, never markup. */
  text: string;
}

const LINE = /^(\d{1,16}) (me|them): ([\s\S]*)$/;

/**
 * A transcript line of `side`'s case (`SENT_AT_MS me|them: TEXT`) as time, author and text; a line in
 * any other shape (the case is the party's own text) is kept whole as text.
 */
export function parseTranscriptLine(line: string, side: Party): TranscriptLine {
  const match = LINE.exec(line);
  if (!match?.[1] || !match[2] || match[3] === undefined) return { at: null, from: null, text: line };
  return {
    at: Number(match[1]),
    from: match[2] === 'me' ? side : otherSide(side),
    text: match[3],
  };
}
