import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import { useBackend } from '../backend/context';
import { BackendError } from '../backend/errors';
import type { MarketSignal } from '../backend/types';
import type { Asset, MarketPrice, NewOffer, Offer, Quote, Side } from '../bindings';
import { entryFromEvent, pagedEntries, removeFromPages, upsertInPages } from '../logic/book';
import type { PagedSide } from '../logic/book';

export const marketKeys = {
  all: ['market'] as const,
  books: ['market', 'book'] as const,
  book: (base: Asset, quote: Quote) => ['market', 'book', base, quote] as const,
  /** One side of a market's book, read a page at a time (under `book`, so both go together). */
  bookSide: (base: Asset, quote: Quote, side: Side) => ['market', 'book', base, quote, side] as const,
  mine: ['market', 'mine'] as const,
  prices: ['market', 'price'] as const,
  price: (base: Asset, quote: Quote) => ['market', 'price', base, quote] as const,
  network: ['market', 'network'] as const,
  chain: ['market', 'chain'] as const,
  /** New offers that matched a saved search while this window was open, newest first. */
  matches: ['market', 'matches'] as const,
};

/** One `offer_matched` event, as the Market screen lists it. */
export interface OfferMatch {
  searchName: string;
  offer: Offer;
}

/** How many matches the Market screen remembers. */
export const MAX_MATCHES = 20;

/** The matches announced since the window opened (kept in the query cache, never fetched). */
export function useOfferMatches() {
  const queryClient = useQueryClient();
  const query = useQuery<OfferMatch[]>({
    queryKey: marketKeys.matches,
    queryFn: () => queryClient.getQueryData<OfferMatch[]>(marketKeys.matches) ?? [],
    initialData: [],
    staleTime: Infinity,
  });
  const dismiss = (offerId: string) =>
    queryClient.setQueryData<OfferMatch[]>(marketKeys.matches, (list) => (list ?? []).filter((m) => m.offer.id !== offerId));
  return { matches: query.data, dismiss };
}

/** How often network stats are read again (the core pushes no event for them). */
export const NETWORK_POLL_MS = 2_000;
/** How often the chain backend is asked again (each time is one RPC round trip to the chain node). */
export const CHAIN_POLL_MS = 5_000;

async function asBackendCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

/** Offers read per page of one side of the book (the core gives at most 500). */
export const BOOK_PAGE = 100;

/**
 * One side of one market's book, this node's offers included, a page at a time in the core's order
 * (best price first); more pages are read when asked (`fetchNextPage`). Filters apply on screen to
 * what was read.
 */
export function useBookSide(base: Asset, quote: Quote, side: Side) {
  const backend = useBackend();
  return useInfiniteQuery({
    queryKey: marketKeys.bookSide(base, quote, side),
    queryFn: ({ pageParam }) =>
      asBackendCall(
        backend.bookPage(
          { base, quote, side, method: null, amount: null, include_mine: true },
          { after: pageParam, limit: BOOK_PAGE },
        ),
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next ?? undefined,
  });
}

export function useMarketPrice(base: Asset, quote: Quote) {
  const backend = useBackend();
  return useQuery({
    queryKey: marketKeys.price(base, quote),
    queryFn: () => asBackendCall(backend.marketPrice(base, quote)),
    // Before the network is up there is no price feed: ask again until there is.
    retry: (failures, error) => error.kind === 'offline' && failures < 30,
    retryDelay: 1_000,
  });
}

export function useMyOffers() {
  const backend = useBackend();
  return useQuery({
    queryKey: marketKeys.mine,
    queryFn: () => asBackendCall(backend.myOffers()),
  });
}

export function useNetworkStatus() {
  const backend = useBackend();
  return useQuery({
    queryKey: marketKeys.network,
    queryFn: () => asBackendCall(backend.networkStatus()),
    refetchInterval: NETWORK_POLL_MS,
  });
}

export function useChainStatus() {
  const backend = useBackend();
  return useQuery({
    queryKey: marketKeys.chain,
    queryFn: () => asBackendCall(backend.chainStatus()),
    refetchInterval: CHAIN_POLL_MS,
  });
}

export function usePostOffer() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<Offer, BackendError, NewOffer>({
    mutationFn: (offer) => asBackendCall(backend.postOffer(offer)),
    onSuccess: (offer) => {
      void queryClient.invalidateQueries({ queryKey: marketKeys.mine });
      void queryClient.invalidateQueries({ queryKey: marketKeys.book(offer.base, offer.quote) });
    },
  });
}

export function useWithdrawOffer() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<void, BackendError, string>({
    mutationFn: (id) => asBackendCall(backend.withdrawOffer(id)),
    onSuccess: (_, id) => {
      removeFromBooks(queryClient, id);
      void queryClient.invalidateQueries({ queryKey: marketKeys.mine });
    },
  });
}

export function useRefreshMarket() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<number, BackendError, { base: Asset; quote: Quote }>({
    mutationFn: ({ base, quote }) => asBackendCall(backend.refreshMarket(base, quote)),
    onSuccess: (_, { base, quote }) =>
      queryClient.invalidateQueries({ queryKey: marketKeys.book(base, quote) }),
  });
}

function removeFromBooks(queryClient: QueryClient, id: string): void {
  queryClient.setQueriesData<PagedSide>({ queryKey: marketKeys.books }, (side) => side && removeFromPages(side, id));
}

/**
 * Applies one market signal to the cache: a new offer shows at once in its market's book (then the
 * book is read again for the core's view: effective price, order); a withdrawn one disappears; a
 * new price is stored and its book re-read; a resync re-reads everything.
 */
export function applyMarketSignal(
  queryClient: QueryClient,
  signal: MarketSignal,
  myPeerId: string,
  nowMs: number = Date.now(),
): void {
  switch (signal.kind) {
    case 'offer_added': {
      const { offer } = signal;
      const key = marketKeys.bookSide(offer.base, offer.quote, offer.side);
      queryClient.setQueryData<PagedSide>(key, (side) =>
        side ? upsertInPages(side, entryFromEvent(offer, myPeerId, nowMs, pagedEntries(side))) : side,
      );
      void queryClient.invalidateQueries({ queryKey: key });
      if (offer.maker === myPeerId) void queryClient.invalidateQueries({ queryKey: marketKeys.mine });
      return;
    }
    case 'offer_withdrawn':
      removeFromBooks(queryClient, signal.id);
      void queryClient.invalidateQueries({ queryKey: marketKeys.mine });
      return;
    case 'offer_matched': {
      // The offer itself came as `offer_added`; the match is listed on the Market screen (and the
      // desktop app shows the core's notification).
      const match: OfferMatch = { searchName: signal.search_name, offer: signal.offer };
      queryClient.setQueryData<OfferMatch[]>(marketKeys.matches, (list) =>
        [match, ...(list ?? []).filter((m) => m.offer.id !== signal.offer.id)].slice(0, MAX_MATCHES),
      );
      return;
    }
    case 'price_updated': {
      const key = marketKeys.price(signal.base, signal.quote);
      queryClient.setQueryData<MarketPrice | null>(key, (previous) => ({
        base: signal.base,
        quote: signal.quote,
        price: signal.price,
        fetched_at_ms: nowMs,
        source: previous?.source ?? '',
      }));
      void queryClient.invalidateQueries({ queryKey: marketKeys.book(signal.base, signal.quote) });
      return;
    }
    case 'resync':
      void queryClient.invalidateQueries({ queryKey: marketKeys.books });
      void queryClient.invalidateQueries({ queryKey: marketKeys.mine });
      void queryClient.invalidateQueries({ queryKey: marketKeys.prices });
      return;
  }
}
