import type { Backend, NodeSignal, TakeRequest } from '../backend/types';
import { BackendError } from '../backend/errors';
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
  CreatedIdentity,
  Decision,
  DisputeInfo,
  ErrorKind,
  IdentityInfo,
  ImportedBackup,
  MarketPrice,
  MyOffer,
  NetworkStatus,
  NewOffer,
  PageRequest,
  Offer,
  PhaseProgress,
  Preferences,
  StepKind,
  Quote,
  Reputation,
  SavedConnection,
  StartupPhase,
  StartupProgress,
  TradeAnswer,
  TradeInfo,
  WalletFunding,
} from '../bindings';
import { comparePrice } from '../logic/book';
import { isOverState, negotiationStep, tradeStep } from '../logic/protocol';
import { mySide } from '../logic/trades';
import { validateNickname } from '../logic/reputation';

/** The core's offer rules (`Offer::validate`) a UI test can run into, checked as the core checks them. */
function offerProblem(offer: NewOffer): string | null {
  const HOUR_MS = 3_600_000;
  if (offer.min_amount <= 0 || offer.max_amount <= 0) return 'an offer amount of zero';
  if (offer.min_amount > offer.max_amount) return 'the minimum amount is above the maximum';
  if ('fixed' in offer.price) {
    if (!/^\d+(\.\d{1,8})?$/.test(offer.price.fixed)) return `the price ${offer.price.fixed} is not a number of at most 8 decimals`;
    if (Number(offer.price.fixed) <= 0) return 'the price must be above zero';
  } else if (Math.abs(offer.price.market_relative.premium_bps) > 5_000) {
    return 'a premium of at most 50 %';
  }
  if (offer.deposit_bps > 5_000) return 'a deposit of at most 50 %';
  const methods = offer.payment_methods;
  if (methods.length < 1 || methods.length > 8) return `${methods.length.toString()} payment methods; 1 to 8`;
  if (methods.some((m) => !/^[A-Z0-9_]{2,32}$/.test(m))) return 'a payment method is capitals, digits and _ (2 to 32)';
  if (new Set(methods).size !== methods.length) return 'a payment method named twice';
  if ([...offer.terms].length > 2_000) return 'terms of at most 2000 characters';
  if (offer.ttl_ms <= 0 || offer.ttl_ms > 7 * 24 * HOUR_MS) return 'an offer lasts up to 7 days';
  return null;
}

/** The shape of a PeerId (an Ed25519 key's: 12D3KooW…); the core parses it, the fake's own ids only look like one. */
const PEER_ID = /^12D3KooW[0-9A-Za-z]{30,}$/;

/** 24 distinct, recognisable words so tests can look them up by position. */
export const FAKE_WORDS: readonly string[] = [
  'abandon', 'ability', 'able', 'about', 'above', 'absent',
  'absorb', 'abstract', 'absurd', 'abuse', 'access', 'accident',
  'account', 'accuse', 'achieve', 'acid', 'acoustic', 'acquire',
  'across', 'act', 'action', 'actor', 'actress', 'actual',
];

export const FAKE_PEER_ID = '12D3KooWFakePeerIdForTests9xYzAbCdEfGh1234567890Qq';
export const FAKE_DATA_DIR = '/home/test/.local/share/souk';
export const OTHER_PEER_ID = '12D3KooWOtherMakerPeerIdForTests7aBcDeFgHiJkLmNoPq';
export const BUYER_PEER_ID = '12D3KooWBuyerPeerIdForDisputeTests3xYzAbCdEfGhJkLm';
export const SELLER_PEER_ID = '12D3KooWSellerPeerIdForDisputeTests5qRsTuVwXyZaBc';

/** A valid offer for tests; override what matters. */
export function fakeOffer(overrides: Partial<Offer> = {}): Offer {
  return {
    id: overrides.id ?? `0190a000-0000-7000-8000-${Math.floor(Math.random() * 1e12).toString().padStart(12, '0')}`,
    maker: OTHER_PEER_ID,
    side: 'sell',
    base: 'BTC',
    quote: 'EUR',
    price: { fixed: '60000' },
    min_amount: 1_000_000,
    max_amount: 10_000_000,
    payment_methods: ['SEPA'],
    escrow: { kind: 'none' },
    deposit_bps: 1500,
    maker_x25519: '00'.repeat(32),
    created_at: 1_700_000_000_000,
    expires_at: Date.now() + 86_400_000,
    terms: '',
    ...overrides,
  };
}

export function fakeEntry(offer: Partial<Offer> = {}, entry: Partial<BookEntry> = {}): BookEntry {
  const o = fakeOffer(offer);
  return {
    offer: o,
    mine: o.maker === FAKE_PEER_ID,
    maker_last_seen: Date.now(),
    effective_price: 'fixed' in o.price ? o.price.fixed : null,
    completed_with_maker: 0,
    maker_reach: 'unknown',
    ...entry,
  };
}

