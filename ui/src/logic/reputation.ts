// A peer's reputation as the UI shows it: the words for the core's figures, the book's "at least N
// settled trades" filter, and the queue that keeps lookups few at a time. A lookup asks the DHT and
// the chain, so it is slow and may fail: nothing here waits for one, and nothing here calls the backend.
import type { BookEntry, ErrorKind, Reputation, TradeState } from '../bindings';
import type { Parsed } from './amount';
import { formatAgo } from './book';
import { describeError } from './errorMessages';

/** How long a peer's reputation is used before it is looked up again. */
export const REPUTATION_FRESH_MS = 5 * 60_000;
/** How long an unused lookup stays in memory (longer than fresh, so coming back soon costs nothing). */
export const REPUTATION_KEEP_MS = 15 * 60_000;
/** Lookups run at once; the others wait their turn. */
export const REPUTATION_LOOKUPS_AT_ONCE = 4;

/** Where one maker's lookup stands, as the book reads it. */
export type ReputationLookup =
  | { state: 'checking' }
  | { state: 'failed'; message: string }
  | { state: 'known'; reputation: Reputation };

const DAY_MS = 86_400_000;

function plural(n: number, one: string, many: string): string {
  return `${n.toString()} ${n === 1 ? one : many}`;
}

/** "★4.5": the average the core rounds to one decimal. */
export function formatStars(rating: number): string {
  return `★${rating.toFixed(1)}`;
}

/** The book's figure: "12 trades · ★4.5", "1 trade", "No trades yet". */
export function reputationFigure(reputation: Reputation): string {
  const { settled, rating } = reputation;
  const trades = settled > 0 ? plural(settled, 'trade', 'trades') : 'No trades yet';
  return rating === null ? trades : `${trades} · ${formatStars(rating)}`;
}

/** The core's limit on a nickname, in characters (Unicode code points). */
export const MAX_NICKNAME_CHARS = 24;

/**
 * A peer's nickname as shown beside its derived name: “Ahmed's LTC”, in quotes, as the peer signed it
 * (the core refused any it could not use); null when it chose none. Render it as text, never as HTML.
 */
export function nicknameText(nickname: string | null): string | null {
  if (nickname === null || nickname === '') return null;
  return `“${nickname}”`;
}

/** What the take screen says of a nickname: nobody vouches for it. */
export const NICKNAME_CAVEAT = 'chosen by the maker, not checked by anyone';

/** What a nickname beside a trade's counterparty or a dispute's party says of itself. */
export const PEER_NICKNAME_CAVEAT = 'Nickname chosen by the peer, not checked by anyone';

/**
 * The nickname field's value as it is saved (trimmed: the core refuses spaces at either end), or why
 * it cannot be: the core's own checks (at most 24 characters, counted as the core counts them, and no
 * control characters). An empty field is fine: no nickname.
 */
export function validateNickname(text: string): { nickname: string; error: string | null } {
  const nickname = text.trim();
  const count = [...nickname].length;
  if (count > MAX_NICKNAME_CHARS) {
    return {
      nickname,
      error: `At most ${MAX_NICKNAME_CHARS.toString()} characters; this is ${count.toString()}.`,
    };
  }
  if (/\p{Cc}/u.test(nickname)) {
    return { nickname, error: 'A nickname is one line, without tabs, line breaks or other control characters.' };
  }
  return { nickname, error: null };
}

/** What the chain backs: "8 of 12 with escrow verified on the chain". */
export function escrowVerifiedText(reputation: Reputation): string {
  const { settled, with_escrow: escrow } = reputation;
  if (settled === 0) return 'No settled trades found in anyone’s receipts';
  if (escrow === 0) return 'None with escrow verified on the chain';
  return `${escrow.toString()} of ${settled.toString()} with escrow verified on the chain`;
}

/** "12 (8 with escrow verified on the chain)", or "None yet". */
export function settledText(reputation: Reputation): string {
  if (reputation.settled === 0) return 'None yet';
  return `${reputation.settled.toString()} (${escrowVerifiedText(reputation)})`;
}

