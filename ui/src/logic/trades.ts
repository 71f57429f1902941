import type { ChatMessage, EscrowView, Party, TradeInfo, TradeRole, TradeState } from '../bindings';
import { isOverState } from './protocol';

/** Replaces a trade by id (keeping its place, so live updates never reorder the list) or adds it on top. */
export function upsertTrade(trades: TradeInfo[], trade: TradeInfo): TradeInfo[] {
  const index = trades.findIndex((t) => t.id === trade.id);
  if (index === -1) return [trade, ...trades];
  const current = trades[index];
  if (current && current.updated_at > trade.updated_at) return trades;
  const next = [...trades];
  next[index] = trade;
  return next;
}

/**
 * The order both sides show a chat in (the core's): by the sender's clock, then sender, then sequence
 * number, so each direction stays in the order it was sent.
 */
export function compareMessages(a: ChatMessage, b: ChatMessage): number {
  if (a.sent_at !== b.sent_at) return a.sent_at - b.sent_at;
  if (a.sender !== b.sender) return a.sender < b.sender ? -1 : 1;
  return a.seq - b.seq;
}

export function orderChat(log: ChatMessage[]): ChatMessage[] {
  return [...log].sort(compareMessages);
}

/** Adds a message (or replaces it, by id) and keeps the log in order. */
export function upsertMessage(log: ChatMessage[], message: ChatMessage): ChatMessage[] {
  return orderChat([...log.filter((m) => m.id !== message.id), message]);
}

/** The counterparty's node acknowledged this node's envelopes up to `upTo`. */
export function markDelivered(log: ChatMessage[], upTo: number, nowMs: number): ChatMessage[] {
  return log.map((m) => (m.outgoing && m.seq <= upTo && m.delivered_at === null ? { ...m, delivered_at: nowMs } : m));
}

/** The counterparty read this node's messages up to `upTo` (read implies delivered). */
export function markRead(log: ChatMessage[], upTo: number, nowMs: number): ChatMessage[] {
  return log.map((m) =>
    m.outgoing && m.seq <= upTo && m.read_at === null
      ? { ...m, read_at: nowMs, delivered_at: m.delivered_at ?? nowMs }
      : m,
  );
}

export type ChatMark = 'sending' | 'delivered' | 'read';

/** What an outgoing message's mark says: sent and waiting, delivered to the other node, or read. */
export function chatMark(message: ChatMessage): ChatMark {
  if (message.read_at !== null) return 'read';
  if (message.delivered_at !== null) return 'delivered';
  return 'sending';
}

/** Trade states in words. */
const STATE_LABELS: Record<TradeState, string> = {
  Requested: 'Take requested',
  Countered: 'Countered',
  Accepted: 'Accepted',
  Rejected: 'Rejected',
  EscrowFunding: 'Funding escrow',
  EscrowFunded: 'Escrow funded',
  PaymentSent: 'Payment sent',
  PaymentConfirmed: 'Payment confirmed',
  Released: 'Released',
  Completed: 'Completed',
  Cancelled: 'Cancelled',
  Expired: 'Expired',
  Disputed: 'Disputed',
  Resolved: 'Resolved',
};

export function stateLabel(state: TradeState): string {
  return STATE_LABELS[state];
}

/** Nothing can follow: the trade ended one way or another (no step of the core's tables leaves its state). */
export function isOver(trade: TradeInfo): boolean {
  return isOverState(trade.state);
}

export function isMyTurn(trade: TradeInfo): boolean {
  return trade.waiting_for === trade.role;
}

/** This node's side of the coins: the maker of a sell offer sells, its taker buys; the other way for buy offers. */
export function mySide(trade: TradeInfo): Party {
  const makerSells = trade.offer.side === 'sell';
  return (trade.role === 'maker') === makerSells ? 'seller' : 'buyer';
}

export function roleLabel(role: TradeRole): string {
  return role === 'maker' ? 'Maker' : 'Taker';
}

export type NegotiationAction = 'accept' | 'counter' | 'reject';

