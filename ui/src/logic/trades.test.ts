import { describe, expect, it } from 'vitest';
import type { EscrowView, TradeInfo, TradeState } from '../bindings';
import { fakeMessage, fakeOffer, fakeTrade } from '../test/fakeBackend';
import {
  activeDeadline,
  chatMark,
  currentStep,
  formatCountdown,
  markDelivered,
  markRead,
  mySide,
  negotiationActions,
  orderChat,
  settlementActions,
  stepKindLabel,
  stepNote,
  stepTimes,
  timeline,
  tradesByOffer,
  upsertMessage,
  upsertTrade,
} from './trades';

function escrow(overrides: Partial<EscrowView> = {}): EscrowView {
  return {
    chain: 'ltc',
    network: 'regtest',
    side: 'seller',
    address: null,
    required: 1_300_000,
    amount: 1_000_000,
    buyer_deposit: 150_000,
    seller_deposit: 150_000,
    my_funding: 1_150_000,
    my_address: null,
    counterparty_address: null,
    arbitrator: null,
    funded: 0,
    funding_confirmations: 0,
    funding_txids: [],
    pending_funding: [],
    funding_deadline: null,
    payment_deadline: null,
    release_deadline: null,
    release_txid: null,
    release_confirmations: 0,
    seller_escrow_address: null,
    buyer_escrow_address: null,
    backup_arbitrator: null,
    seller_funded: 0,
    buyer_funded: 0,
    backup_after_blocks: 20,
    reclaim_after_blocks: 40,
    returns: [],
    decision: null,
    fee_reserve: null,
    recovery_copy_at: null,
    arbitrator_copy_at: null,
    ...overrides,
  };
}

function escrowTrade(state: TradeState, e: Partial<EscrowView> = {}, over: Partial<TradeInfo> = {}): TradeInfo {
  return fakeTrade({
    state,
    offer: fakeOffer({ escrow: { kind: 'multisig', arbitrators: ['arb'] } }),
    escrow: escrow(e),
    ...over,
  });
}

const currentOf = (trade: TradeInfo) => timeline(trade).find((s) => s.status === 'current' || s.status === 'stopped')?.id ?? null;