/** A trade for tests; override what matters. */
export function fakeTrade(overrides: Partial<TradeInfo> = {}): TradeInfo {
  const offer = overrides.offer ?? fakeOffer({ maker: FAKE_PEER_ID });
  return {
    id: `0190b000-0000-7000-8000-${Math.floor(Math.random() * 1e12).toString().padStart(12, '0')}`,
    role: 'maker',
    counterparty: OTHER_PEER_ID,
    state: 'Requested',
    offer,
    terms: { amount: 5_000_000, price: offer.price, method: offer.payment_methods[0] ?? 'SEPA', payout: '' },
    reject_reason: null,
    waiting_for: 'maker',
    next_step: 'accept, counter or reject the take',
    unread: 0,
    escrow: null,
    steps: [],
    created_at: 1_700_000_000_000,
    updated_at: 1_700_000_000_000,
    ...overrides,
  };
}

/** A dispute as an arbitrator holds it: both parties' cases in, not decided; override what matters. */
export function fakeDispute(overrides: Partial<DisputeInfo> = {}): DisputeInfo {
  const offer = overrides.offer ?? fakeOffer({ maker: SELLER_PEER_ID, base: 'LTC', escrow: { kind: 'multisig', arbitrators: [FAKE_PEER_ID] } });
  return {
    trade_id: `0190d000-0000-7000-8000-${Math.floor(Math.random() * 1e12).toString().padStart(12, '0')}`,
    chain: 'ltc',
    network: 'regtest',
    offer,
    buyer: BUYER_PEER_ID,
    seller: SELLER_PEER_ID,
    buyer_address: 'rltc1qbuyerpayoutaddress',
    seller_address: 'rltc1qsellerrefundaddress',
    escrow_address: 'rltc1qescrowaddressofthetrade',
    amount: 100_000_000,
    buyer_deposit: 15_000_000,
    seller_deposit: 15_000_000,
    opened_by: 'buyer',
    cases: [
      { side: 'buyer', reason: 'I paid, no answer', transcript: ['1700000000000 me: sent 80 EUR'] },
      { side: 'seller', reason: 'I paid, no answer', transcript: ['1700000000000 them: sent 80 EUR'] },
    ],
    opened_at: 1_700_000_100_000,
    resolved_to: null,
    resolved_at: null,
    decision: null,
    on_chain: { buyer_output: 15_000_000, seller_output: 115_000_000 },
    ...overrides,
  };
}

let messageCounter = 0;

export function fakeMessage(overrides: Partial<ChatMessage> = {}): ChatMessage {
  messageCounter += 1;
  return {
    id: `0190c000-0000-7000-8000-${messageCounter.toString().padStart(12, '0')}`,
    trade_id: 'trade',
    outgoing: false,
    seq: messageCounter,
    sender: OTHER_PEER_ID,
    body: 'hello',
    sent_at: 1_700_000_000_000 + messageCounter,
    delivered_at: 1_700_000_000_000 + messageCounter,
    read_at: null,
    ...overrides,
  };
}

export const PHASES: readonly StartupPhase[] = ['keystore', 'database', 'network', 'bootstrap', 'book'];
/** A start in Tor mode: Tor's bootstrap is a phase of its own. */
export const TOR_PHASES: readonly StartupPhase[] = ['keystore', 'database', 'tor', 'network', 'bootstrap', 'book'];

/** A startup progress: each phase done, unless `states` says otherwise. */
export function fakeProgress(
  states: Partial<Record<StartupPhase, Partial<PhaseProgress>>> = {},
  phases: readonly StartupPhase[] = PHASES,
): StartupProgress {
  return {
    phases: phases.map((phase) => ({
      phase,
      state: 'done',
      detail: 'ok',
      error: null,
      elapsed_ms: 5,
      ...states[phase],
    })),
  };
}

export const DEFAULT_PREFERENCES: Preferences = {
  theme: 'system',
  notifications: { offer_taken: true, message: true, escrow: true, deadline: true, matching_offer: true },
  payment_accounts: [],
  accepted_arbitrators: [],
  excluded_arbitrators: [],
  saved_searches: [],
  nickname: '',
};

export function fakeConnection(overrides: Partial<ConnectionSettings> = {}): ConnectionSettings {
  const values = {
    chain: 'btc' as const,
    network: 'main' as const,
    rpc_url: '',
    rpc_user: '',
    rpc_password_set: false,
    rpc_cookie_file: '',
    electrum_url: '',
    electrum_cert_sha256: '',
    bootstrap: [],
    tor: false,
  };
  return {
    path: `${FAKE_DATA_DIR}/souk.toml`,
    saved: values,
    running: values,
    env_overrides: [],
    restart_needed: false,
    ...overrides,
  };
}

/** A backup file the fake can import, at its path: the passphrase it opens with and what it holds. */
export interface FakeBackupFile {
  passphrase: string;
  summary: BackupSummary;
  /** Set: the file is damaged (import fails with `backup_corrupt` and this message). */
  damaged?: string;
}

/** A backup file's summary for tests; override what matters. */
export function fakeBackupSummary(overrides: Partial<BackupSummary> = {}): BackupSummary {
  return {
    path: '/media/usb/souk-backup-20261204-153000.soukbackup',
    peer_id: FAKE_PEER_ID,
    created_at_ms: 1_796_398_200_000,
    bytes: 40_960,
    trades: 3,
    open_trades: 1,
    has_config: true,
    ...overrides,
  };
}

