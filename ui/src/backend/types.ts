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
  CommandMethod,
  ConnectionEdit,
  ConnectionSettings,
  Decision,
  CreatedIdentity,
  DisputeInfo,
  IdentityInfo,
  ImportedBackup,
  MarketEvent,
  MarketPrice,
  MyOffer,
  NetworkStatus,
  NewOffer,
  PageRequest,
  Offer,
  PaymentMethod,
  Preferences,
  Quote,
  Reputation,
  SavedConnection,
  StartupProgress,
  TradeAnswer,
  TradeEvent,
  TradeInfo,
  WalletFunding,
} from '../bindings';

/** Events may have been missed (the stream (re)connected or fell behind): read everything again. */
export interface Resync {
  kind: 'resync';
}

/**
 * What the event subscription delivers: the core's market and trade events, plus `resync` whenever
 * events may have been missed, so the state layer refetches.
 */
export type NodeSignal = MarketEvent | TradeEvent | Resync;
export type MarketSignal = MarketEvent | Resync;
export type TradeSignal = TradeEvent | Resync;

const MARKET_KINDS: ReadonlySet<string> = new Set<MarketEvent['kind']>([
  'offer_added',
  'offer_withdrawn',
  'offer_matched',
  'price_updated',
]);
const TRADE_KINDS: ReadonlySet<string> = new Set<TradeEvent['kind']>([
  'take_requested',
  'trade_updated',
  'recovered',
  'message',
  'delivered',
  'read',
  'dispute_opened',
  'dispute_resolved',
]);