describe('the escrow timeline', () => {
  it('has one current step for each state on the happy path', () => {
    expect(currentOf(escrowTrade('Accepted'))).toBe('address');
    expect(currentOf(escrowTrade('Accepted', { my_address: 'a', counterparty_address: 'b' }))).toBe('address');
    expect(currentOf(escrowTrade('EscrowFunding', { address: 'x' }))).toBe('funded');
    expect(currentOf(escrowTrade('EscrowFunded'))).toBe('paid');
    expect(currentOf(escrowTrade('PaymentSent'))).toBe('confirmed');
    expect(currentOf(escrowTrade('PaymentConfirmed'))).toBe('released');
    expect(currentOf(escrowTrade('Released'))).toBe('completed');
    expect(timeline(escrowTrade('Completed')).every((s) => s.status === 'done')).toBe(true);
  });

  it('marks steps before the current one done and after it upcoming', () => {
    const steps = timeline(escrowTrade('EscrowFunded'));
    expect(steps.map((s) => [s.id, s.status])).toEqual([
      ['agreed', 'done'],
      ['address', 'done'],
      ['funded', 'done'],
      ['paid', 'current'],
      ['confirmed', 'upcoming'],
      ['released', 'upcoming'],
      ['completed', 'upcoming'],
    ]);
  });

  it('shows where a trade that left the path stopped', () => {
    expect(timeline(escrowTrade('Cancelled')).find((s) => s.status === 'stopped')?.id).toBe('address');
    expect(timeline(escrowTrade('Cancelled', { address: 'x' })).find((s) => s.status === 'stopped')?.id).toBe('funded');
    expect(timeline(escrowTrade('Expired', { address: 'x' })).find((s) => s.status === 'stopped')?.id).toBe('funded');
    expect(timeline(escrowTrade('Disputed', { address: 'x' })).find((s) => s.status === 'stopped')?.id).toBe('paid');
    expect(currentStep(fakeTrade({ state: 'Rejected' }))).toEqual({ step: 'agreed', stopped: true });
  });

  it('uses the short path for trades without escrow', () => {
    const steps = timeline(fakeTrade({ state: 'PaymentSent' }));
    expect(steps.map((s) => [s.id, s.status])).toEqual([
      ['agreed', 'done'],
      ['paid', 'done'],
      ['completed', 'current'],
    ]);
    expect(currentOf(fakeTrade({ state: 'Requested' }))).toBe('agreed');
  });

  it('dates each step from the signed event log, on either path', () => {
    const log = (...kinds: string[]) => kinds.map((kind, i) => ({ kind, at: 1_000 * (i + 1), mine: i % 2 === 0 }));
    const escrowSteps = log('take_request', 'accept', 'escrow_keys', 'escrow_keys', 'escrow_ready', 'funded', 'payment_sent', 'payment_received', 'released', 'confirmed');
    expect(stepTimes(escrowTrade('Completed', {}, { steps: escrowSteps }))).toEqual({
      agreed: 2_000,
      address: 5_000,
      funded: 6_000,
      paid: 7_000,
      confirmed: 8_000,
      released: 9_000,
      completed: 10_000,
    });
    // Without escrow, the seller's confirmation completes the trade.
    const direct = fakeTrade({ state: 'Completed', steps: log('take_request', 'accept', 'payment_sent', 'payment_received') });
    expect(stepTimes(direct)).toEqual({ agreed: 2_000, paid: 3_000, completed: 4_000 });
    // Nothing recorded yet: no times.
    expect(stepTimes(escrowTrade('Accepted'))).toEqual({});
  });

  it('dates the step a trade stopped at by the event that stopped it', () => {
    const disputed = escrowTrade('Disputed', { address: 'x' }, {
      steps: [
        { kind: 'accept', at: 1, mine: true },
        { kind: 'escrow_ready', at: 2, mine: true },
        { kind: 'funded', at: 3, mine: true },
        { kind: 'dispute', at: 4, mine: false },
      ],
    });
    expect(stepTimes(disputed)).toEqual({ agreed: 1, address: 2, funded: 3, paid: 4 });
    // The winner's view carries the payout txid, yet the trade stopped where the dispute was opened.
    const resolved = {
      ...disputed,
      state: 'Resolved' as const,
      escrow: escrow({ address: 'x', release_txid: 'ab'.repeat(32) }),
      steps: [...disputed.steps, { kind: 'resolve', at: 9, mine: false }],
    };
    expect(stepTimes(resolved).paid).toBe(9);
    expect(timeline(resolved).map((s) => s.status)).toEqual(['done', 'done', 'done', 'stopped', 'upcoming', 'upcoming', 'upcoming']);
    const rejected = fakeTrade({ state: 'Rejected', steps: [{ kind: 'take_request', at: 1, mine: false }, { kind: 'reject', at: 5, mine: true }] });
    expect(stepTimes(rejected)).toEqual({ agreed: 5 });
  });

  it('puts every step kind into words, the new ones too', () => {
    expect(stepKindLabel('funding_lost')).toBe('Funding lost in a chain reorganisation: waiting for it again');
    expect(stepKindLabel('confirm_expired')).toBe(
      'The seller neither confirmed nor disputed the payment in time: the arbitrator decides',
    );
    expect(stepKindLabel('return')).toBe('Return of coins to their sender signed');
    expect(stepKindLabel('payment_expired')).toBe('The payment deadline passed');
    // A kind a newer core sends still reads as words.
    expect(stepKindLabel('some_new_kind')).toBe('some new kind');
  });

  it('takes a funding a reorg took away off the timeline: the funding step is current again, or where an expired trade stopped', () => {
    const steps = [
      { kind: 'accept', at: 1, mine: true },
      { kind: 'escrow_ready', at: 2, mine: true },
      { kind: 'funded', at: 3, mine: true },
      { kind: 'funding_lost', at: 4, mine: true },
    ];
    const waiting = escrowTrade('EscrowFunding', { address: 'x' }, { steps });
    expect(currentOf(waiting)).toBe('funded');
    expect(stepTimes(waiting)).toEqual({ agreed: 1, address: 2 });
    expect(stepNote(waiting)).toEqual({ step: 'funded', text: stepKindLabel('funding_lost') });
    const expired = escrowTrade('Expired', { address: 'x' }, { steps: [...steps, { kind: 'funding_expired', at: 5, mine: true }] });
    expect(currentStep(expired)).toEqual({ step: 'funded', stopped: true });
    expect(stepTimes(expired)).toEqual({ agreed: 1, address: 2, funded: 5 });
    expect(stepNote(expired)).toEqual({ step: 'funded', text: 'The funding deadline passed' });
    // Funded again after the reorg: nothing to explain.
    const refunded = escrowTrade('EscrowFunded', { address: 'x' }, { steps: [...steps, { kind: 'funded', at: 6, mine: true }] });
    expect(stepTimes(refunded).funded).toBe(6);
    expect(stepNote(refunded)).toBeNull();
  });

  it('stops a trade whose seller stayed silent after the payment at the confirmation, and keeps the reason once decided', () => {
    const steps = [
      { kind: 'accept', at: 1, mine: true },
      { kind: 'escrow_ready', at: 2, mine: true },
      { kind: 'funded', at: 3, mine: true },
      { kind: 'payment_sent', at: 4, mine: true },
      { kind: 'confirm_expired', at: 5, mine: true },
    ];
    const disputed = escrowTrade('Disputed', { address: 'x' }, { steps });
    expect(currentStep(disputed)).toEqual({ step: 'confirmed', stopped: true });
    expect(stepTimes(disputed).confirmed).toBe(5);
    expect(stepNote(disputed)).toEqual({ step: 'confirmed', text: stepKindLabel('confirm_expired') });
    const resolved = escrowTrade('Resolved', { address: 'x' }, { steps: [...steps, { kind: 'resolve', at: 9, mine: false }] });
    expect(stepNote(resolved)?.text).toBe(stepKindLabel('confirm_expired'));
    // A return step is no stop: a cancelled trade is dated by its cancel, and its state says it all.
    const cancelled = escrowTrade('Cancelled', { address: 'x' }, {
      steps: [...steps.slice(0, 2), { kind: 'cancel', at: 6, mine: false }, { kind: 'return', at: 7, mine: true }],
    });
    expect(stepTimes(cancelled).funded).toBe(6);
    expect(stepNote(cancelled)).toBeNull();
  });

  it('names the deadline of the current step only', () => {
    const deadlines = { funding_deadline: 1_000, payment_deadline: 2_000, release_deadline: 3_000 };
    expect(activeDeadline(escrowTrade('EscrowFunding', deadlines))).toMatchObject({ step: 'funded', deadline: 1_000 });
    expect(activeDeadline(escrowTrade('EscrowFunded', deadlines))).toMatchObject({ step: 'paid', deadline: 2_000 });
    expect(activeDeadline(escrowTrade('PaymentSent', deadlines))).toBeNull();
    expect(activeDeadline(escrowTrade('PaymentConfirmed', deadlines))).toMatchObject({ step: 'released', deadline: 3_000 });
    expect(activeDeadline(escrowTrade('PaymentConfirmed', { ...deadlines, release_txid: 'ab' }))).toBeNull();
    expect(activeDeadline(fakeTrade({ state: 'Accepted' }))).toBeNull();
  });
});

