import type { BookEntry, BookPage, MarketPrice, Offer, PeerReach, Side } from '../bindings';

/** What the Market screen filters on; empty strings mean "any". */
export interface BookFilters {
  /** A payment method the offer must accept, or '' for any. */
  method: string;
  /** An amount in base units the user wants to trade, or null for any. */
  amount: number | null;
  /** Hide this node's own offers. */
  hideMine: boolean;
  /**
   * Only offers that accept one of these methods (the person's payment accounts), or null for no
   * such filter. An empty list hides every offer of others.
   */
  myMethods?: readonly string[] | null;
}

export type PriceOrder = 'best' | 'ascending' | 'descending';

export interface BookSides {
  sell: BookEntry[];
  buy: BookEntry[];
}

/** The number a price sorts by; market-relative offers without a known price sort last. */
function priceOf(entry: BookEntry): number | null {
  if (entry.effective_price === null) return null;
  const value = Number(entry.effective_price);
  return Number.isFinite(value) ? value : null;
}

/** Compares by price in the given direction, unknown prices last, then oldest first (stable). */
export function comparePrice(direction: 'ascending' | 'descending') {
  return (a: BookEntry, b: BookEntry): number => {
    const pa = priceOf(a);
    const pb = priceOf(b);
    if (pa === null || pb === null) {
      if (pa === pb) return a.offer.created_at - b.offer.created_at;
      return pa === null ? 1 : -1;
    }
    if (pa !== pb) return direction === 'ascending' ? pa - pb : pb - pa;
    return a.offer.created_at - b.offer.created_at;
  };
}

export function matchesFilters(entry: BookEntry, filters: BookFilters): boolean {
  const { offer } = entry;
  if (filters.hideMine && entry.mine) return false;
  if (filters.method && !offer.payment_methods.includes(filters.method)) return false;
  const mine = filters.myMethods;
  if (mine && !entry.mine && !offer.payment_methods.some((m) => mine.includes(m))) return false;
  if (filters.amount !== null && (filters.amount < offer.min_amount || filters.amount > offer.max_amount)) {
    return false;
  }
  return true;
}

/**
 * Splits a market's book into its two sides, filtered and sorted. "Best" puts the best deal for a
 * taker first: the cheapest sell offers and the highest buy offers.
 */
export function arrangeBook(entries: readonly BookEntry[], filters: BookFilters, order: PriceOrder): BookSides {
  const kept = entries.filter((entry) => matchesFilters(entry, filters));
  const side = (s: Side) => kept.filter((entry) => entry.offer.side === s);
  const sorted = (s: Side) => {
    const direction = order === 'best' ? (s === 'sell' ? 'ascending' : 'descending') : order;
    return side(s).sort(comparePrice(direction));
  };
  return { sell: sorted('sell'), buy: sorted('buy') };
}

/** Every payment method named in a book, for the filter's choices. */
export function paymentMethodsIn(entries: readonly BookEntry[]): string[] {
  return [...new Set(entries.flatMap((entry) => entry.offer.payment_methods))].sort();
}

/**
 * How an offer's price stands against the market, in percent, when both are known; for a
 * market-relative offer its premium, which is exact.
 */
export function relativeToMarket(entry: BookEntry, market: MarketPrice | null | undefined): number | null {
  const { price } = entry.offer;
  if ('market_relative' in price) return price.market_relative.premium_bps / 100;
  if (!market) return null;
  const m = Number(market.price);
  const p = Number(price.fixed);
  if (!Number.isFinite(m) || !Number.isFinite(p) || m <= 0) return null;
  return ((p - m) / m) * 100;
}

export function formatRelative(percent: number | null): string {
  if (percent === null) return '—';
  const rounded = Math.round(percent * 100) / 100;
  if (rounded === 0) return 'at market';
  return `${rounded > 0 ? '+' : ''}${rounded.toFixed(2).replace(/\.?0+$/, '')} %`;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(thenMs: number, nowMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 60) return seconds < 5 ? 'just now' : `${seconds.toString()} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes.toString()} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours.toString()} h ago`;
  return `${Math.floor(hours / 24).toString()} d ago`;
}