export function counterpartiesText(count: number): string {
  return count === 0 ? 'None yet' : plural(count, 'different peer', 'different peers');
}

/** "★4.5 from 3 ratings", or "No ratings yet". */
export function ratingText(rating: number | null, ratings: number): string {
  if (rating === null || ratings === 0) return 'No ratings yet';
  return `${formatStars(rating)} from ${plural(ratings, 'rating', 'ratings')}`;
}

/** "None", or "2 opened, 1 lost". */
export function disputesText(opened: number, lost: number): string {
  if (opened === 0 && lost === 0) return 'None';
  return `${opened.toString()} opened, ${lost.toString()} lost`;
}

/** "1 receipt refused", "3 receipts refused". */
export function refusedText(count: number): string {
  return `${plural(count, 'receipt', 'receipts')} refused`;
}

/** A day as people read it: "4 Dec 2026". */
export function formatDay(ms: number): string {
  return new Date(ms).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
}

/** How long ago the peer was first seen: "less than a day", "3 days", "5 months", "2 years". */
export function ageText(firstSeen: number, nowMs: number): string {
  const days = Math.floor(Math.max(0, nowMs - firstSeen) / DAY_MS);
  if (days < 1) return 'less than a day';
  if (days < 60) return plural(days, 'day', 'days');
  const months = Math.floor(days / 30.44);
  if (months < 24) return plural(months, 'month', 'months');
  return plural(Math.floor(days / 365.25), 'year', 'years');
}

/** The identity's age: "3 days (since 4 Dec 2026)", or that this node never saw it before. */
export function identityAgeText(firstSeen: number | null, nowMs: number): string {
  if (firstSeen === null) return 'Unknown: never seen before';
  return `${ageText(firstSeen, nowMs)} (since ${formatDay(firstSeen)})`;
}

export function lastSeenText(lastSeen: number | null, nowMs: number): string {
  return lastSeen === null ? 'Never' : formatAgo(lastSeen, nowMs);
}

/** A failed lookup in words: the core's message, or the kind's wording when it gave none. */
export function lookupFailure(error: { kind: ErrorKind; message: string }): string {
  const message = error.message.trim();
  return message || describeError(error.kind, '');
}

/** What the "at least N settled trades" field holds: empty or 0 is off (null). */
export function parseMinSettled(text: string): Parsed<number | null> {
  const t = text.trim();
  if (t === '') return { ok: true, value: null };
  if (!/^\d+$/.test(t)) return { ok: false, error: 'Enter a whole number of trades, e.g. 5.' };
  const n = Number(t);
  if (!Number.isSafeInteger(n)) return { ok: false, error: 'Enter a whole number of trades, e.g. 5.' };
  return { ok: true, value: n === 0 ? null : n };
}

export interface ReputationFilterResult {
  kept: BookEntry[];
  /** Offers left out because their maker's lookup has not answered yet. */
  checking: number;
  /** Offers left out because their maker's lookup failed. */
  unchecked: number;
}

/**
 * Keeps the offers whose maker has at least `minSettled` settled trades (null: no filter). An offer
 * whose maker's reputation is not known (still checking, or failed) is left out only while the filter
 * is on, and counted so the screen can say why. This node's own offers always stay.
 */
export function filterByReputation(
  entries: readonly BookEntry[],
  minSettled: number | null,
  lookups: ReadonlyMap<string, ReputationLookup>,
): ReputationFilterResult {
  if (minSettled === null) return { kept: [...entries], checking: 0, unchecked: 0 };
  const kept: BookEntry[] = [];
  let checking = 0;
  let unchecked = 0;
  for (const entry of entries) {
    if (entry.mine) {
      kept.push(entry);
      continue;
    }
    const lookup = lookups.get(entry.offer.maker) ?? { state: 'checking' };
    if (lookup.state === 'checking') checking += 1;
    else if (lookup.state === 'failed') unchecked += 1;
    else if (lookup.reputation.settled >= minSettled) kept.push(entry);
  }
  return { kept, checking, unchecked };
}

