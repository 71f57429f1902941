import { describe, expect, it } from 'vitest';
import type { BookEntry, MarketPrice, MyOffer } from '../bindings';
import { pagedEntries, pagedTotal } from '../logic/book';
import type { PagedSide } from '../logic/book';
import { FAKE_PEER_ID, fakeEntry, fakeOffer } from '../test/fakeBackend';
import { createQueryClient } from './queryClient';
import { applyMarketSignal, marketKeys } from './market';

/** One side read in one page holding `entries`. */
const oneSide = (entries: BookEntry[]): PagedSide => ({
  pages: [{ entries, total: entries.length, total_capped: false, next: null }],
  pageParams: [null],
});

const BTC_SELLS = marketKeys.bookSide('BTC', 'EUR', 'sell');
const LTC_SELLS = marketKeys.bookSide('LTC', 'USD', 'sell');
const sideOf = (client: ReturnType<typeof createQueryClient>, key: readonly unknown[]) =>
  client.getQueryData<PagedSide>(key);

function seeded() {
  const client = createQueryClient();
  const existing = fakeEntry({ id: 'existing' });
  client.setQueryData<PagedSide>(BTC_SELLS, oneSide([existing]));
  client.setQueryData<PagedSide>(LTC_SELLS, oneSide([fakeEntry({ id: 'ltc', base: 'LTC', quote: 'USD' })]));
  client.setQueryData<MyOffer[]>(marketKeys.mine, []);
  return { client, existing };
}

const isInvalid = (client: ReturnType<typeof createQueryClient>, key: readonly unknown[]) =>
  client.getQueryState(key)?.isInvalidated ?? false;

describe('applyMarketSignal', () => {
  it('shows a new offer in its own market at once, then re-reads that book', () => {
    const { client } = seeded();
    const offer = fakeOffer({ id: 'new', price: { fixed: '58000' } });
    applyMarketSignal(client, { kind: 'offer_added', offer }, FAKE_PEER_ID, 42);
    const book = pagedEntries(sideOf(client, BTC_SELLS));
    expect(book.map((e) => e.offer.id)).toEqual(['existing', 'new']);
    expect(book[1]).toMatchObject({ mine: false, maker_last_seen: 42, effective_price: '58000' });
    expect(pagedTotal(sideOf(client, BTC_SELLS))).toEqual({ count: 2, capped: false });
    expect(isInvalid(client, BTC_SELLS)).toBe(true);
    // Other markets and someone else's offer leave the rest alone.
    expect(pagedEntries(sideOf(client, LTC_SELLS))).toHaveLength(1);
    expect(isInvalid(client, LTC_SELLS)).toBe(false);
    expect(isInvalid(client, marketKeys.mine)).toBe(false);
  });

  it('refreshes My offers when the new offer is mine, and never duplicates an offer', () => {
    const { client } = seeded();
    const offer = fakeOffer({ id: 'mine', maker: FAKE_PEER_ID });
    applyMarketSignal(client, { kind: 'offer_added', offer }, FAKE_PEER_ID);
    applyMarketSignal(client, { kind: 'offer_added', offer }, FAKE_PEER_ID);
    const book = pagedEntries(sideOf(client, BTC_SELLS));
    expect(book.filter((e) => e.offer.id === 'mine')).toHaveLength(1);
    expect(book.find((e) => e.offer.id === 'mine')?.mine).toBe(true);
    expect(pagedTotal(sideOf(client, BTC_SELLS)).count).toBe(2);
    expect(isInvalid(client, marketKeys.mine)).toBe(true);
  });

  it('does not create a book nobody is looking at', () => {
    const { client } = seeded();
    applyMarketSignal(client, { kind: 'offer_added', offer: fakeOffer({ quote: 'GBP' }) }, FAKE_PEER_ID);
    expect(client.getQueryData(marketKeys.bookSide('BTC', 'GBP', 'sell'))).toBeUndefined();
    // Nor a side nobody is looking at.
    applyMarketSignal(client, { kind: 'offer_added', offer: fakeOffer({ id: 'b', side: 'buy' }) }, FAKE_PEER_ID);
    expect(client.getQueryData(marketKeys.bookSide('BTC', 'EUR', 'buy'))).toBeUndefined();
    expect(pagedEntries(sideOf(client, BTC_SELLS)).map((e) => e.offer.id)).toEqual(['existing']);
  });

  it('removes a withdrawn offer from every book at once', () => {
    const { client } = seeded();
    applyMarketSignal(client, { kind: 'offer_withdrawn', id: 'existing' }, FAKE_PEER_ID);
    expect(pagedEntries(sideOf(client, BTC_SELLS))).toEqual([]);
    expect(pagedTotal(sideOf(client, BTC_SELLS)).count).toBe(0);
    expect(pagedEntries(sideOf(client, LTC_SELLS))).toHaveLength(1);
    expect(isInvalid(client, marketKeys.mine)).toBe(true);
  });

  it('stores a new market price and re-reads that market’s book', () => {
    const { client } = seeded();
    const old: MarketPrice = { base: 'BTC', quote: 'EUR', price: '1', fetched_at_ms: 1, source: 'coinbase' };
    client.setQueryData(marketKeys.price('BTC', 'EUR'), old);
    applyMarketSignal(client, { kind: 'price_updated', base: 'BTC', quote: 'EUR', price: '60500.5' }, FAKE_PEER_ID, 99);
    expect(client.getQueryData(marketKeys.price('BTC', 'EUR'))).toEqual({
      base: 'BTC',
      quote: 'EUR',
      price: '60500.5',
      fetched_at_ms: 99,
      source: 'coinbase',
    });
    expect(isInvalid(client, BTC_SELLS)).toBe(true);
    expect(isInvalid(client, LTC_SELLS)).toBe(false);
  });

  it('re-reads everything on resync', () => {
    const { client } = seeded();
    applyMarketSignal(client, { kind: 'resync' }, FAKE_PEER_ID);
    expect(isInvalid(client, BTC_SELLS)).toBe(true);
    expect(isInvalid(client, LTC_SELLS)).toBe(true);
    expect(isInvalid(client, marketKeys.mine)).toBe(true);
  });
});