/** A peer's reputation for tests: nothing settled yet; override what matters. */
export function fakeReputation(overrides: Partial<Reputation> = {}): Reputation {
  return {
    peer: OTHER_PEER_ID,
    nickname: null,
    settled: 0,
    with_escrow: 0,
    counterparties: 0,
    disputes_opened: 0,
    disputes_lost: 0,
    rating: null,
    ratings: 0,
    score: 0,
    first_seen: null,
    last_seen: null,
    holders: 0,
    receipts: [],
    refused: [],
    ...overrides,
  };
}

/** The trade states whose receipts the core makes, and so the ones that can be rated. */
const ENDED_STATES: readonly TradeInfo['state'][] = ['Completed', 'Resolved', 'Cancelled', 'Expired'];

type FakeState = 'needs_setup' | 'locked' | 'unlocked';

interface FakeBackendOptions {
  state?: FakeState;
  passphrase?: string;
  words?: readonly string[];
  /** Make the next call of a method fail with this error kind. */
  failNext?: Partial<Record<keyof Backend, ErrorKind>>;
  /** The node arbitrates disputes. */
  arbitrator?: boolean;
}

/** In-memory stand-in for the Rust core, for tests only. */
export class FakeBackend implements Backend {
  state: FakeState;
  passphrase: string;
  words: readonly string[];
  failNext: Partial<Record<keyof Backend, ErrorKind>>;
  readonly calls: { method: keyof Backend; args: unknown[] }[] = [];
  /** The book every market query reads from. */
  book: BookEntry[] = [];
  myOfferList: MyOffer[] = [];
  price: MarketPrice | null = null;
  network: NetworkStatus | null = {
    peer_id: FAKE_PEER_ID,
    listen_addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${FAKE_PEER_ID}`],
    connected_peers: [OTHER_PEER_ID],
    routing_table_size: 1,
    stored_records: 2,
    reach: 'unknown',
    nat_status: 'unknown',
    external_addrs: [],
    relays: [],
    relay_server: false,
    refusals: { takes: 0, envelopes: 0, chat_messages: 0, takes_expired: 0, recovery_copies: 0, peers_ignored: 0 },
  };
  chain: ChainStatus = {
    configured: false,
    chain: 'btc',
    network: 'main',
    rpc_url: null,
    connected: false,
    tip_height: null,
    confirmations: 2,
    error: null,
  };
  arbitrator: boolean;
  disputeList: DisputeInfo[] = [];
  tradeList: TradeInfo[] = [];
  chats: Record<string, ChatMessage[]> = {};
  /** When set, takes are refused by the "maker" with this reason. */
  refuseTakes: string | null = null;
  prefs: Preferences = structuredClone(DEFAULT_PREFERENCES);
  /** When set, the next preferences save is refused with this reason (as the core would). */
  refusePreferences: string | null = null;
  progress: StartupProgress = fakeProgress();
  /** What a retry leaves the progress at (default: unchanged). */
  progressAfterRetry: StartupProgress | null = null;
  connection: ConnectionSettings = fakeConnection();
  /** What a chain test answers: a check, or an error message (kind invalid_input). */
  chainAnswer: ChainCheck | string = { chain: 'btc', network: 'main', url: '', tip_height: 0, wallets: true, pruned: false, electrum: false };
  /** While set, an unlock waits for it (to look at the screen meanwhile). */
  unlockHold: Promise<void> | null = null;
  /** The dial results a connection save reports. */
  dialResults: SavedConnection['dialled'] = [];
  /** Backup files by path: what an import can open; every export adds its file. */
  backupFiles = new Map<string, FakeBackupFile>();
  /** Every backup written, in order. */
  exported: BackupSummary[] = [];
  /** Automatic backups as the core would hold them; `overridden_by` as the environment says. */
  backupConfig: BackupSettings = { folder: null, keep: 5, running: false, overridden_by: [] };
  /** When the fake's clock says an export happens (ms). */
  now = 1_796_398_200_000;
  /**
   * What a reputation lookup answers, by peer: a reputation, or an error message (kind `offline`, as
   * without a network); a peer not listed has no receipts.
   */
  reputations: Record<string, Reputation | string> = {};
  /** While set, reputation lookups wait for it (to look at the screen meanwhile). */
  reputationHold: Promise<void> | null = null;
  /** Ratings given, by trade id (a new one replaces the old, as in the core). */
  ratings: Record<string, { stars: number; comment: string }> = {};
  /** When set, ratings are refused with this reason (as before the counterparty countersigned). */
  refuseRatings: string | null = null;
  private seq = 0;
  private listeners = new Set<(signal: NodeSignal) => void>();

  constructor(options: FakeBackendOptions = {}) {
    this.state = options.state ?? 'needs_setup';
    this.passphrase = options.passphrase ?? 'correct horse';
    this.words = options.words ?? FAKE_WORDS;
    this.failNext = { ...options.failNext };
    this.arbitrator = options.arbitrator ?? false;
  }

  private identity(): IdentityInfo {
    return { peer_id: FAKE_PEER_ID, data_dir: FAKE_DATA_DIR, schema_version: 3, arbitrator: this.arbitrator };
  }

  private record(method: keyof Backend, args: unknown[]): void {
    this.calls.push({ method, args });
    const kind = this.failNext[method];
    if (kind) {
      delete this.failNext[method];
      throw new BackendError(kind, `injected ${kind}`);
    }
  }

  callsOf(method: keyof Backend): unknown[][] {
    return this.calls.filter((call) => call.method === method).map((call) => call.args);
  }

  appStatus(): Promise<AppStatus> {
    return Promise.resolve().then(() => {
      this.record('appStatus', []);
      switch (this.state) {
        case 'needs_setup':
          return { state: 'needs_setup', data_dir: FAKE_DATA_DIR };
        case 'locked':
          return { state: 'locked', data_dir: FAKE_DATA_DIR, peer_id: FAKE_PEER_ID };
        case 'unlocked':
          return { state: 'unlocked', identity: this.identity() };
      }
    });
  }

  /** As the core: Tor mode chosen on first run is refused, before anything changes, while a bootstrap peer is not an onion address. */
  private checkTor(tor: boolean): void {
    const clear = this.connection.saved.bootstrap.find((addr) => !addr.startsWith('/onion3/'));
    if (tor && clear) {
      throw new BackendError(
        'invalid_input',
        `Tor mode cannot be used with these settings ([net]: bootstrap ${clear}: Tor mode reaches peers only at onion addresses (/onion3/…/p2p/PEERID)). Leave “Connect only through Tor” off for now, and switch Tor mode on in Settings once the bootstrap peers are onion addresses (or edit ${this.connection.path}); nothing was changed`,
      );
    }
  }

  /** Tor mode chosen on first run: saved, and the first start runs with it. */
  private applyTor(tor: boolean): void {
    if (!tor) return;
    this.connection = {
      ...this.connection,
      saved: { ...this.connection.saved, tor: true },
      running: { ...this.connection.running, tor: true },
    };
  }

  createIdentity(passphrase: string, tor: boolean): Promise<CreatedIdentity> {
    return Promise.resolve().then(() => {
      this.record('createIdentity', [passphrase, tor]);
      if (this.state !== 'needs_setup') {
        throw new BackendError('already_initialized', 'identity exists');
      }
      this.checkTor(tor);
      this.applyTor(tor);
      this.state = 'unlocked';
      this.passphrase = passphrase;
      return { identity: this.identity(), words: [...this.words] };
    });
  }

  restoreIdentity(words: string, passphrase: string, tor: boolean): Promise<IdentityInfo> {
    return Promise.resolve().then(() => {
      this.record('restoreIdentity', [words, passphrase, tor]);
      if (this.state !== 'needs_setup') {
        throw new BackendError('already_initialized', 'identity exists');
      }
      this.checkTor(tor);
      if (words !== this.words.join(' ')) {
        throw new BackendError('invalid_seed_phrase', 'checksum mismatch');
      }
      this.applyTor(tor);
      this.state = 'unlocked';
      this.passphrase = passphrase;
      return this.identity();
    });
  }

  /** As the core: only into an empty data folder, with the passphrase the backup was made with. */
  importBackup(source: string, passphrase: string): Promise<ImportedBackup> {
    return Promise.resolve().then(() => {
      this.record('importBackup', [source, passphrase]);
      if (this.state !== 'needs_setup') {
        throw new BackendError(
          'invalid_input',
          `${FAKE_DATA_DIR} already holds an identity (identity.keystore): a backup is imported only into an empty data directory; nothing was changed`,
        );
      }
      const path = source.trim();
      if (!path) throw new BackendError('invalid_input', 'name the backup file to import');
      const file = this.backupFiles.get(path);
      if (!file) throw new BackendError('invalid_input', `no backup file at ${path}`);
      if (file.damaged !== undefined) {
        throw new BackendError('backup_corrupt', `the backup file is damaged or was tampered with: ${file.damaged}`);
      }
      if (passphrase !== file.passphrase) {
        throw new BackendError(
          'wrong_passphrase',
          'wrong passphrase: the backup did not open with it (it opens with the passphrase of the keystore it holds)',
        );
      }
      this.state = 'unlocked';
      this.passphrase = passphrase;
      return {
        identity: this.identity(),
        backup: { ...file.summary, path },
        config_restored: file.summary.has_config,
      };
    });
  }

  unlock(passphrase: string): Promise<IdentityInfo> {
    return Promise.resolve().then(async () => {
      this.record('unlock', [passphrase]);
      if (this.unlockHold) await this.unlockHold;
      if (this.state === 'needs_setup') {
        throw new BackendError('not_initialized', 'no identity');
      }
      if (passphrase !== this.passphrase) {
        throw new BackendError('wrong_passphrase', 'decryption failed');
      }
      this.state = 'unlocked';
      return this.identity();
    });
  }

  networkStatus(): Promise<NetworkStatus> {
    return Promise.resolve().then(() => {
      this.record('networkStatus', []);
      if (!this.network) throw new BackendError('offline', 'network not started');
      return this.network;
    });
  }

  chainStatus(): Promise<ChainStatus> {
    return Promise.resolve().then(() => {
      this.record('chainStatus', []);
      return this.chain;
    });
  }

  offers(query: BookQuery): Promise<BookEntry[]> {
    return Promise.resolve().then(() => {
      this.record('offers', [query]);
      return this.book.filter(
        ({ offer, mine }) =>
          (query.base === null || offer.base === query.base) &&
          (query.quote === null || offer.quote === query.quote) &&
          (query.include_mine !== false || !mine),
      );
    });
  }

  bookPage(query: BookQuery, page: PageRequest): Promise<BookPage> {
    return this.offers(query).then((all) => {
      this.record('bookPage', [query, page]);
      // The core's filters and order: sells cheapest first, then buys dearest first.
      const kept = all.filter(
        ({ offer }) =>
          (query.side === null || offer.side === query.side) &&
          (query.method === null || offer.payment_methods.includes(query.method)) &&
          (query.amount === null || (query.amount >= offer.min_amount && query.amount <= offer.max_amount)),
      );
      const side = (s: 'sell' | 'buy') =>
        kept.filter((e) => e.offer.side === s).sort(comparePrice(s === 'sell' ? 'ascending' : 'descending'));
      const entries = [...side('sell'), ...side('buy')];
      const start = page.after === null ? 0 : Number(page.after);
      const end = start + (page.limit ?? 50);
      return {
        entries: entries.slice(start, end),
        total: Math.min(entries.length, 1000),
        total_capped: entries.length > 1000,
        next: end < entries.length ? String(end) : null,
      };
    });
  }

  myOffers(): Promise<MyOffer[]> {
    return Promise.resolve().then(() => {
      this.record('myOffers', []);
      return [...this.myOfferList];
    });
  }

  postOffer(offer: NewOffer): Promise<Offer> {
    return Promise.resolve().then(() => {
      this.record('postOffer', [offer]);
      const problem = offerProblem(offer);
      if (problem !== null) throw new BackendError('invalid_input', problem);
      const { ttl_ms, ...rest } = offer;
      const posted = fakeOffer({ ...rest, maker: FAKE_PEER_ID, expires_at: Date.now() + ttl_ms });
      this.book.push({
        offer: posted,
        mine: true,
        maker_last_seen: Date.now(),
        effective_price: null,
        completed_with_maker: 0,
        maker_reach: 'unknown',
      });
      this.myOfferList.unshift({ offer: posted, state: { state: 'live' } });
      this.emit({ kind: 'offer_added', offer: posted });
      return posted;
    });
  }

  withdrawOffer(id: string): Promise<void> {
    return Promise.resolve().then(() => {
      this.record('withdrawOffer', [id]);
      this.book = this.book.filter((e) => e.offer.id !== id);
      this.myOfferList = this.myOfferList.map((m) =>
        m.offer.id === id ? { ...m, state: { state: 'withdrawn', at: Date.now() } } : m,
      );
      this.emit({ kind: 'offer_withdrawn', id });
    });
  }

  refreshMarket(base: Asset, quote: Quote): Promise<number> {
    return Promise.resolve().then(() => {
      this.record('refreshMarket', [base, quote]);
      return 0;
    });
  }

  marketPrice(base: Asset, quote: Quote): Promise<MarketPrice | null> {
    return Promise.resolve().then(() => {
      this.record('marketPrice', [base, quote]);
      return this.price;
    });
  }

  private findTrade(id: string): TradeInfo {
    const trade = this.tradeList.find((t) => t.id === id);
    if (!trade) throw new BackendError('invalid_input', `no trade ${id}`);
    return trade;
  }

  /** Stores a changed trade and tells the subscribers, as the core does. */
  updateTrade(id: string, change: Partial<TradeInfo>): TradeInfo {
    const trade = { ...this.findTrade(id), ...change, updated_at: Date.now() };
    this.tradeList = this.tradeList.map((t) => (t.id === id ? trade : t));
    this.emit({ kind: 'trade_updated', trade });
    return trade;
  }

  takeOffer(take: TakeRequest): Promise<TradeInfo> {
    return Promise.resolve().then(() => {
      this.record('takeOffer', [take]);
      if (this.refuseTakes !== null) {
        throw new BackendError('invalid_input', `the maker refused the take: ${this.refuseTakes}`);
      }
      const entry = this.book.find((e) => e.offer.id === take.offerId);
      if (!entry) throw new BackendError('invalid_input', `no offer ${take.offerId} in the book`);
      const trade = fakeTrade({
        role: 'taker',
        counterparty: entry.offer.maker,
        offer: entry.offer,
        terms: { amount: take.amount, price: entry.offer.price, method: take.method, payout: take.payout },
        next_step: 'waiting for the maker to answer the take',
      });
      this.tradeList.unshift(trade);
      this.emit({ kind: 'trade_updated', trade });
      return trade;
    });
  }

  answerTrade(tradeId: string, answer: TradeAnswer): Promise<TradeInfo> {
    return Promise.resolve().then(() => {
      this.record('answerTrade', [tradeId, answer]);
      const trade = this.findTrade(tradeId);
      // The core's rule: who may answer, in which state.
      const step = negotiationStep(trade.state, trade.role, answer.kind);
      if ('refused' in step) throw new BackendError('invalid_input', step.refused);
      switch (answer.kind) {
        case 'accept':
          return this.updateTrade(tradeId, { state: 'Accepted', waiting_for: null, next_step: 'waiting for the buyer\'s payment' });
        case 'reject':
          return this.updateTrade(tradeId, { state: 'Rejected', waiting_for: null, reject_reason: answer.reason, next_step: 'rejected (nothing left to do)' });
        case 'counter':
          return this.updateTrade(tradeId, {
            state: 'Countered',
            waiting_for: 'taker',
            next_step: 'waiting for the taker to answer the counter',
            terms: {
              ...trade.terms,
              amount: answer.amount ?? trade.terms.amount,
              price: answer.price === null ? trade.terms.price : { fixed: answer.price },
            },
          });
      }
    });
  }

  trades(): Promise<TradeInfo[]> {
    return Promise.resolve().then(() => {
      this.record('trades', []);
      return [...this.tradeList];
    });
  }

  trade(tradeId: string): Promise<TradeInfo> {
    return Promise.resolve().then(() => {
      this.record('trade', [tradeId]);
      return this.findTrade(tradeId);
    });
  }

  chatLog(tradeId: string): Promise<ChatMessage[]> {
    return Promise.resolve().then(() => {
      this.record('chatLog', [tradeId]);
      this.findTrade(tradeId);
      return [...(this.chats[tradeId] ?? [])];
    });
  }

  sendChat(tradeId: string, text: string): Promise<ChatMessage> {
    return Promise.resolve().then(() => {
      this.record('sendChat', [tradeId, text]);
      this.findTrade(tradeId);
      // The core's rules for every chat message (`check_chat_text`).
      if (text.trim() === '') throw new BackendError('invalid_input', 'a chat message cannot be empty');
      const chars = [...text].length;
      if (chars > 4_000) {
        throw new BackendError('invalid_input', `the message is ${chars.toString()} characters; at most 4000 are allowed`);
      }
      this.seq += 1;
      const message = fakeMessage({
        trade_id: tradeId,
        outgoing: true,
        seq: this.seq,
        sender: FAKE_PEER_ID,
        body: text,
        sent_at: Date.now(),
        delivered_at: null,
      });
      this.chats[tradeId] = [...(this.chats[tradeId] ?? []), message];
      this.emit({ kind: 'message', message });
      return message;
    });
  }

  markRead(tradeId: string): Promise<number> {
    return Promise.resolve().then(() => {
      this.record('markRead', [tradeId]);
      let marked = 0;
      this.chats[tradeId] = (this.chats[tradeId] ?? []).map((m) => {
        if (m.outgoing || m.read_at !== null) return m;
        marked += 1;
        return { ...m, read_at: Date.now() };
      });
      this.tradeList = this.tradeList.map((t) => (t.id === tradeId ? { ...t, unread: 0 } : t));
      return marked;
    });
  }

  private step(method: keyof Backend, tradeId: string, args: unknown[], change: Partial<TradeInfo>): Promise<TradeInfo> {
    return Promise.resolve().then(() => {
      this.record(method, [tradeId, ...args]);
      return this.updateTrade(tradeId, change);
    });
  }

  /** This node's side makes `kind`: where the core's table leads, or the core's refusal. */
  private move(method: keyof Backend, tradeId: string, args: unknown[], kind: StepKind): Promise<TradeInfo> {
    return Promise.resolve().then(() => {
      this.record(method, [tradeId, ...args]);
      const trade = this.findTrade(tradeId);
      const step = tradeStep(trade.state, mySide(trade), kind, trade.offer.escrow.kind !== 'none');
      if ('refused' in step) throw new BackendError('invalid_input', step.refused);
      return this.updateTrade(tradeId, { state: step.to });
    });
  }

  setEscrowAddress(tradeId: string, address: string): Promise<TradeInfo> {
    const trade = this.tradeList.find((t) => t.id === tradeId);
    const escrow = trade?.escrow ? { ...trade.escrow, my_address: address } : null;
    return this.step('setEscrowAddress', tradeId, [address], { escrow });
  }

  /** What `fundFromWallet` answers (a string: it fails with that message). */
  fundingAnswer: WalletFunding | string = {
    wallet: 'main',
    asset: 'LTC',
    address: 'rltc1qbuyersownoutput',
    amount: 375_000,
    fee: 1_410,
    psbt: 'cHNidP8BAH0CAAAAAQ==',
    txid: null,
  };

  fundFromWallet(tradeId: string, wallet: string, broadcast: boolean): Promise<WalletFunding> {
    this.calls.push({ method: 'fundFromWallet', args: [tradeId, wallet, broadcast] });
    const answer = this.fundingAnswer;
    if (typeof answer === 'string') return Promise.reject(new BackendError('invalid_input', answer));
    return Promise.resolve(broadcast ? { ...answer, wallet, txid: 'cd'.repeat(32) } : { ...answer, wallet });
  }

  markPaid(tradeId: string): Promise<TradeInfo> {
    return this.move('markPaid', tradeId, [], 'payment_sent');
  }

  markReceived(tradeId: string): Promise<TradeInfo> {
    return this.move('markReceived', tradeId, [], 'payment_received');
  }

  cancelTrade(tradeId: string, reason: string): Promise<TradeInfo> {
    return this.move('cancelTrade', tradeId, [reason], 'cancel');
  }

  disputeTrade(tradeId: string, reason: string): Promise<TradeInfo> {
    return this.move('disputeTrade', tradeId, [reason], 'dispute');
  }

  private findDispute(id: string): DisputeInfo {
    const dispute = this.disputeList.find((d) => d.trade_id === id);
    if (!dispute) throw new BackendError('invalid_input', `no dispute about trade ${id} here`);
    return dispute;
  }

  disputes(): Promise<DisputeInfo[]> {
    return Promise.resolve().then(() => {
      this.record('disputes', []);
      return [...this.disputeList];
    });
  }

  disputeInfo(tradeId: string): Promise<DisputeInfo> {
    return Promise.resolve().then(() => {
      this.record('disputeInfo', [tradeId]);
      return this.findDispute(tradeId);
    });
  }

  /**
   * As the core does: a decision stands unless a party refused it (then the next round may decide
   * again); a split needs a share for the buyer that leaves the seller something.
   */
  resolveDispute(tradeId: string, decision: Decision): Promise<DisputeInfo> {
    return Promise.resolve().then(() => {
      this.record('resolveDispute', [tradeId, decision]);
      const dispute = this.findDispute(tradeId);
      const held = dispute.decision;
      if (held && !held.can_decide_again) {
        throw new BackendError(
          'invalid_input',
          `this dispute was resolved already, to the ${dispute.resolved_to ?? '?'} (decision ${held.round}), and no party has refused it: it stands`,
        );
      }
      const total = dispute.on_chain
        ? dispute.on_chain.buyer_output + dispute.on_chain.seller_output
        : dispute.amount + dispute.buyer_deposit + dispute.seller_deposit;
      let buyerShare = decision.to === 'buyer' ? total : 0;
      if (decision.to === 'split') {
        const share = decision.buyer_gets ?? 0;
        if (share <= 0 || share >= total) {
          throw new BackendError('invalid_input', `the buyer's share must be more than nothing and less than the ${total} the escrow holds`);
        }
        buyerShare = share;
      }
      const resolved: DisputeInfo = {
        ...dispute,
        resolved_to: decision.to,
        resolved_at: Date.now(),
        decision: {
          round: held ? held.round + 1 : 1,
          buyer_share: buyerShare,
          seller_share: total - buyerShare,
          reason: decision.reason.trim(),
          buyer_answer: null,
          seller_answer: null,
          can_decide_again: false,
        },
      };
      this.disputeList = this.disputeList.map((d) => (d.trade_id === tradeId ? resolved : d));
      this.emit({ kind: 'dispute_resolved', trade_id: tradeId });
      return resolved;
    });
  }

  /** A party's case arrives, as the core tells an arbitrator. */
  receiveDispute(dispute: DisputeInfo): void {
    this.disputeList = [dispute, ...this.disputeList.filter((d) => d.trade_id !== dispute.trade_id)];
    this.emit({ kind: 'dispute_opened', trade_id: dispute.trade_id });
}

  preferences(): Promise<Preferences> {
    return Promise.resolve().then(() => {
      this.record('preferences', []);
      return structuredClone(this.prefs);
    });
  }

  savePreferences(preferences: Preferences): Promise<Preferences> {
    return Promise.resolve().then(() => {
      this.record('savePreferences', [preferences]);
      if (this.refusePreferences !== null) {
        const reason = this.refusePreferences;
        this.refusePreferences = null;
        throw new BackendError('invalid_input', reason);
      }
      // The core's nickname checks (its length and characters, and no spaces at either end).
      const checked = validateNickname(preferences.nickname);
      if (checked.error !== null) throw new BackendError('invalid_input', checked.error);
      if (checked.nickname !== preferences.nickname) {
        throw new BackendError('invalid_input', 'a nickname with spaces at either end');
      }
      this.prefs = structuredClone(preferences);
      return structuredClone(preferences);
    });
  }

  startupProgress(): Promise<StartupProgress> {
    return Promise.resolve().then(() => {
      this.record('startupProgress', []);
      return structuredClone(this.progress);
    });
  }

  retryStartup(): Promise<StartupProgress> {
    return Promise.resolve().then(() => {
      this.record('retryStartup', []);
      if (this.progressAfterRetry) this.progress = this.progressAfterRetry;
      return structuredClone(this.progress);
    });
  }

  connectionSettings(): Promise<ConnectionSettings> {
    return Promise.resolve().then(() => {
      this.record('connectionSettings', []);
      return structuredClone(this.connection);
    });
  }

  saveConnectionSettings(edit: ConnectionEdit): Promise<SavedConnection> {
    return Promise.resolve().then(() => {
      this.record('saveConnectionSettings', [edit]);
      const saved = {
        chain: edit.chain,
        network: edit.network,
        rpc_url: edit.rpc_url.trim(),
        rpc_user: edit.rpc_user,
        rpc_password_set: edit.rpc_password === null ? this.connection.saved.rpc_password_set : edit.rpc_password !== '',
        rpc_cookie_file: edit.rpc_cookie_file.trim(),
        electrum_url: edit.electrum_url.trim(),
        electrum_cert_sha256: edit.electrum_cert_sha256.trim(),
        bootstrap: edit.bootstrap.map((a) => a.trim()),
        tor: edit.tor,
      };
      this.connection = { ...this.connection, saved, restart_needed: true };
      return { settings: structuredClone(this.connection), dialled: this.dialResults };
    });
  }

  testChainConnection(edit: ConnectionEdit): Promise<ChainCheck> {
    return Promise.resolve().then(() => {
      this.record('testChainConnection', [edit]);
      if (typeof this.chainAnswer === 'string') throw new BackendError('invalid_input', this.chainAnswer);
      return this.chainAnswer;
    });
  }

  /**
   * As the core: the keystore's passphrase only; a folder (a target not ending in `.soukbackup`) gets a
   * file named by the time; an existing file is never replaced.
   */
  exportBackup(target: string, passphrase: string): Promise<BackupSummary> {
    return Promise.resolve().then(() => {
      this.record('exportBackup', [target, passphrase]);
      if (this.state !== 'unlocked') throw new BackendError('not_initialized', 'no identity is unlocked');
      const where = target.trim().replace(/\/+$/, '');
      if (!where) throw new BackendError('invalid_input', 'name a file or a folder to write the backup to');
      if (passphrase !== this.passphrase) throw new BackendError('wrong_passphrase', 'decryption failed');
      const stamp = new Date(this.now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
      const path = where.endsWith('.soukbackup') ? where : `${where}/souk-backup-${stamp}.soukbackup`;
      if (this.backupFiles.has(path)) {
        throw new BackendError('invalid_input', `${path} already exists: a backup never replaces a file; choose another name`);
      }
      const summary = fakeBackupSummary({
        path,
        created_at_ms: this.now,
        bytes: 36_864 + 2_048 * this.tradeList.length,
        trades: this.tradeList.length,
        open_trades: this.tradeList.filter((t) => !isOverState(t.state)).length,
      });
      this.backupFiles.set(path, { passphrase, summary });
      this.exported.push(summary);
      return summary;
    });
  }

  backupSettings(): Promise<BackupSettings> {
    return Promise.resolve().then(() => {
      this.record('backupSettings', []);
      return structuredClone(this.backupConfig);
    });
  }

  /** As the core: keep 1–100; an empty folder turns off; on needs an absolute folder and the passphrase. */
  saveBackupSettings(folder: string, keep: number, passphrase: string): Promise<BackupSettings> {
    return Promise.resolve().then(() => {
      this.record('saveBackupSettings', [folder, keep, passphrase]);
      if (!Number.isInteger(keep) || keep < 1 || keep > 100) {
        throw new BackendError('invalid_input', `keep ${keep.toString()} backups? From 1 to 100`);
      }
      const where = folder.trim();
      if (where) {
        if (!where.startsWith('/')) {
          throw new BackendError('invalid_input', `${where} is not an absolute path: name the folder from the root (/media/usb/souk)`);
        }
        if (passphrase !== this.passphrase) throw new BackendError('wrong_passphrase', 'decryption failed');
      }
      this.backupConfig = {
        ...this.backupConfig,
        folder: where || null,
        keep,
        running: where !== '' && this.state === 'unlocked',
      };
      return structuredClone(this.backupConfig);
    });
  }

  reputation(peer: string): Promise<Reputation> {
    return Promise.resolve().then(async () => {
      this.record('reputation', [peer]);
      if (this.reputationHold) await this.reputationHold;
      const answer = this.reputations[peer];
      if (typeof answer === 'string') throw new BackendError('offline', answer);
      if (answer === undefined && !PEER_ID.test(peer)) {
        throw new BackendError('invalid_input', `${peer} is not a peer id`);
      }
      return structuredClone(answer ?? fakeReputation({ peer }));
    });
  }

  /** As the core: only an ended trade of this node, 1 to 5 stars, at most 140 bytes of comment. */
  rateTrade(tradeId: string, stars: number, comment: string): Promise<void> {
    return Promise.resolve().then(() => {
      this.record('rateTrade', [tradeId, stars, comment]);
      const trade = this.findTrade(tradeId);
      if (!ENDED_STATES.includes(trade.state)) {
        throw new BackendError('invalid_input', `trade ${tradeId} has no receipt: only ended trades of yours get one`);
      }
      if (this.refuseRatings !== null) throw new BackendError('invalid_input', this.refuseRatings);
      if (!Number.isInteger(stars) || stars < 1 || stars > 5) {
        throw new BackendError('invalid_input', `${stars.toString()} stars; a rating gives 1 to 5`);
      }
      const text = comment.trim();
      const bytes = new TextEncoder().encode(text).length;
      if (bytes > 140) throw new BackendError('invalid_input', `a comment of ${bytes.toString()} bytes; at most 140`);
      this.ratings[tradeId] = { stars, comment: text };
    });
  }

  subscribeEvents(listener: (signal: NodeSignal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Delivers a signal to every subscriber, as the core would. */
  emit(signal: NodeSignal): void {
    for (const listener of this.listeners) listener(signal);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