/** Why offers are missing while the filter waits for lookups, or null when none is. */
export function reputationFilterNote({ checking, unchecked }: ReputationFilterResult): string | null {
  const parts: string[] = [];
  if (checking > 0) {
    parts.push(`Checking makers’ reputation: ${plural(checking, 'offer', 'offers')} hidden until then.`);
  }
  if (unchecked > 0) {
    parts.push(`${plural(unchecked, 'offer', 'offers')} hidden: the maker’s reputation could not be checked.`);
  }
  return parts.length > 0 ? parts.join(' ') : null;
}

/** The makers of others' offers in a book, each once, in the book's order. */
export function makersIn(entries: readonly BookEntry[]): string[] {
  return [...new Set(entries.filter((e) => !e.mine).map((e) => e.offer.maker))];
}

/** Why a waiting task will not run: the signal's reason when it gave one. */
function abandoned(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('the lookup was abandoned', 'AbortError');
}

/**
 * Runs at most `limit` tasks at a time, the rest in the order they came. A task whose signal aborts
 * while it waits never starts (its promise rejects with the signal's reason); one already running
 * finishes, since a lookup cannot be called back.
 */
export class LookupQueue {
  private readonly limit: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(limit: number = REPUTATION_LOOKUPS_AT_ONCE) {
    this.limit = Math.max(1, limit);
  }

  /** Tasks running now. */
  get running(): number {
    return this.active;
  }

  /** Tasks waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        signal?.removeEventListener('abort', abandon);
        this.active += 1;
        // A task that throws at once rejects like one that fails later, and still frees its place.
        new Promise<T>((settle) => settle(task()))
          .then(resolve, reject)
          .finally(() => {
            this.active -= 1;
            this.waiting.shift()?.();
          });
      };
      const abandon = () => {
        const index = this.waiting.indexOf(start);
        if (index === -1) return;
        this.waiting.splice(index, 1);
        reject(abandoned(signal));
      };
      if (signal?.aborted) {
        reject(abandoned(signal));
        return;
      }
      if (this.active < this.limit) {
        start();
        return;
      }
      signal?.addEventListener('abort', abandon, { once: true });
      this.waiting.push(start);
    });
  }
}

/** The trade states the core makes a receipt for: the ones whose counterparty can be rated. */
export const RATABLE_STATES: readonly TradeState[] = ['Completed', 'Resolved', 'Cancelled', 'Expired'];

export function canRate(state: TradeState): boolean {
  return RATABLE_STATES.includes(state);
}

/** The core's limit on a rating's comment, in UTF-8 bytes. */
export const MAX_COMMENT_BYTES = 140;

/** The comment's size as the core counts it: UTF-8 bytes of the trimmed text. */
export function commentBytes(comment: string): number {
  return new TextEncoder().encode(comment.trim()).length;
}

export interface RatingForm {
  stars: number | null;
  comment: string;
}

export interface RatingRequest {
  stars: number;
  comment: string;
}

/** The form's errors by field, and the rating to send when there are none. */
export function validateRating(form: RatingForm): {
  errors: { stars?: string; comment?: string };
  rating: RatingRequest | null;
} {
  const errors: { stars?: string; comment?: string } = {};
  const { stars } = form;
  if (stars === null || !Number.isInteger(stars) || stars < 1 || stars > 5) errors.stars = 'Choose 1 to 5 stars.';
  const comment = form.comment.trim();
  const bytes = commentBytes(comment);
  if (bytes > MAX_COMMENT_BYTES) {
    errors.comment = `At most ${MAX_COMMENT_BYTES.toString()} bytes; this is ${bytes.toString()}.`;
  } else if (/\p{Cc}/u.test(comment)) {
    errors.comment = 'A comment is one line, without tabs or line breaks.';
  }
  if (stars === null || errors.stars || errors.comment) return { errors, rating: null };
  return { errors, rating: { stars, comment } };
}

/** What a rating sent says: "Rated 4/5 — published with your receipts". */
export function ratedText(stars: number): string {
  return `Rated ${stars.toString()}/5 — published with your receipts`;
}