/** What this user may answer now: the maker answers a take, the taker answers a counter; nothing otherwise. */
export function negotiationActions(trade: TradeInfo): NegotiationAction[] {
  if (trade.state === 'Requested' && trade.role === 'maker') return ['accept', 'counter', 'reject'];
  if (trade.state === 'Countered' && trade.role === 'taker') return ['accept', 'reject'];
  return [];
}

export type SettlementAction = 'address' | 'paid' | 'received' | 'dispute' | 'cancel';

/**
 * The steps this user may take now, from the core's transition table: give the escrow address; the
 * buyer marks the payment sent; the seller confirms it arrived; cancel before coins are locked; dispute
 * once they are.
 */
export function settlementActions(trade: TradeInfo): SettlementAction[] {
  const escrow = trade.escrow;
  const side = escrow ? escrow.side : mySide(trade);
  const actions: SettlementAction[] = [];
  switch (trade.state) {
    case 'Accepted':
      if (escrow && escrow.my_address === null) actions.push('address');
      if (!escrow && side === 'buyer') actions.push('paid');
      actions.push('cancel');
      break;
    case 'EscrowFunding':
      if (escrow) actions.push('cancel');
      break;
    case 'EscrowFunded':
      if (escrow) {
        if (side === 'buyer') actions.push('paid');
        actions.push('dispute');
      }
      break;
    case 'PaymentSent':
      if (side === 'seller') actions.push('received');
      if (escrow) actions.push('dispute');
      break;
    case 'PaymentConfirmed':
      if (escrow && side === 'buyer') actions.push('dispute');
      break;
  }
  return actions;
}

export type StepId = 'agreed' | 'address' | 'funded' | 'paid' | 'confirmed' | 'released' | 'completed';
export type StepStatus = 'done' | 'current' | 'upcoming' | 'stopped';

export interface TimelineStep {
  id: StepId;
  label: string;
  status: StepStatus;
}

const ESCROW_STEPS: readonly [StepId, string][] = [
  ['agreed', 'Terms agreed'],
  ['address', 'Escrow addresses'],
  ['funded', 'Escrow funded'],
  ['paid', 'Payment sent'],
  ['confirmed', 'Payment confirmed'],
  ['released', 'Escrow released'],
  ['completed', 'Completed'],
];

const DIRECT_STEPS: readonly [StepId, string][] = [
  ['agreed', 'Terms agreed'],
  ['paid', 'Payment sent'],
  ['completed', 'Payment confirmed'],
];

/** Which timeline step each event of the trade's log completes, on each path. */
const ESCROW_KIND_STEP: Readonly<Record<string, StepId>> = {
  accept: 'agreed',
  escrow_ready: 'address',
  funded: 'funded',
  payment_sent: 'paid',
  payment_received: 'confirmed',
  released: 'released',
  confirmed: 'completed',
};
const DIRECT_KIND_STEP: Readonly<Record<string, StepId>> = {
  accept: 'agreed',
  payment_sent: 'paid',
  payment_received: 'completed',
};
/** Events that end a trade off the happy path. */
const STOP_KINDS: ReadonlySet<string> = new Set([
  'reject',
  'cancel',
  'funding_expired',
  'payment_expired',
  'confirm_expired',
  'release_expired',
  'dispute',
  'resolve',
]);

/** Each kind of event in a trade's log, in words. */
const STEP_KIND_LABELS: Readonly<Record<string, string>> = {
  take_request: 'Take requested',
  counter: 'Countered',
  accept: 'Terms agreed',
  reject: 'Rejected',
  escrow_keys: 'Escrow keys exchanged',
  escrow_ready: 'Escrow addresses agreed',
  funded: 'Escrow funded',
  funding_lost: 'Funding lost in a chain reorganisation: waiting for it again',
  funding_seen: 'Funding seen on the network, unconfirmed',
  funding_dropped: 'Unconfirmed funding left the mempool (replaced or dropped): waiting for funding',
  payout_resent: 'A payout left the mempool or a reorganised block: broadcast again',
  payment_sent: 'Payment sent',
  payment_received: 'Payment confirmed',
  released: 'Escrow released',
  confirmed: 'Release confirmed on the chain',
  cancel: 'Cancelled',
  funding_expired: 'The funding deadline passed',
  payment_expired: 'The payment deadline passed',
  confirm_expired: 'The seller neither confirmed nor disputed the payment in time: the arbitrator decides',
  release_expired: 'The release deadline passed: the arbitrator decides',
  dispute: 'Dispute opened',
  resolve: 'The arbitrator decided',
  return: 'Return of coins to their sender signed',
};