describe('who may do what now', () => {
  it('lets the maker answer a take and the taker answer a counter, nobody else', () => {
    expect(negotiationActions(fakeTrade({ state: 'Requested', role: 'maker' }))).toEqual(['accept', 'counter', 'reject']);
    expect(negotiationActions(fakeTrade({ state: 'Requested', role: 'taker' }))).toEqual([]);
    expect(negotiationActions(fakeTrade({ state: 'Countered', role: 'taker' }))).toEqual(['accept', 'reject']);
    expect(negotiationActions(fakeTrade({ state: 'Countered', role: 'maker' }))).toEqual([]);
    expect(negotiationActions(fakeTrade({ state: 'Accepted', role: 'maker' }))).toEqual([]);
  });

  it('offers the settlement steps of the transition table for this side', () => {
    expect(settlementActions(escrowTrade('Accepted'))).toEqual(['address', 'cancel']);
    expect(settlementActions(escrowTrade('Accepted', { my_address: 'a' }))).toEqual(['cancel']);
    expect(settlementActions(escrowTrade('EscrowFunding'))).toEqual(['cancel']);
    expect(settlementActions(escrowTrade('EscrowFunded', { side: 'buyer' }))).toEqual(['paid', 'dispute']);
    expect(settlementActions(escrowTrade('EscrowFunded', { side: 'seller' }))).toEqual(['dispute']);
    expect(settlementActions(escrowTrade('PaymentSent', { side: 'seller' }))).toEqual(['received', 'dispute']);
    expect(settlementActions(escrowTrade('PaymentConfirmed', { side: 'buyer' }))).toEqual(['dispute']);
    expect(settlementActions(escrowTrade('PaymentConfirmed', { side: 'seller' }))).toEqual([]);
    expect(settlementActions(escrowTrade('Completed'))).toEqual([]);
    // Without escrow: the maker of a sell offer sells, its taker buys.
    const direct = fakeTrade({ state: 'Accepted', role: 'taker' });
    expect(mySide(direct)).toBe('buyer');
    expect(settlementActions(direct)).toEqual(['paid', 'cancel']);
    expect(settlementActions({ ...direct, role: 'maker' })).toEqual(['cancel']);
    expect(settlementActions({ ...direct, role: 'maker', state: 'PaymentSent' })).toEqual(['received']);
  });
});

