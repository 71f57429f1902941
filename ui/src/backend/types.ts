import type {
  AppStatus,
  Asset,
  BookEntry,
  BookQuery,
  CreatedIdentity,
  IdentityInfo,
  MarketEvent,
  MarketPrice,
  MyOffer,
  NetworkStatus,
  NewOffer,
  Offer,
  Quote,
} from '../bindings';

/**
 * What a market subscription delivers: the core's events, plus `resync` whenever events may have
 * been missed (the stream (re)connected or fell behind), so the state layer refetches.
 */
export type MarketSignal = MarketEvent | { kind: 'resync' };

/**
 * Everything the UI asks of the Rust core. Implementations reject with a BackendError.
 * The desktop shell uses `tauriBackend` (IPC); browser mode (`souk serve`) uses `HttpBackend`
 * (HTTP + WebSocket). Nothing else in the UI knows which one it talks to.
 */
export interface Backend {
  appStatus(): Promise<AppStatus>;
  createIdentity(passphrase: string): Promise<CreatedIdentity>;
  restoreIdentity(words: string, passphrase: string): Promise<IdentityInfo>;
  unlock(passphrase: string): Promise<IdentityInfo>;

  /** Peers, listen addresses and DHT state; rejects with kind `offline` until the network is up. */
  networkStatus(): Promise<NetworkStatus>;
  /** The local order book (works offline, from the cache), best price first per side. */
  offers(query: BookQuery): Promise<BookEntry[]>;
  /** This node's own offers, live, expired and withdrawn, newest first. */
  myOffers(): Promise<MyOffer[]>;
  postOffer(offer: NewOffer): Promise<Offer>;
  withdrawOffer(id: string): Promise<void>;
  /** Asks the makers of a market for their offers; resolves to how many were new. */
  refreshMarket(base: Asset, quote: Quote): Promise<number>;
  /** The current market price, or null when none is known. */
  marketPrice(base: Asset, quote: Quote): Promise<MarketPrice | null>;
  /** Calls `listener` for every market signal until the returned function is called. */
  subscribeMarketEvents(listener: (signal: MarketSignal) => void): () => void;
}