/** A step kind of the trade's log in words; an unknown kind (a newer core) as its name. */
export function stepKindLabel(kind: string): string {
  return STEP_KIND_LABELS[kind] ?? kind.replace(/_/g, ' ');
}

/** Where an escrow trade that left the happy path stopped, from what its escrow shows. */
function stoppedAt(state: TradeState, escrow: EscrowView): StepId {
  switch (state) {
    case 'Cancelled':
      return escrow.address === null ? 'address' : 'funded';
    case 'Expired':
      return 'funded';
    default:
      // Disputed or Resolved: coins were locked; the parties could not finish.
      return escrow.release_txid === null ? 'paid' : 'released';
  }
}

/**
 * Where an escrow trade that left the path stopped, from its event log: the first step of the path that
 * never happened (a dispute from a funded escrow stops at "Payment sent", whatever the arbitrator decides).
 */
function firstUnreached(trade: TradeInfo): StepId | null {
  const happened = new Set<StepId>();
  for (const record of trade.steps) {
    // A reorg took the funding away: it has to happen again.
    if (record.kind === 'funding_lost') happened.delete('funded');
    const step = ESCROW_KIND_STEP[record.kind];
    if (step) happened.add(step);
  }
  return ESCROW_STEPS.map(([id]) => id).find((id) => !happened.has(id)) ?? null;
}

/** The step a trade is at now; with `stopped`, the trade ended there without completing. */
export function currentStep(trade: TradeInfo): { step: StepId | null; stopped: boolean } {
  const escrow = trade.escrow;
  switch (trade.state) {
    case 'Requested':
    case 'Countered':
      return { step: 'agreed', stopped: false };
    case 'Rejected':
      return { step: 'agreed', stopped: true };
    case 'Accepted':
      return { step: escrow ? 'address' : 'paid', stopped: false };
    case 'EscrowFunding':
      return { step: 'funded', stopped: false };
    case 'EscrowFunded':
      return { step: 'paid', stopped: false };
    case 'PaymentSent':
      return { step: escrow ? 'confirmed' : 'completed', stopped: false };
    case 'PaymentConfirmed':
      return { step: 'released', stopped: false };
    case 'Released':
      return { step: 'completed', stopped: false };
    case 'Completed':
      return { step: null, stopped: false };
    case 'Cancelled':
    case 'Expired':
    case 'Disputed':
    case 'Resolved':
      if (!escrow) return { step: trade.state === 'Cancelled' ? 'paid' : 'completed', stopped: true };
      // The event log says which steps happened; a view without it falls back on the escrow's fields.
      return { step: (trade.steps.length > 0 ? firstUnreached(trade) : null) ?? stoppedAt(trade.state, escrow), stopped: true };
    default:
      return { step: null, stopped: false };
  }
}

/** Every step of the trade's path (escrow or direct) with its status; exactly one is current or stopped, unless completed. */
export function timeline(trade: TradeInfo): TimelineStep[] {
  const steps = trade.escrow || trade.offer.escrow.kind === 'multisig' ? ESCROW_STEPS : DIRECT_STEPS;
  const { step, stopped } = currentStep(trade);
  const at = step === null ? steps.length : steps.findIndex(([id]) => id === step);
  return steps.map(([id, label], index) => ({
    id,
    label,
    status: index < at ? 'done' : index === at ? (stopped ? 'stopped' : 'current') : 'upcoming',
  }));
}

/**
 * When each step of the timeline happened (unix ms, as this node recorded it), from the trade's signed
 * event log; a trade that stopped has its stopping event's time on the step it stopped at.
 */
