import { describe, expect, it } from 'vitest';
import { FAKE_PEER_ID, fakeEntry } from '../test/fakeBackend';
import {
  arrangeBook,
  entryFromEvent,
  formatAgo,
  formatRelative,
  makerHistoryText,
  paymentMethodsIn,
  relativeToMarket,
  upsertEntry,
} from './book';
import type { BookFilters } from './book';

const ANY: BookFilters = { method: '', amount: null, hideMine: false };

const cheap = fakeEntry({ id: 'cheap', price: { fixed: '59000' }, payment_methods: ['SEPA'] });
const dear = fakeEntry({ id: 'dear', price: { fixed: '61000' }, payment_methods: ['REVOLUT'], min_amount: 5_000_000, max_amount: 50_000_000 });
const relative = fakeEntry({ id: 'relative', price: { market_relative: { premium_bps: 100 } } });
const bidLow = fakeEntry({ id: 'bid-low', side: 'buy', price: { fixed: '57000' } });
const bidHigh = fakeEntry({ id: 'bid-high', side: 'buy', price: { fixed: '58000' }, maker: FAKE_PEER_ID }, { mine: true });
const ids = (entries: { offer: { id: string } }[]) => entries.map((e) => e.offer.id);

describe('arranging the book', () => {
  it('puts the best deal first on each side, unknown prices last', () => {
    const sides = arrangeBook([relative, dear, bidLow, cheap, bidHigh], ANY, 'best');
    expect(ids(sides.sell)).toEqual(['cheap', 'dear', 'relative']);
    expect(ids(sides.buy)).toEqual(['bid-high', 'bid-low']);
  });

  it('sorts both sides by price in the chosen direction', () => {
    expect(ids(arrangeBook([cheap, dear, bidLow, bidHigh], ANY, 'descending').sell)).toEqual(['dear', 'cheap']);
    expect(ids(arrangeBook([cheap, dear, bidLow, bidHigh], ANY, 'ascending').buy)).toEqual(['bid-low', 'bid-high']);
  });

  it('filters by payment method, amount and own offers', () => {
    const all = [cheap, dear, relative, bidLow, bidHigh];
    expect(ids(arrangeBook(all, { ...ANY, method: 'REVOLUT' }, 'best').sell)).toEqual(['dear']);
    // 0.2 BTC: only "dear" takes trades that large (its range is 0.05–0.5).
    expect(ids(arrangeBook(all, { ...ANY, amount: 20_000_000 }, 'best').sell)).toEqual(['dear']);
    // Range edges are inclusive.
    expect(ids(arrangeBook(all, { ...ANY, amount: 1_000_000 }, 'best').sell)).toEqual(['cheap', 'relative']);
    expect(ids(arrangeBook(all, { ...ANY, hideMine: true }, 'best').buy)).toEqual(['bid-low']);
  });

  it('keeps only offers paid by one of my methods when asked, my own offers aside', () => {
    const both = fakeEntry({ id: 'both', payment_methods: ['ZELLE', 'SEPA'], price: { fixed: '60000' } });
    const all = [cheap, dear, relative, both, bidLow, bidHigh];
    const sepaOnly = arrangeBook(all, { ...ANY, myMethods: ['SEPA'] }, 'best');
    // "dear" takes REVOLUT only; "both" takes SEPA among others.
    expect(ids(sepaOnly.sell)).toEqual(['cheap', 'both', 'relative']);
    // My own buy offer stays (it is hidden by "Hide my offers", not by this filter).
    expect(ids(sepaOnly.buy)).toEqual(['bid-high', 'bid-low']);
    expect(ids(arrangeBook(all, { ...ANY, myMethods: ['REVOLUT', 'ZELLE'] }, 'best').sell)).toEqual(['both', 'dear']);
    // No accounts at all: nobody else's offer fits.
    expect(ids(arrangeBook(all, { ...ANY, myMethods: [] }, 'best').sell)).toEqual([]);
    // Off (null or absent): everything.
    expect(arrangeBook(all, { ...ANY, myMethods: null }, 'best').sell).toHaveLength(4);
    // Combined with the single-method choice, both must hold.
    expect(ids(arrangeBook(all, { ...ANY, method: 'ZELLE', myMethods: ['SEPA'] }, 'best').sell)).toEqual(['both']);
  });

  it('lists the payment methods in a book', () => {
    expect(paymentMethodsIn([dear, cheap, relative])).toEqual(['REVOLUT', 'SEPA']);
  });
});

describe('prices against the market', () => {
  const market = { base: 'BTC', quote: 'EUR', price: '60000', fetched_at_ms: 0, source: 'test' };
  it('uses the premium of market-relative offers and compares fixed ones', () => {
    expect(relativeToMarket(relative, null)).toBe(1);
    expect(relativeToMarket(dear, market)).toBeCloseTo(1.6667, 3);
    expect(relativeToMarket(dear, null)).toBeNull();
    expect(formatRelative(relativeToMarket(cheap, market))).toBe('-1.67 %');
    expect(formatRelative(1)).toBe('+1 %');
    expect(formatRelative(0)).toBe('at market');
    expect(formatRelative(null)).toBe('—');
  });

  it('says how long ago a maker was seen', () => {
    expect(formatAgo(1_000, 3_000)).toBe('just now');
    expect(formatAgo(0, 42_000)).toBe('42 s ago');
    expect(formatAgo(0, 5 * 60_000)).toBe('5 min ago');
    expect(formatAgo(0, 3 * 3_600_000)).toBe('3 h ago');
    expect(formatAgo(0, 3 * 86_400_000)).toBe('3 d ago');
  });
});

describe('live entries', () => {
  it('builds an entry from an event and replaces in place', () => {
    const entry = entryFromEvent(cheap.offer, FAKE_PEER_ID, 5);
    expect(entry).toMatchObject({ mine: false, maker_last_seen: 5, effective_price: '59000' });
    expect(entryFromEvent(relative.offer, FAKE_PEER_ID, 5).effective_price).toBeNull();
    const updated = upsertEntry([cheap, dear], { ...dear, effective_price: '1' });
    expect(ids(updated)).toEqual(['cheap', 'dear']);
    expect(updated[1]?.effective_price).toBe('1');
    expect(ids(upsertEntry([cheap], dear))).toEqual(['cheap', 'dear']);
  });

  it('takes a live offer’s maker history from the maker’s other entries', () => {
    const known = fakeEntry({ id: 'older', maker: 'maker-k' }, { completed_with_maker: 3 });
    const fresh = fakeEntry({ id: 'fresh', maker: 'maker-k' }).offer;
    expect(entryFromEvent(fresh, FAKE_PEER_ID, 5, [cheap, known]).completed_with_maker).toBe(3);
    expect(entryFromEvent(cheap.offer, FAKE_PEER_ID, 5, [known]).completed_with_maker).toBe(0);
  });
});

describe('the maker’s history with you', () => {
  it('counts local trades and never sounds like a reputation', () => {
    expect(makerHistoryText(0)).toBe('New to you');
    expect(makerHistoryText(1)).toBe('1 trade with you');
    expect(makerHistoryText(12)).toBe('12 trades with you');
  });
});
