import { describe, expect, it } from 'vitest';
import type { ChainStatus, ConnectionEdit, NetworkStatus, NewOffer, Preferences } from '../bindings';
import { BackendError } from './errors';
import { HttpBackend } from './http';
import type { HttpEnvironment, WebSocketLike } from './http';
import { TOKEN_KEY, takeToken } from './select';
import type { NodeSignal } from './types';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close() {
    this.closed = true;
  }
}

/** A fake `fetch` answering from a table of `METHOD path` → [status, body]. */
function fakeEnv(routes: Record<string, [number, unknown]>) {
  const seen: Seen[] = [];
  const timers: (() => void)[] = [];
  FakeSocket.all = [];
  const env: HttpEnvironment = {
    fetch: (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const method = init?.method ?? 'GET';
      const path = url.replace('http://127.0.0.1:5000', '');
      seen.push({
        url,
        method,
        headers: init?.headers as Record<string, string>,
        body: typeof init?.body === 'string' ? JSON.parse(init.body) : null,
      });
      const answer = routes[`${method} ${path}`];
      if (!answer) return Promise.reject(new TypeError('Failed to fetch'));
      const [status, body] = answer;
      return Promise.resolve(new Response(body === undefined ? '' : JSON.stringify(body), { status }));
    },
    WebSocket: FakeSocket,
    setTimeout: (callback) => {
      timers.push(callback);
      return 0;
    },
  };
  return { env, seen, timers };
}

const NEW_OFFER: NewOffer = {
  side: 'sell',
  base: 'BTC',
  quote: 'EUR',
  price: { fixed: '61250.5' },
  min_amount: 1_000_000,
  max_amount: 25_000_000,
  payment_methods: ['SEPA', 'REVOLUT'],
  escrow: { kind: 'none' },
  deposit_bps: 1500,
  maker_x25519: '0'.repeat(64),
  ttl_ms: 24 * 3_600_000,
  terms: 'be quick',
};

const NETWORK: NetworkStatus = {
  peer_id: 'p',
  listen_addrs: ['/ip4/127.0.0.1/tcp/1/p2p/p'],
  connected_peers: ['a', 'z'],
  routing_table_size: 5,
  stored_records: 7,
  reach: 'relayed',
  nat_status: 'private',
  external_addrs: [],
  relays: [{ relay: 'r', reservation: '/ip4/1.2.3.4/tcp/1/p2p/r/p2p-circuit/p2p/p', automatic: true }],
  relay_server: false,
  refusals: { takes: 1, envelopes: 0, chat_messages: 0, takes_expired: 0, recovery_copies: 0, peers_ignored: 0 },
};

const CHAIN: ChainStatus = {
  configured: true,
  chain: 'ltc',
  network: 'regtest',
  rpc_url: 'http://127.0.0.1:19443/',
  connected: true,
  tip_height: 104,
  confirmations: 1,
  error: null,
};