export function stepTimes(trade: TradeInfo): Partial<Record<StepId, number>> {
  const escrowPath = trade.escrow !== null || trade.offer.escrow.kind === 'multisig';
  const kindStep = escrowPath ? ESCROW_KIND_STEP : DIRECT_KIND_STEP;
  const times: Partial<Record<StepId, number>> = {};
  for (const record of trade.steps) {
    if (record.kind === 'funding_lost') delete times.funded;
    const step = kindStep[record.kind];
    if (step) times[step] = record.at;
  }
  const { step, stopped } = currentStep(trade);
  if (stopped && step) {
    const last = [...trade.steps].reverse().find((record) => STOP_KINDS.has(record.kind));
    if (last) times[step] = last.at;
  }
  return times;
}

/** Events that stop a trade for a reason its state does not say: a deadline passed. */
const DEADLINE_KINDS: ReadonlySet<string> = new Set(['funding_expired', 'payment_expired', 'confirm_expired', 'release_expired']);

/**
 * Why the trade is where it is, when its log says more than its state: the deadline that stopped it
 * (kept once the arbitrator decided, as the reason it was asked) on the step it stopped at, or a reorg
 * that took the funding away, or funding seen in the mempool (or gone from it) on the funding step.
 */
export function stepNote(trade: TradeInfo): { step: StepId; text: string } | null {
  const { step, stopped } = currentStep(trade);
  if (step === null) return null;
  if (stopped) {
    const last = [...trade.steps].reverse().find((record) => DEADLINE_KINDS.has(record.kind));
    return last ? { step, text: stepKindLabel(last.kind) } : null;
  }
  if (trade.state === 'EscrowFunding') {
    const noted = new Set(['funded', 'funding_lost', 'funding_seen', 'funding_dropped']);
    const last = [...trade.steps].reverse().find((record) => noted.has(record.kind));
    if (last?.kind === 'funding_seen' && (trade.escrow?.pending_funding.length ?? 0) === 0) return null;
    return last && last.kind !== 'funded' ? { step, text: stepKindLabel(last.kind) } : null;
  }
  return null;
}

/** The deadline that applies to the step a trade is at, if any. */
export function activeDeadline(trade: TradeInfo): { step: StepId; deadline: number; what: string } | null {
  const escrow = trade.escrow;
  if (!escrow) return null;
  if (trade.state === 'EscrowFunding' && escrow.funding_deadline !== null) {
    return { step: 'funded', deadline: escrow.funding_deadline, what: 'Funding deadline' };
  }
  if (trade.state === 'EscrowFunded' && escrow.payment_deadline !== null) {
    return { step: 'paid', deadline: escrow.payment_deadline, what: 'Payment deadline' };
  }
  if (trade.state === 'PaymentConfirmed' && escrow.release_txid === null && escrow.release_deadline !== null) {
    return { step: 'released', deadline: escrow.release_deadline, what: 'Release deadline' };
  }
  return null;
}

/** A live offer of mine and the trades on it, for "who is taking them". */
export function tradesByOffer(trades: TradeInfo[]): Map<string, TradeInfo[]> {
  const byOffer = new Map<string, TradeInfo[]>();
  for (const trade of trades) {
    if (trade.role !== 'maker') continue;
    const list = byOffer.get(trade.offer.id) ?? [];
    list.push(trade);
    byOffer.set(trade.offer.id, list);
  }
  return byOffer;
}

/** Remaining time as a person reads it: "2 d 4 h", "1 h 05 min", "4 min 09 s", "12 s"; null once passed. */
export function formatCountdown(remainingMs: number): string | null {
  if (remainingMs <= 0) return null;
  const total = Math.ceil(remainingMs / 1000);
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = total % 60;
  const two = (n: number) => n.toString().padStart(2, '0');
  if (days > 0) return `${days.toString()} d ${hours.toString()} h`;
  if (hours > 0) return `${hours.toString()} h ${two(minutes)} min`;
  if (minutes > 0) return `${minutes.toString()} min ${two(seconds)} s`;
  return `${seconds.toString()} s`;
}

/** A payment URI for wallets (BIP 21 style): the address and, when known, the amount in whole coins. */
export function paymentUri(asset: 'BTC' | 'LTC', address: string, amount: string | null): string {
  const scheme = asset === 'BTC' ? 'bitcoin' : 'litecoin';
  return amount ? `${scheme}:${address}?amount=${amount}` : `${scheme}:${address}`;
}
