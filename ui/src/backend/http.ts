import type {
  AppStatus,
  Asset,
  BackupSettings,
  BackupSummary,
  BookEntry,
  BookPage,
  BookQuery,
  ChainCheck,
  ChainStatus,
  ChatMessage,
  ConnectionEdit,
  ConnectionSettings,
  Decision,
  DisputeInfo,
  MarketPrice,
  MyOffer,
  NetworkStatus,
  NewOffer,
  PageRequest,
  Offer,
  Preferences,
  Quote,
  Reputation,
  SavedConnection,
  StartupProgress,
  TradeAnswer,
  TradeInfo,
  WalletFunding,
} from '../bindings';
import { BackendError } from './errors';
import { signalOf } from './types';
import type { Backend, NodeSignal, TakeRequest } from './types';

/** The parts of the browser the HTTP backend uses; tests pass fakes. */
export interface HttpEnvironment {
  fetch: typeof fetch;
  WebSocket: new (url: string) => WebSocketLike;
  /** Schedules a reconnect; tests run it at once. */
  setTimeout: (callback: () => void, ms: number) => unknown;
}

export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(): void;
}

/** The book query as the API's query string: the same fields as the desktop app's `BookQuery`. */
function offersPath(query: BookQuery): string {
  const params = new URLSearchParams();
  if (query.base !== null) params.set('base', query.base);
  if (query.quote !== null) params.set('quote', query.quote);
  if (query.side !== null) params.set('side', query.side);
  if (query.method !== null) params.set('method', query.method);
  if (query.amount !== null && query.base !== null) params.set('amount', String(query.amount));
  if (query.include_mine === false) params.set('mine', 'false');
  const text = params.toString();
  return text ? `/api/v1/offers?${text}` : '/api/v1/offers';
}

const NOT_IN_BROWSER =
  'In the browser, Souk talks to the node `souk serve` runs, which is already unlocked; create, restore or unlock the identity with the `souk` CLI.';

const IMPORT_NOT_IN_BROWSER =
  'In the browser, Souk talks to the node `souk serve` runs, which already has an identity. Import a backup on the node’s machine with `souk backup import FILE`, into an empty data folder.';

function tradePath(tradeId: string, action = ''): string {
  return `/api/v1/trades/${encodeURIComponent(tradeId)}${action ? `/${action}` : ''}`;
}

function disputePath(tradeId: string, action = ''): string {
  return `/api/v1/disputes/${encodeURIComponent(tradeId)}${action ? `/${action}` : ''}`;
}

/**
 * The Backend over `souk serve`'s local API: JSON over HTTP with the bearer token, and market and trade
 * events over a WebSocket (token in the query string, since browsers cannot set its headers).
 */
export class HttpBackend implements Backend {
  private readonly origin: string;
  private readonly token: string;
  private readonly env: HttpEnvironment;

