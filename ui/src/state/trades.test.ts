import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import type { ChatMessage, TradeInfo } from '../bindings';
import { fakeMessage, fakeTrade } from '../test/fakeBackend';
import { applyTradeSignal, storeTrade, tradeKeys } from './trades';

function client() {
  return new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
}

describe('applyTradeSignal', () => {
  it('adds a take to the list at once and stores the trade itself', () => {
    const qc = client();
    const old = fakeTrade({ id: 'old' });
    qc.setQueryData(tradeKeys.list, [old]);
    const taken = fakeTrade({ id: 'new' });
    applyTradeSignal(qc, { kind: 'take_requested', trade: taken });
    expect(qc.getQueryData<TradeInfo[]>(tradeKeys.list)?.map((t) => t.id)).toEqual(['new', 'old']);
    expect(qc.getQueryData(tradeKeys.detail('new'))).toEqual(taken);
  });

  it('lists a trade that came back from its recovery copy', () => {
    const qc = client();
    qc.setQueryData(tradeKeys.list, []);
    const back = fakeTrade({ id: 'back', state: 'EscrowFunded' });
    applyTradeSignal(qc, { kind: 'recovered', trade: back });
    expect(qc.getQueryData<TradeInfo[]>(tradeKeys.list)?.map((t) => t.id)).toEqual(['back']);
    expect(qc.getQueryData(tradeKeys.detail('back'))).toEqual(back);
  });

  it('replaces an updated trade in place, and ignores a view older than the one it has', () => {
    const qc = client();
    const a = fakeTrade({ id: 'a', updated_at: 10 });
    const b = fakeTrade({ id: 'b', updated_at: 10 });
    qc.setQueryData(tradeKeys.list, [a, b]);
    applyTradeSignal(qc, { kind: 'trade_updated', trade: { ...b, state: 'Accepted', updated_at: 20 } });
    expect(qc.getQueryData<TradeInfo[]>(tradeKeys.list)?.map((t) => [t.id, t.state])).toEqual([
      ['a', 'Requested'],
      ['b', 'Accepted'],
    ]);
    storeTrade(qc, { ...b, state: 'Countered', updated_at: 15 });
    expect(qc.getQueryData<TradeInfo>(tradeKeys.detail('b'))?.state).toBe('Accepted');
  });

  it('puts a message into its chat in order, once, and re-reads the unread count for incoming ones', () => {
    const qc = client();
    const first = fakeMessage({ id: 'm1', trade_id: 't', sent_at: 10 });
    qc.setQueryData(tradeKeys.chat('t'), [first]);
    qc.setQueryData(tradeKeys.list, [fakeTrade({ id: 't' })]);
    const earlier = fakeMessage({ id: 'm0', trade_id: 't', sent_at: 5 });
    applyTradeSignal(qc, { kind: 'message', message: earlier });
    applyTradeSignal(qc, { kind: 'message', message: earlier });
    expect(qc.getQueryData<ChatMessage[]>(tradeKeys.chat('t'))?.map((m) => m.id)).toEqual(['m0', 'm1']);
    expect(qc.getQueryState(tradeKeys.list)?.isInvalidated).toBe(true);
    // A chat not loaded yet stays unloaded: it is read whole when opened.
    applyTradeSignal(qc, { kind: 'message', message: fakeMessage({ trade_id: 'other' }) });
    expect(qc.getQueryData(tradeKeys.chat('other'))).toBeUndefined();
  });

  it('marks outgoing messages delivered, then read, from receipts', () => {
    const qc = client();
    qc.setQueryData(tradeKeys.chat('t'), [
      fakeMessage({ id: 'o1', trade_id: 't', outgoing: true, seq: 4, delivered_at: null }),
      fakeMessage({ id: 'o2', trade_id: 't', outgoing: true, seq: 5, delivered_at: null }),
    ]);
    applyTradeSignal(qc, { kind: 'delivered', trade_id: 't', up_to: 5 }, 77);
    expect(qc.getQueryData<ChatMessage[]>(tradeKeys.chat('t'))?.map((m) => m.delivered_at)).toEqual([77, 77]);
    applyTradeSignal(qc, { kind: 'read', trade_id: 't', up_to: 4 }, 88);
    expect(qc.getQueryData<ChatMessage[]>(tradeKeys.chat('t'))?.map((m) => m.read_at)).toEqual([88, null]);
  });

  it('re-reads every trade and chat on resync', () => {
    const qc = client();
    qc.setQueryData(tradeKeys.list, []);
    qc.setQueryData(tradeKeys.detail('t'), fakeTrade());
    qc.setQueryData(tradeKeys.chat('t'), []);
    applyTradeSignal(qc, { kind: 'resync' });
    for (const key of [tradeKeys.list, tradeKeys.detail('t'), tradeKeys.chat('t')]) {
      expect(qc.getQueryState(key)?.isInvalidated).toBe(true);
    }
  });
});