/**
 * The book entry a freshly announced offer stands for until the book is read again; the maker's
 * history with this node is taken from the maker's other entries (`known`), if any.
 */
export function entryFromEvent(
  offer: Offer,
  myPeerId: string,
  nowMs: number,
  known: readonly BookEntry[] = [],
): BookEntry {
  return {
    offer,
    mine: offer.maker === myPeerId,
    maker_last_seen: nowMs,
    effective_price: 'fixed' in offer.price ? offer.price.fixed : null,
    completed_with_maker: known.find((e) => e.offer.maker === offer.maker)?.completed_with_maker ?? 0,
    maker_reach: known.find((e) => e.offer.maker === offer.maker)?.maker_reach ?? 'unknown',
  };
}

/** The maker has an onion address of its own: a Tor-mode node, or a bridge. */
export function overTor(reach: PeerReach): boolean {
  return reach === 'tor' || reach === 'tor_and_clearnet';
}

/**
 * The maker's history with this node, in words: trades completed here with them. Local records only,
 * so it never reads like a reputation.
 */
export function makerHistoryText(completed: number): string {
  if (completed <= 0) return 'New to you';
  return completed === 1 ? '1 trade with you' : `${completed.toString()} trades with you`;
}

/** Inserts or replaces an entry by offer id, keeping the others in place (no reordering jumps). */
export function upsertEntry(entries: readonly BookEntry[], entry: BookEntry): BookEntry[] {
  const index = entries.findIndex((e) => e.offer.id === entry.offer.id);
  if (index === -1) return [...entries, entry];
  const copy = [...entries];
  copy[index] = entry;
  return copy;
}

/** One side of a market's book as read so far: its pages in the core's order (best price first). */
export interface PagedSide {
  pages: BookPage[];
  pageParams: unknown[];
}

/** The offers of every page read so far, in order. */
export function pagedEntries(side: PagedSide | undefined): BookEntry[] {
  return side ? side.pages.flatMap((page) => page.entries) : [];
}

/**
 * How many offers the side holds in all (as its first page counted them) and whether the count
 * stopped at the core's cap, in words: "240" or "1000+".
 */
export function pagedTotal(side: PagedSide | undefined): { count: number; capped: boolean } {
  const first = side?.pages[0];
  return { count: first?.total ?? 0, capped: first?.total_capped ?? false };
}

/**
 * Puts an entry into the pages read so far: replaced where it is, else added to the last page (the
 * next read of the book puts it in its place); pages keep their cursors.
 */
export function upsertInPages<T extends PagedSide>(side: T, entry: BookEntry): T {
  const last = side.pages.length - 1;
  if (last < 0) return side;
  const at = side.pages.findIndex((page) => page.entries.some((e) => e.offer.id === entry.offer.id));
  const target = at === -1 ? last : at;
  const pages = side.pages.map((page, i) => (i === target ? { ...page, entries: upsertEntry(page.entries, entry) } : page));
  const first = pages[0];
  if (at === -1 && first && !first.total_capped) pages[0] = { ...first, total: first.total + 1 };
  return { ...side, pages };
}

/** Takes an offer out of the pages read so far (and out of the count). */
export function removeFromPages<T extends PagedSide>(side: T, offerId: string): T {
  let removed = 0;
  const pages = side.pages.map((page) => {
    const entries = page.entries.filter((e) => e.offer.id !== offerId);
    removed += page.entries.length - entries.length;
    return entries.length === page.entries.length ? page : { ...page, entries };
  });
  if (removed > 0 && pages[0] && !pages[0].total_capped) {
    pages[0] = { ...pages[0], total: Math.max(0, pages[0].total - removed) };
  }
  return removed > 0 ? { ...side, pages } : side;
}