describe('HttpBackend', () => {
  it('sends the bearer token and maps the API to the Backend shapes', async () => {
    const { env, seen } = fakeEnv({
      'GET /api/v1/app-status': [200, { state: 'unlocked', identity: { peer_id: 'p', data_dir: '/d', schema_version: 3 } }],
      'GET /api/v1/network': [200, NETWORK],
      'GET /api/v1/chain': [200, CHAIN],
      'POST /api/v1/markets/BTC/EUR/refresh': [200, { market: 'BTC/EUR', new_offers: 3 }],
      'GET /api/v1/markets/LTC/USD/price': [200, null],
      'DELETE /api/v1/offers/abc': [200, { id: 'abc', withdrawn: true }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000/', 'tok', env);

    await expect(backend.appStatus()).resolves.toMatchObject({ state: 'unlocked' });
    await expect(backend.networkStatus()).resolves.toEqual(NETWORK);
    await expect(backend.chainStatus()).resolves.toEqual(CHAIN);
    await expect(backend.refreshMarket('BTC', 'EUR')).resolves.toBe(3);
    await expect(backend.marketPrice('LTC', 'USD')).resolves.toBeNull();
    await expect(backend.withdrawOffer('abc')).resolves.toBeUndefined();
    expect(seen.every((s) => s.headers.authorization === 'Bearer tok')).toBe(true);
    expect(seen.map((s) => s.url)[0]).toBe('http://127.0.0.1:5000/api/v1/app-status');
  });

  it('queries the book with the same fields as the desktop app’s BookQuery', async () => {
    const entry = (base: string, quote: string, min: number, max: number) => ({
      offer: { base, quote, min_amount: min, max_amount: max },
    });
    const { env, seen } = fakeEnv({
      'GET /api/v1/offers?base=BTC&quote=EUR&side=sell&method=SEPA&amount=5000000&mine=false': [200, [entry('BTC', 'EUR', 1, 10_000_000)]],
      'GET /api/v1/offers?base=BTC': [200, [entry('BTC', 'EUR', 1, 2), entry('BTC', 'USD', 1, 2)]],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    const found = await backend.offers({
      base: 'BTC',
      quote: 'EUR',
      side: 'sell',
      method: 'SEPA',
      amount: 5_000_000,
      include_mine: false,
    });
    expect(found).toHaveLength(1);
    const btc = await backend.offers({ base: 'BTC', quote: null, side: null, method: null, amount: null, include_mine: null });
    expect(btc.map((e) => e.offer.quote)).toEqual(['EUR', 'USD']);
    expect(seen).toHaveLength(2);
  });

  it('reads the book a page at a time, with the cursor the node gave', async () => {
    const PAGE = { entries: [], total: 120, total_capped: false, next: 'abc' };
    const { env, seen } = fakeEnv({
      'GET /api/v1/book?base=BTC&quote=EUR&side=buy&limit=50': [200, PAGE],
      'GET /api/v1/book?base=BTC&quote=EUR&include_mine=false&after=abc&limit=50': [200, { ...PAGE, next: null }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    const query = { base: 'BTC', quote: 'EUR', side: null, method: null, amount: null, include_mine: null } as const;
    await expect(backend.bookPage({ ...query, side: 'buy' }, { after: null, limit: 50 })).resolves.toEqual(PAGE);
    await expect(backend.bookPage({ ...query, include_mine: false }, { after: 'abc', limit: 50 })).resolves.toMatchObject({ next: null });
    await expect(backend.bookPage({ ...query, base: null }, { after: null, limit: 50 })).rejects.toMatchObject({ kind: 'invalid_input' });
    expect(seen).toHaveLength(2);
  });

  it('posts an offer as the same typed JSON the desktop app sends', async () => {
    const { env, seen } = fakeEnv({ 'POST /api/v1/offers': [201, { id: 'new' }] });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.postOffer(NEW_OFFER)).resolves.toEqual({ id: 'new' });
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[0]?.body).toEqual(NEW_OFFER);
  });

  it('turns API errors into BackendErrors with their kind', async () => {
    const { env } = fakeEnv({
      'POST /api/v1/offers': [400, { kind: 'invalid_input', message: 'min 0.2 is above max 0.1' }],
      'GET /api/v1/network': [503, { kind: 'offline', message: 'network not started' }],
      'GET /api/v1/my-offers': [401, { kind: 'unauthorized', message: 'missing or wrong API token' }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.postOffer(NEW_OFFER)).rejects.toMatchObject({
      kind: 'invalid_input',
      message: 'min 0.2 is above max 0.1',
    });
    await expect(backend.networkStatus()).rejects.toMatchObject({ kind: 'offline' });
    await expect(backend.myOffers()).rejects.toMatchObject({ kind: 'internal', message: expect.stringContaining('token') as string });
    await expect(backend.marketPrice('BTC', 'EUR')).rejects.toMatchObject({
      kind: 'internal',
      message: expect.stringContaining('Cannot reach the Souk node') as string,
    });
    await expect(backend.unlock()).rejects.toMatchObject({ kind: 'invalid_input' });
  });

  it('streams market events over a WebSocket, resyncing on (re)connect and lag', () => {
    const { env, timers } = fakeEnv({});
    const backend = new HttpBackend('http://127.0.0.1:5000', 't/k', env);
    const got: NodeSignal[] = [];
    const stop = backend.subscribeEvents((signal) => got.push(signal));
    const first = FakeSocket.all[0];
    expect(first?.url).toBe('ws://127.0.0.1:5000/api/v1/events?token=t%2Fk');
    first?.onopen?.({});
    first?.onmessage?.({ data: JSON.stringify({ kind: 'offer_withdrawn', id: 'x' }) });
    first?.onmessage?.({ data: JSON.stringify({ kind: 'lagged', missed: 4 }) });
    first?.onmessage?.({ data: 'not json' });
    first?.onmessage?.({ data: JSON.stringify({ kind: 'from_the_future' }) });
    expect(got).toEqual([{ kind: 'resync' }, { kind: 'offer_withdrawn', id: 'x' }, { kind: 'resync' }]);

    // The node went away: it reconnects, and the new stream starts with a resync.
    first?.onclose?.({});
    expect(timers).toHaveLength(1);
    timers[0]?.();
    const second = FakeSocket.all[1];
    second?.onopen?.({});
    expect(got.at(-1)).toEqual({ kind: 'resync' });

    stop();
    expect(second?.closed).toBe(true);
    second?.onclose?.({});
    expect(timers).toHaveLength(1);
  });
});

describe('HttpBackend trades', () => {
  const TRADE = { id: 't-1', offer: { base: 'BTC' } };

  it('maps every trade call to its route, amounts in base units as the desktop app sends them', async () => {
    const { env, seen } = fakeEnv({
      'POST /api/v1/trades': [201, TRADE],
      'GET /api/v1/trades': [200, [TRADE]],
      'GET /api/v1/trades/t-1': [200, TRADE],
      'POST /api/v1/trades/t-1/accept': [200, TRADE],
      'POST /api/v1/trades/t-1/reject': [200, TRADE],
      'POST /api/v1/trades/t-1/counter': [200, TRADE],
      'GET /api/v1/trades/t-1/messages': [200, []],
      'POST /api/v1/trades/t-1/messages': [201, { id: 'm' }],
      'POST /api/v1/trades/t-1/read': [200, { trade_id: 't-1', marked: 3 }],
      'POST /api/v1/trades/t-1/address': [200, TRADE],
      'POST /api/v1/trades/t-1/fund': [200, { wallet: 'main', txid: 'ab' }],
      'POST /api/v1/trades/t-1/paid': [200, TRADE],
      'POST /api/v1/trades/t-1/received': [200, TRADE],
      'POST /api/v1/trades/t-1/cancel': [200, TRADE],
      'POST /api/v1/trades/t-1/dispute': [200, TRADE],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await backend.takeOffer({ offerId: 'o-1', base: 'BTC', amount: 5_000_000, method: 'SEPA', payout: 'IBAN DE00' });
    await backend.trades();
    await backend.answerTrade('t-1', { kind: 'accept' });
    await backend.answerTrade('t-1', { kind: 'reject', reason: 'no' });
    await backend.answerTrade('t-1', { kind: 'counter', amount: 2_500_000, price: '61000' });
    await backend.answerTrade('t-1', { kind: 'counter', amount: null, price: '60000' });
    await backend.chatLog('t-1');
    await backend.sendChat('t-1', 'hi');
    await expect(backend.markRead('t-1')).resolves.toBe(3);
    await backend.setEscrowAddress('t-1', 'rltc1q');
    await backend.fundFromWallet('t-1', 'main', true);
    await backend.markPaid('t-1');
    await backend.markReceived('t-1');
    await backend.cancelTrade('t-1', 'changed my mind');
    await backend.disputeTrade('t-1', 'no payment');
    expect(seen.map((s) => [s.method, s.url.replace('http://127.0.0.1:5000', ''), s.body])).toEqual([
      ['POST', '/api/v1/trades', { offer_id: 'o-1', amount: 5_000_000, method: 'SEPA', payout: 'IBAN DE00' }],
      ['GET', '/api/v1/trades', null],
      ['POST', '/api/v1/trades/t-1/accept', null],
      ['POST', '/api/v1/trades/t-1/reject', { reason: 'no' }],
      ['POST', '/api/v1/trades/t-1/counter', { amount: 2_500_000, price: '61000' }],
      ['POST', '/api/v1/trades/t-1/counter', { amount: null, price: '60000' }],
      ['GET', '/api/v1/trades/t-1/messages', null],
      ['POST', '/api/v1/trades/t-1/messages', { text: 'hi' }],
      ['POST', '/api/v1/trades/t-1/read', null],
      ['POST', '/api/v1/trades/t-1/address', { address: 'rltc1q' }],
      ['POST', '/api/v1/trades/t-1/fund', { wallet: 'main', broadcast: true }],
      ['POST', '/api/v1/trades/t-1/paid', null],
      ['POST', '/api/v1/trades/t-1/received', null],
      ['POST', '/api/v1/trades/t-1/cancel', { reason: 'changed my mind' }],
      ['POST', '/api/v1/trades/t-1/dispute', { reason: 'no payment' }],
    ]);
  });

  it('maps the arbitrator’s dispute calls to their routes and passes the core’s refusal on', async () => {
    const DISPUTE = { trade_id: 't/1', resolved_to: null };
    const { env, seen } = fakeEnv({
      'GET /api/v1/disputes': [200, [DISPUTE]],
      'GET /api/v1/disputes/t%2F1': [200, DISPUTE],
      'POST /api/v1/disputes/t%2F1/resolve': [400, { kind: 'invalid_input', message: 'this dispute was resolved already, to the buyer' }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.disputes()).resolves.toEqual([DISPUTE]);
    await expect(backend.disputeInfo('t/1')).resolves.toEqual(DISPUTE);
    await expect(backend.resolveDispute('t/1', { to: 'seller', buyer_gets: null, reason: 'no payment' })).rejects.toMatchObject({
      kind: 'invalid_input',
      message: 'this dispute was resolved already, to the buyer',
    });
    await expect(
      backend.resolveDispute('t/1', { to: 'split', buyer_gets: 60_000_000, reason: 'half paid' }),
    ).rejects.toMatchObject({ kind: 'invalid_input' });
    expect(seen.map((s) => [s.method, s.url.replace('http://127.0.0.1:5000', ''), s.body])).toEqual([
      ['GET', '/api/v1/disputes', null],
      ['GET', '/api/v1/disputes/t%2F1', null],
      ['POST', '/api/v1/disputes/t%2F1/resolve', { to: 'seller', buyer_gets: null, reason: 'no payment' }],
      // The API takes a share as coin text.
      ['POST', '/api/v1/disputes/t%2F1/resolve', { to: 'split', buyer_gets: 60_000_000, reason: 'half paid' }],
    ]);
  });

  it('reports a refused take with the maker’s reason', async () => {
    const { env } = fakeEnv({
      'POST /api/v1/trades': [400, { kind: 'invalid_input', message: 'the maker refused the take: the offer is full' }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(
      backend.takeOffer({ offerId: 'o', base: 'BTC', amount: 1, method: 'SEPA', payout: '' }),
    ).rejects.toMatchObject({ kind: 'invalid_input', message: 'the maker refused the take: the offer is full' });
  });

  it('passes trade events through the same WebSocket as market events', () => {
    const { env } = fakeEnv({});
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    const got: NodeSignal[] = [];
    backend.subscribeEvents((signal) => got.push(signal));
    const socket = FakeSocket.all[0];
    socket?.onopen?.({});
    socket?.onmessage?.({ data: JSON.stringify({ kind: 'delivered', trade_id: 't', up_to: 3 }) });
    socket?.onmessage?.({ data: JSON.stringify({ kind: 'offer_withdrawn', id: 'x' }) });
    socket?.onmessage?.({ data: JSON.stringify({ kind: 'read', trade_id: 't', up_to: 2 }) });
    socket?.onmessage?.({ data: JSON.stringify({ kind: 'dispute_opened', trade_id: 'd' }) });
    socket?.onmessage?.({ data: JSON.stringify({ kind: 'dispute_resolved', trade_id: 'd' }) });
    expect(got).toEqual([
      { kind: 'resync' },
      { kind: 'delivered', trade_id: 't', up_to: 3 },
      { kind: 'offer_withdrawn', id: 'x' },
      { kind: 'read', trade_id: 't', up_to: 2 },
      { kind: 'dispute_opened', trade_id: 'd' },
      { kind: 'dispute_resolved', trade_id: 'd' },
    ]);
  });
});

describe('HttpBackend settings and startup', () => {
  const EDIT: ConnectionEdit = {
    chain: 'ltc',
    network: 'regtest',
    rpc_url: 'http://127.0.0.1:19443/',
    rpc_user: 'souk',
    rpc_password: null,
    rpc_cookie_file: '',
    electrum_url: '',
    electrum_cert_sha256: '',
    bootstrap: [],
    tor: false,
  };

  it('maps preferences, startup and connection settings to their routes', async () => {
    const prefs = { theme: 'dark', notifications: {}, payment_accounts: [] };
    const progress = { phases: [] };
    const { env, seen } = fakeEnv({
      'GET /api/v1/preferences': [200, prefs],
      'PUT /api/v1/preferences': [200, prefs],
      'GET /api/v1/startup': [200, progress],
      'POST /api/v1/startup/retry': [200, progress],
      'GET /api/v1/settings/connection': [200, { path: '/d/souk.toml' }],
      'PUT /api/v1/settings/connection': [200, { settings: {}, dialled: [] }],
      'POST /api/v1/settings/connection/test': [200, { tip_height: 101 }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.preferences()).resolves.toEqual(prefs);
    const chosen: Preferences = {
      theme: 'dark',
      notifications: { offer_taken: true, message: false, escrow: true, deadline: true, matching_offer: true },
      payment_accounts: [],
      accepted_arbitrators: ['12D3KooWArbiter'],
      excluded_arbitrators: [],
      saved_searches: [],
      nickname: 'Ahmed',
    };
    await backend.savePreferences(chosen);
    await backend.startupProgress();
    await backend.retryStartup();
    await expect(backend.connectionSettings()).resolves.toEqual({ path: '/d/souk.toml' });
    await backend.saveConnectionSettings(EDIT);
    await expect(backend.testChainConnection(EDIT)).resolves.toEqual({ tip_height: 101 });
    expect(seen.map((s) => [s.method, s.url.replace('http://127.0.0.1:5000', ''), s.body])).toEqual([
      ['GET', '/api/v1/preferences', null],
      ['PUT', '/api/v1/preferences', chosen],
      ['GET', '/api/v1/startup', null],
      ['POST', '/api/v1/startup/retry', null],
      ['GET', '/api/v1/settings/connection', null],
      ['PUT', '/api/v1/settings/connection', EDIT],
      ['POST', '/api/v1/settings/connection/test', EDIT],
    ]);
  });

  it('passes the core’s refusal of preferences on with its reason', async () => {
    const { env } = fakeEnv({
      'PUT /api/v1/preferences': [400, { kind: 'invalid_input', message: 'payment account 1 needs a name' }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    const refused = backend.savePreferences({
      theme: 'system',
      notifications: { offer_taken: true, message: true, escrow: true, deadline: true, matching_offer: true },
      payment_accounts: [],
      accepted_arbitrators: [],
      excluded_arbitrators: [],
      saved_searches: [],
      nickname: '',
    });
    await expect(refused).rejects.toMatchObject({ kind: 'invalid_input', message: 'payment account 1 needs a name' });
  });
});

describe('HttpBackend backups', () => {
  const SUMMARY = {
    path: '/mnt/usb/souk-backup-20261204-153000-abcdefgh.soukbackup',
    peer_id: 'p',
    created_at_ms: 1_796_398_200_000,
    bytes: 40_960,
    trades: 3,
    open_trades: 1,
    has_config: true,
  };

  it('exports over the API to a path on the node’s machine', async () => {
    const { env, seen } = fakeEnv({ 'POST /api/v1/backup/export': [200, SUMMARY] });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.exportBackup('/mnt/usb', 'correct horse')).resolves.toEqual(SUMMARY);
    expect(seen.map((s) => [s.method, s.url.replace('http://127.0.0.1:5000', ''), s.body])).toEqual([
      ['POST', '/api/v1/backup/export', { target: '/mnt/usb', passphrase: 'correct horse' }],
    ]);
  });

  it('passes a wrong passphrase on with its kind', async () => {
    const { env } = fakeEnv({
      'POST /api/v1/backup/export': [400, { kind: 'wrong_passphrase', message: 'wrong passphrase' }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.exportBackup('/mnt/usb', 'nope')).rejects.toMatchObject({ kind: 'wrong_passphrase' });
  });

  it('refuses an import without asking the node, naming the command that does it', async () => {
    const { env, seen } = fakeEnv({});
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    const refused: unknown = await backend.importBackup().catch((thrown: unknown) => thrown);
    expect(refused).toBeInstanceOf(BackendError);
    expect(refused).toMatchObject({
      kind: 'invalid_input',
      message: expect.stringContaining('souk backup import') as string,
    });
    expect(seen).toEqual([]);
  });
});

describe('HttpBackend automatic backups', () => {
  it('reads and saves the settings on their route', async () => {
    const SETTINGS = { folder: '/b', keep: 3, running: true, overridden_by: [] };
    const { env, seen } = fakeEnv({
      'GET /api/v1/settings/backup': [200, SETTINGS],
      'PUT /api/v1/settings/backup': [200, SETTINGS],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.backupSettings()).resolves.toEqual(SETTINGS);
    await expect(backend.saveBackupSettings('/b', 3, 'pass')).resolves.toEqual(SETTINGS);
    expect(seen.map((s) => [s.method, s.url.replace('http://127.0.0.1:5000', ''), s.body])).toEqual([
      ['GET', '/api/v1/settings/backup', null],
      ['PUT', '/api/v1/settings/backup', { folder: '/b', keep: 3, passphrase: 'pass' }],
    ]);
  });
});

describe('HttpBackend reputation', () => {
  it('looks a peer up and rates a trade on their routes', async () => {
    const REPUTATION = { peer: '12D3KooW/x', settled: 3, refused: [] };
    const { env, seen } = fakeEnv({
      'GET /api/v1/reputation/12D3KooW%2Fx': [200, REPUTATION],
      'POST /api/v1/trades/t-1/rating': [200, { receipt: 'signed by both parties' }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.reputation('12D3KooW/x')).resolves.toEqual(REPUTATION);
    await expect(backend.rateTrade('t-1', 4, 'quick and polite')).resolves.toBeUndefined();
    expect(seen.map((s) => [s.method, s.url.replace('http://127.0.0.1:5000', ''), s.body])).toEqual([
      ['GET', '/api/v1/reputation/12D3KooW%2Fx', null],
      ['POST', '/api/v1/trades/t-1/rating', { stars: 4, comment: 'quick and polite' }],
    ]);
  });

  it('passes the core’s refusal of a rating on with its words', async () => {
    const { env } = fakeEnv({
      'POST /api/v1/trades/t-1/rating': [
        400,
        { kind: 'invalid_input', message: 'the counterparty has not countersigned this trade\'s receipt yet; rate it once it did' },
      ],
      'GET /api/v1/reputation/p': [503, { kind: 'offline', message: 'the network is not up' }],
    });
    const backend = new HttpBackend('http://127.0.0.1:5000', 'tok', env);
    await expect(backend.rateTrade('t-1', 5, '')).rejects.toMatchObject({
      kind: 'invalid_input',
      message: expect.stringContaining('has not countersigned') as string,
    });
    await expect(backend.reputation('p')).rejects.toMatchObject({ kind: 'offline', message: 'the network is not up' });
  });
});

describe('token hand-over', () => {
  it('moves the token from the fragment to sessionStorage and clears the address', () => {
    sessionStorage.clear();
    window.history.replaceState(null, '', '/#token=abc123');
    expect(takeToken(window)).toBe('abc123');
    expect(window.location.hash).toBe('');
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe('abc123');
    // A reload of the same tab finds it again.
    expect(takeToken(window)).toBe('abc123');
    sessionStorage.clear();
    expect(takeToken(window)).toBeNull();
  });
});
