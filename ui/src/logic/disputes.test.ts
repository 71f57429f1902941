import { describe, expect, it } from 'vitest';
import { fakeDispute } from '../test/fakeBackend';
import {
  disputeStateLabel,
  escrowTotal,
  openedByLabel,
  orderDisputes,
  parseTranscriptLine,
  payoutSummary,
  upsertDispute,
} from './disputes';

describe('the dispute list', () => {
  it('puts open disputes first, then decided ones, newest first in each', () => {
    const list = [
      fakeDispute({ trade_id: 'old-open', opened_at: 1 }),
      fakeDispute({ trade_id: 'new-decided', opened_at: 9, resolved_to: 'buyer', resolved_at: 10 }),
      fakeDispute({ trade_id: 'new-open', opened_at: 5 }),
      fakeDispute({ trade_id: 'old-decided', opened_at: 2, resolved_to: 'seller', resolved_at: 3 }),
    ];
    expect(orderDisputes(list).map((d) => d.trade_id)).toEqual(['new-open', 'old-open', 'new-decided', 'old-decided']);
  });

  it('moves a dispute down once decided, and adds a new one in its place', () => {
    const a = fakeDispute({ trade_id: 'a', opened_at: 5 });
    const b = fakeDispute({ trade_id: 'b', opened_at: 4 });
    const decided = upsertDispute([a, b], { ...a, resolved_to: 'seller', resolved_at: 6 });
    expect(decided.map((d) => [d.trade_id, d.resolved_to])).toEqual([
      ['b', null],
      ['a', 'seller'],
    ]);
    expect(upsertDispute(decided, fakeDispute({ trade_id: 'c', opened_at: 1 })).map((d) => d.trade_id)).toEqual(['b', 'c', 'a']);
  });

  it('says the state, and who opened it: a party’s signed step or a deadline', () => {
    const open = fakeDispute();
    expect(disputeStateLabel(open)).toBe('Open');
    expect(disputeStateLabel({ ...open, cases: open.cases.slice(0, 1) })).toBe('Open: one case so far');
    expect(disputeStateLabel({ ...open, resolved_to: 'seller' })).toBe('Resolved to the seller');
    expect(openedByLabel(open)).toBe('the buyer');
    expect(openedByLabel({ ...open, opened_by: null })).toMatch(/^a deadline/);
  });
});

describe('the decision', () => {
  it('says what will be paid to whom: everything in the escrow, less the fee, to the winner’s own address', () => {
    const dispute = fakeDispute();
    expect(escrowTotal(dispute)).toBe(130_000_000);
    const toBuyer = payoutSummary(dispute, 'buyer');
    expect(toBuyer).toContain('1.3 LTC (1 LTC traded, 0.15 LTC buyer’s deposit, 0.15 LTC seller’s deposit)');
    expect(toBuyer).toContain('is paid to the buyer’s address rltc1qbuyerpayoutaddress');
    expect(toBuyer).toContain('The seller gets nothing from the escrow');
    const toSeller = payoutSummary(dispute, 'seller');
    expect(toSeller).toContain('the seller’s address rltc1qsellerrefundaddress');
    expect(toSeller).toContain('The buyer gets nothing');
  });
});

describe('transcript lines', () => {
  it('reads time and author from the reporting party’s side', () => {
    expect(parseTranscriptLine('1700000000000 me: paid', 'buyer')).toEqual({ at: 1_700_000_000_000, from: 'buyer', text: 'paid' });
    expect(parseTranscriptLine('1700000000000 them: paid', 'buyer')).toEqual({ at: 1_700_000_000_000, from: 'seller', text: 'paid' });
    expect(parseTranscriptLine('5 me: multi\nline: text', 'seller')).toEqual({ at: 5, from: 'seller', text: 'multi\nline: text' });
  });

  it('keeps a line of any other shape whole, as text', () => {
    const odd = '<b>not</b> a transcript line';
    expect(parseTranscriptLine(odd, 'seller')).toEqual({ at: null, from: null, text: odd });
    expect(parseTranscriptLine('12 someone: hi', 'buyer')).toEqual({ at: null, from: null, text: '12 someone: hi' });
  });
});
