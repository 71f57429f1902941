import { describe, expect, it } from 'vitest';
import { isOverState, negotiationStep, tradeStep } from './protocol';

describe('the protocol rules, from the core tables', () => {
  it('lets the maker answer a take and the taker answer a counter, nobody else', () => {
    expect(negotiationStep('Requested', 'maker', 'accept')).toEqual({ to: 'Accepted' });
    expect(negotiationStep('Requested', 'maker', 'counter')).toEqual({ to: 'Countered' });
    expect(negotiationStep('Countered', 'taker', 'reject')).toEqual({ to: 'Rejected' });
    expect(negotiationStep('Requested', 'taker', 'accept')).toEqual({
      refused: "not the taker's turn: the negotiation is requested, waiting for the maker",
    });
    expect(negotiationStep('Countered', 'taker', 'counter')).toEqual({ refused: 'the taker never sends counter' });
    expect(negotiationStep('Accepted', 'maker', 'accept')).toEqual({
      refused: 'the negotiation is already finished (accepted)',
    });
    expect(negotiationStep(null, 'taker', 'take_request')).toEqual({ to: 'Requested' });
  });

  it('follows the steps after agreement, with and without escrow', () => {
    expect(tradeStep('Accepted', 'buyer', 'payment_sent', false)).toEqual({ to: 'PaymentSent' });
    expect(tradeStep('Accepted', 'buyer', 'payment_sent', true)).toEqual({
      refused: 'the buyer cannot payment_sent while the trade is Accepted',
    });
    expect(tradeStep('PaymentSent', 'seller', 'payment_received', false)).toEqual({ to: 'Completed' });
    expect(tradeStep('PaymentSent', 'seller', 'payment_received', true)).toEqual({ to: 'PaymentConfirmed' });
    expect(tradeStep('PaymentSent', 'buyer', 'dispute', false)).toEqual({
      refused: 'dispute is not a step of a trade without escrow',
    });
    expect(tradeStep('EscrowFunded', 'seller', 'cancel', true)).toEqual({
      refused: 'the seller cannot cancel while the trade is EscrowFunded',
    });
    expect(tradeStep('Completed', 'buyer', 'dispute', true)).toEqual({
      refused: 'the trade is Completed: it is over, nothing can follow',
    });
  });

  it('knows which states end a trade', () => {
    const over = (['Requested', 'Countered', 'Accepted', 'Rejected', 'EscrowFunding', 'EscrowFunded', 'PaymentSent',
      'PaymentConfirmed', 'Released', 'Completed', 'Cancelled', 'Expired', 'Disputed', 'Resolved'] as const)
      .filter(isOverState);
    expect(over).toEqual(['Rejected', 'Completed', 'Cancelled', 'Expired', 'Resolved']);
  });
});

describe("the UI tests' fake backend", () => {
  it('refuses what a node refuses, with the reason a node gives', async () => {
    const { FakeBackend, fakeOffer, fakeTrade, FAKE_PEER_ID } = await import('../test/fakeBackend');
    const fake = new FakeBackend();
    // This node made a sell offer with an escrow: it is the seller; the taker is the buyer.
    const offer = fakeOffer({ maker: FAKE_PEER_ID, escrow: { kind: 'multisig', arbitrators: ['12D3KooWArbiter'] } });
    const trade = fakeTrade({ offer, role: 'maker', state: 'Requested' });
    fake.tradeList = [trade];
    await expect(fake.markPaid(trade.id)).rejects.toThrow('the seller cannot payment_sent while the trade is Requested');
    await expect(fake.answerTrade(trade.id, { kind: 'accept' })).resolves.toMatchObject({ state: 'Accepted' });
    await expect(fake.answerTrade(trade.id, { kind: 'reject', reason: 'late' })).rejects.toThrow(
      'the negotiation is already finished (accepted)',
    );
    // With an escrow, coins must be in it before anyone pays; before that either side may walk away.
    await expect(fake.markReceived(trade.id)).rejects.toThrow('the seller cannot payment_received while the trade is Accepted');
    await expect(fake.cancelTrade(trade.id, 'changed my mind')).resolves.toMatchObject({ state: 'Cancelled' });
    await expect(fake.disputeTrade(trade.id, 'too late')).rejects.toThrow('the trade is Cancelled: it is over');
  });
});