/** The signal an event payload stands for: `lagged` becomes a resync; kinds this UI does not know are dropped. */
export function signalOf(payload: unknown): NodeSignal | null {
  const kind = (payload as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string') return null;
  if (kind === 'lagged' || kind === 'resync') return { kind: 'resync' };
  if (MARKET_KINDS.has(kind) || TRADE_KINDS.has(kind)) return payload as NodeSignal;
  return null;
}

export function isMarketSignal(signal: NodeSignal): signal is MarketSignal {
  return signal.kind === 'resync' || MARKET_KINDS.has(signal.kind);
}

export function isTradeSignal(signal: NodeSignal): signal is TradeSignal {
  return signal.kind === 'resync' || TRADE_KINDS.has(signal.kind);
}

/** A take of someone's offer: base units, one of the offer's payment methods, where to be paid. */
export interface TakeRequest {
  offerId: string;
  /** The offer's base asset: the HTTP API takes the amount as text in it. */
  base: Asset;
  amount: number;
  method: PaymentMethod;
  payout: string;
}

/**
 * Everything the UI asks of the Rust core. Implementations reject with a BackendError.
 * The desktop shell uses `tauriBackend` (IPC); browser mode (`souk serve`) uses `HttpBackend`
 * (HTTP + WebSocket). Nothing else in the UI knows which one it talks to.
 */
export interface Backend {
  appStatus(): Promise<AppStatus>;
  /**
   * Creates the identity; with `tor`, the node connects only through Tor from this first start on
   * (saved as Tor mode in souk.toml; refused, with nothing changed, when the settings cannot run so).
   */
  createIdentity(passphrase: string, tor: boolean): Promise<CreatedIdentity>;
  /** Restores the identity from its seed words; `tor` as for `createIdentity`. */
  restoreIdentity(words: string, passphrase: string, tor: boolean): Promise<IdentityInfo>;
  /**
   * Restores the backup file at `source` (a path on the node's machine) into the empty data folder,
   * opened with the passphrase it was made with; the identity is then unlocked, as after a restore.
   */
  importBackup(source: string, passphrase: string): Promise<ImportedBackup>;
  unlock(passphrase: string): Promise<IdentityInfo>;

  /** Peers, listen addresses, DHT state and reachability; rejects with kind `offline` until the network is up. */
  networkStatus(): Promise<NetworkStatus>;
  /** The chain backend: configured or not, connected with its tip height, or why it cannot be reached. */
  chainStatus(): Promise<ChainStatus>;
  /** The local order book (works offline, from the cache), best price first per side. */
  offers(query: BookQuery): Promise<BookEntry[]>;
  /**
   * A page of one market's book (query names its base and quote), best price first, with how many
   * offers match and where the next page starts (`page.after`); works offline.
   */
  bookPage(query: BookQuery, page: PageRequest): Promise<BookPage>;
  /** This node's own offers, live, expired and withdrawn, newest first. */
  myOffers(): Promise<MyOffer[]>;
  postOffer(offer: NewOffer): Promise<Offer>;
  withdrawOffer(id: string): Promise<void>;
  /** Asks the makers of a market for their offers; resolves to how many were new. */
  refreshMarket(base: Asset, quote: Quote): Promise<number>;
  /** The current market price, or null when none is known. */
  marketPrice(base: Asset, quote: Quote): Promise<MarketPrice | null>;

  /** Takes someone's offer; the maker must be reachable (a refusal rejects with its reason). */
  takeOffer(take: TakeRequest): Promise<TradeInfo>;
  /** Accepts, rejects or counters the other side's last negotiation step. */
  answerTrade(tradeId: string, answer: TradeAnswer): Promise<TradeInfo>;
  /** Every trade of this node, newest activity first (works offline). */
  trades(): Promise<TradeInfo[]>;
  trade(tradeId: string): Promise<TradeInfo>;
  /** A trade's chat, in order (works offline). */
  chatLog(tradeId: string): Promise<ChatMessage[]>;
  sendChat(tradeId: string, text: string): Promise<ChatMessage>;
  /** Marks the counterparty's messages read and tells it; resolves to how many were unread. */
  markRead(tradeId: string): Promise<number>;
  /** An escrow trade: where this party's coins go (buyer: payout; seller: refund). */
  setEscrowAddress(tradeId: string, address: string): Promise<TradeInfo>;
  /**
   * Pays this party's escrow output from the chain node's wallet `wallet`: built (amount, fee, unsigned
   * PSBT) and, with `broadcast`, signed by that wallet and sent.
   */
  fundFromWallet(tradeId: string, wallet: string, broadcast: boolean): Promise<WalletFunding>;
  /** The buyer: payment sent. */
  markPaid(tradeId: string): Promise<TradeInfo>;
  /** The seller: payment received (signs the escrow's release). */
  markReceived(tradeId: string): Promise<TradeInfo>;
  cancelTrade(tradeId: string, reason: string): Promise<TradeInfo>;
  disputeTrade(tradeId: string, reason: string): Promise<TradeInfo>;

  /** As an arbitrator: the disputes sent to this node, open ones first, newest first. */
  disputes(): Promise<DisputeInfo[]>;
  disputeInfo(tradeId: string): Promise<DisputeInfo>;
  /**
   * As an arbitrator: pays the escrow to the buyer, to the seller, or splits it (`buyer_gets` base units
   * to the buyer), with a reason shown to both; decided again only after a party refused the decision.
   */
  resolveDispute(tradeId: string, decision: Decision): Promise<DisputeInfo>;
  /** The person's preferences: theme, notifications, payment accounts (defaults until saved). */
  preferences(): Promise<Preferences>;
  /** Checks and stores the preferences whole; a refusal (with the core's reason) keeps the stored ones. */
  savePreferences(preferences: Preferences): Promise<Preferences>;

  /** How far the start has come, phase by phase; answers at once, even while an unlock runs. */
  startupProgress(): Promise<StartupProgress>;
  /** Runs the network phases (network, bootstrap, book) again after one failed. */
  retryStartup(): Promise<StartupProgress>;

  /** The chain backend and bootstrap peers as saved in souk.toml and as the node runs. */
  connectionSettings(): Promise<ConnectionSettings>;
  /** Saves them into souk.toml; new bootstrap peers are dialled at once, the rest applies on restart. */
  saveConnectionSettings(edit: ConnectionEdit): Promise<SavedConnection>;
  /** Connects to the chain backend described and reports its chain and tip; saves nothing. */
  testChainConnection(edit: ConnectionEdit): Promise<ChainCheck>;

  /**
   * Writes an encrypted backup (identity, trades, chats, payment accounts, settings) to `target`: a new
   * file, or a folder in which a file named by the time is made. `passphrase` is the identity's.
   */
  exportBackup(target: string, passphrase: string): Promise<BackupSummary>;
  /** Automatic backups: the folder (null: off), how many are kept, whether they run now. */
  backupSettings(): Promise<BackupSettings>;
  /**
   * Turns automatic backups on (an absolute folder outside the data folder, and the passphrase that
   * seals them) or off (an empty folder); written to souk.toml and applied at once. A refusal changes
   * nothing.
   */
  saveBackupSettings(folder: string, keep: number, passphrase: string): Promise<BackupSettings>;

  /**
   * `peer`'s reputation from the signed receipts of its trades, each checked by this node (escrows on its
   * chain). It asks the DHT and the chain: it can take seconds, and rejects with kind `offline` without
   * a network.
   */
  reputation(peer: string): Promise<Reputation>;
  /**
   * Rates the counterparty of an ended trade of this node: 1 to 5 stars and a comment of at most 140
   * bytes, published with this node's receipts; rating again replaces the rating. Refused until the
   * counterparty countersigned the trade's receipt.
   */
  rateTrade(tradeId: string, stars: number, comment: string): Promise<void>;

  /** Calls `listener` for every market and trade signal until the returned function is called. */
  subscribeEvents(listener: (signal: NodeSignal) => void): () => void;
}

/** `true` when `A` and `B` are the same set of names. */
type SameNames<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * Checked by the type checker: every command of the core's command table is a `Backend` method (its
 * name in camelCase), and every method but the event subscription is a command.
 */
export const BACKEND_MATCHES_THE_COMMAND_TABLE: SameNames<Exclude<keyof Backend, 'subscribeEvents'>, CommandMethod> = true;