  constructor(origin: string, token: string, env?: HttpEnvironment) {
    this.origin = origin.replace(/\/+$/, '');
    this.token = token;
    this.env = env ?? {
      fetch: (input, init) => window.fetch(input, init),
      WebSocket: window.WebSocket as unknown as HttpEnvironment['WebSocket'],
      setTimeout: (callback, ms) => window.setTimeout(callback, ms),
    };
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.env.fetch(`${this.origin}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch (thrown) {
      const reason = thrown instanceof Error ? thrown.message : String(thrown);
      throw new BackendError('internal', `Cannot reach the Souk node at ${this.origin}: ${reason}`);
    }
    const text = await response.text();
    let json: unknown = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        throw new BackendError('internal', `The node answered ${method} ${path} with something that is not JSON.`);
      }
    }
    if (!response.ok) {
      const error = BackendError.from(json ?? `${method} ${path} failed with HTTP ${response.status.toString()}`);
      if (response.status === 401) {
        throw new BackendError(
          'internal',
          'This page’s access token is not valid for the running node. Open the address `souk serve` printed again.',
        );
      }
      throw error;
    }
    return json as T;
  }

  appStatus(): Promise<AppStatus> {
    return this.request('GET', '/api/v1/app-status');
  }

  createIdentity(): Promise<never> {
    return Promise.reject(new BackendError('invalid_input', NOT_IN_BROWSER));
  }

  restoreIdentity(): Promise<never> {
    return Promise.reject(new BackendError('invalid_input', NOT_IN_BROWSER));
  }

  importBackup(): Promise<never> {
    return Promise.reject(new BackendError('invalid_input', IMPORT_NOT_IN_BROWSER));
  }

  unlock(): Promise<never> {
    return Promise.reject(new BackendError('invalid_input', NOT_IN_BROWSER));
  }

  networkStatus(): Promise<NetworkStatus> {
    return this.request('GET', '/api/v1/network');
  }

  chainStatus(): Promise<ChainStatus> {
    return this.request('GET', '/api/v1/chain');
  }

  offers(query: BookQuery): Promise<BookEntry[]> {
    return this.request('GET', offersPath(query));
  }

  bookPage(query: BookQuery, page: PageRequest): Promise<BookPage> {
    if (query.base === null || query.quote === null) {
      return Promise.reject(new BackendError('invalid_input', 'A page of the book is of one market: choose its base and quote.'));
    }
    const params = new URLSearchParams({ base: query.base, quote: query.quote });
    if (query.side !== null) params.set('side', query.side);
    if (query.method !== null) params.set('method', query.method);
    if (query.amount !== null) params.set('amount', String(query.amount));
    if (query.include_mine !== null) params.set('include_mine', String(query.include_mine));
    if (page.after !== null) params.set('after', page.after);
    if (page.limit !== null) params.set('limit', String(page.limit));
    return this.request('GET', `/api/v1/book?${params.toString()}`);
  }

  myOffers(): Promise<MyOffer[]> {
    return this.request('GET', '/api/v1/my-offers');
  }

  postOffer(offer: NewOffer): Promise<Offer> {
    return this.request('POST', '/api/v1/offers', offer);
  }

  async withdrawOffer(id: string): Promise<void> {
    await this.request('DELETE', `/api/v1/offers/${encodeURIComponent(id)}`);
  }

  async refreshMarket(base: Asset, quote: Quote): Promise<number> {
    const answer = await this.request<{ new_offers: number }>('POST', `/api/v1/markets/${base}/${quote}/refresh`);
    return answer.new_offers;
  }

  marketPrice(base: Asset, quote: Quote): Promise<MarketPrice | null> {
    return this.request('GET', `/api/v1/markets/${base}/${quote}/price`);
  }

  takeOffer(take: TakeRequest): Promise<TradeInfo> {
    return this.request('POST', '/api/v1/trades', {
      offer_id: take.offerId,
      amount: take.amount,
      method: take.method,
      payout: take.payout,
    });
  }

  async answerTrade(tradeId: string, answer: TradeAnswer): Promise<TradeInfo> {
    switch (answer.kind) {
      case 'accept':
        return this.request('POST', tradePath(tradeId, 'accept'));
      case 'reject':
        return this.request('POST', tradePath(tradeId, 'reject'), { reason: answer.reason });
      case 'counter':
        return this.request('POST', tradePath(tradeId, 'counter'), { amount: answer.amount, price: answer.price });
    }
  }

  trades(): Promise<TradeInfo[]> {
    return this.request('GET', '/api/v1/trades');
  }

  trade(tradeId: string): Promise<TradeInfo> {
    return this.request('GET', tradePath(tradeId));
  }

  chatLog(tradeId: string): Promise<ChatMessage[]> {
    return this.request('GET', tradePath(tradeId, 'messages'));
  }

  sendChat(tradeId: string, text: string): Promise<ChatMessage> {
    return this.request('POST', tradePath(tradeId, 'messages'), { text });
  }

  async markRead(tradeId: string): Promise<number> {
    const answer = await this.request<{ marked: number }>('POST', tradePath(tradeId, 'read'));
    return answer.marked;
  }

  setEscrowAddress(tradeId: string, address: string): Promise<TradeInfo> {
    return this.request('POST', tradePath(tradeId, 'address'), { address });
  }

  fundFromWallet(tradeId: string, wallet: string, broadcast: boolean): Promise<WalletFunding> {
    return this.request('POST', tradePath(tradeId, 'fund'), { wallet, broadcast });
  }

  markPaid(tradeId: string): Promise<TradeInfo> {
    return this.request('POST', tradePath(tradeId, 'paid'));
  }

  markReceived(tradeId: string): Promise<TradeInfo> {
    return this.request('POST', tradePath(tradeId, 'received'));
  }

  cancelTrade(tradeId: string, reason: string): Promise<TradeInfo> {
    return this.request('POST', tradePath(tradeId, 'cancel'), { reason });
  }

  disputeTrade(tradeId: string, reason: string): Promise<TradeInfo> {
    return this.request('POST', tradePath(tradeId, 'dispute'), { reason });
  }

  disputes(): Promise<DisputeInfo[]> {
    return this.request('GET', '/api/v1/disputes');
  }

  disputeInfo(tradeId: string): Promise<DisputeInfo> {
    return this.request('GET', disputePath(tradeId));
  }

  resolveDispute(tradeId: string, decision: Decision): Promise<DisputeInfo> {
    return this.request('POST', disputePath(tradeId, 'resolve'), decision);
  }

  preferences(): Promise<Preferences> {
    return this.request('GET', '/api/v1/preferences');
  }

  savePreferences(preferences: Preferences): Promise<Preferences> {
    return this.request('PUT', '/api/v1/preferences', preferences);
  }

  startupProgress(): Promise<StartupProgress> {
    return this.request('GET', '/api/v1/startup');
  }

  retryStartup(): Promise<StartupProgress> {
    return this.request('POST', '/api/v1/startup/retry');
  }

  connectionSettings(): Promise<ConnectionSettings> {
    return this.request('GET', '/api/v1/settings/connection');
  }

  saveConnectionSettings(edit: ConnectionEdit): Promise<SavedConnection> {
    return this.request('PUT', '/api/v1/settings/connection', edit);
  }

  testChainConnection(edit: ConnectionEdit): Promise<ChainCheck> {
    return this.request('POST', '/api/v1/settings/connection/test', edit);
  }

  /** The file is written on the node's machine, where `target` names it. */
  exportBackup(target: string, passphrase: string): Promise<BackupSummary> {
    return this.request('POST', '/api/v1/backup/export', { target, passphrase });
  }

  backupSettings(): Promise<BackupSettings> {
    return this.request('GET', '/api/v1/settings/backup');
  }

  saveBackupSettings(folder: string, keep: number, passphrase: string): Promise<BackupSettings> {
    return this.request('PUT', '/api/v1/settings/backup', { folder, keep, passphrase });
  }

  reputation(peer: string): Promise<Reputation> {
    return this.request('GET', `/api/v1/reputation/${encodeURIComponent(peer)}`);
  }

  /** The API answers with where the trade's receipt stands; the UI reads that from the trade. */
  async rateTrade(tradeId: string, stars: number, comment: string): Promise<void> {
    await this.request('POST', tradePath(tradeId, 'rating'), { stars, comment });
  }

  /** Keeps a WebSocket open, reconnecting with backoff; each (re)connect is a `resync`. */
  subscribeEvents(listener: (signal: NodeSignal) => void): () => void {
    const url = `${this.origin.replace(/^http/, 'ws')}/api/v1/events?token=${encodeURIComponent(this.token)}`;
    let stopped = false;
    let socket: WebSocketLike | null = null;
    let delay = 250;
    const connect = () => {
      if (stopped) return;
      const ws = new this.env.WebSocket(url);
      socket = ws;
      ws.onopen = () => {
        delay = 250;
        listener({ kind: 'resync' });
      };
      ws.onmessage = (event) => {
        if (typeof event.data !== 'string') return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(event.data);
        } catch {
          return;
        }
        const signal = signalOf(parsed);
        if (signal) listener(signal);
      };
      ws.onclose = () => {
        if (stopped) return;
        socket = null;
        this.env.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10_000);
      };
      ws.onerror = () => {
        // onclose follows and reconnects.
      };
    };
    connect();
    return () => {
      stopped = true;
      socket?.close();
    };
  }
}