describe('trade and chat lists', () => {
  it('replaces a trade in place and adds new ones on top, never going back to an older view', () => {
    const a = fakeTrade({ id: 'a', updated_at: 10 });
    const b = fakeTrade({ id: 'b', updated_at: 20 });
    const list = [b, a];
    expect(upsertTrade(list, { ...a, state: 'Accepted', updated_at: 30 }).map((t) => [t.id, t.state])).toEqual([
      ['b', 'Requested'],
      ['a', 'Accepted'],
    ]);
    expect(upsertTrade(list, { ...a, state: 'Countered', updated_at: 5 })).toBe(list);
    expect(upsertTrade(list, fakeTrade({ id: 'c' }))[0]?.id).toBe('c');
  });

  it('orders chat by sender time, sender, then sequence, and drops duplicates', () => {
    const m1 = fakeMessage({ id: '1', sent_at: 100, sender: 'B', seq: 1 });
    const m2 = fakeMessage({ id: '2', sent_at: 100, sender: 'A', seq: 7 });
    const m3 = fakeMessage({ id: '3', sent_at: 50, sender: 'B', seq: 0 });
    expect(orderChat([m1, m2, m3]).map((m) => m.id)).toEqual(['3', '2', '1']);
    expect(upsertMessage([m3, m1], m1).map((m) => m.id)).toEqual(['3', '1']);
  });

  it('marks outgoing messages delivered and read up to a sequence number', () => {
    const log = [
      fakeMessage({ id: 'o1', outgoing: true, seq: 1, delivered_at: null }),
      fakeMessage({ id: 'o2', outgoing: true, seq: 2, delivered_at: null }),
      fakeMessage({ id: 'i1', outgoing: false, seq: 1, delivered_at: 5 }),
    ];
    const delivered = markDelivered(log, 1, 99);
    expect(delivered.map(chatMark)).toEqual(['delivered', 'sending', 'delivered']);
    const read = markRead(delivered, 2, 100);
    expect(read.map((m) => [m.id, chatMark(m)])).toEqual([
      ['o1', 'read'],
      ['o2', 'read'],
      ['i1', 'delivered'],
    ]);
    expect(read[1]?.delivered_at).toBe(100);
  });

  it('groups the trades on my offers by offer', () => {
    const mine = fakeTrade({ id: 't1' });
    const other = fakeTrade({ id: 't2', role: 'taker' });
    const byOffer = tradesByOffer([mine, other]);
    expect(byOffer.get(mine.offer.id)?.map((t) => t.id)).toEqual(['t1']);
    expect(byOffer.has(other.offer.id)).toBe(false);
  });
});

describe('formatCountdown', () => {
  it('reads like a person would say it, and is null once passed', () => {
    expect(formatCountdown(2 * 86_400_000 + 4 * 3_600_000)).toBe('2 d 4 h');
    expect(formatCountdown(3_600_000 + 5 * 60_000)).toBe('1 h 05 min');
    expect(formatCountdown(4 * 60_000 + 9_000)).toBe('4 min 09 s');
    expect(formatCountdown(11_200)).toBe('12 s');
    expect(formatCountdown(0)).toBeNull();
    expect(formatCountdown(-5)).toBeNull();
  });
});
