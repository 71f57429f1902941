import { describe, expect, it } from 'vitest';
import { FAKE_PEER_ID, OTHER_PEER_ID, fakeEntry, fakeReputation } from '../test/fakeBackend';
import {
  LookupQueue,
  ageText,
  canRate,
  commentBytes,
  disputesText,
  escrowVerifiedText,
  filterByReputation,
  formatDay,
  identityAgeText,
  lastSeenText,
  lookupFailure,
  makersIn,
  nicknameText,
  parseMinSettled,
  ratedText,
  ratingText,
  refusedText,
  reputationFigure,
  reputationFilterNote,
  settledText,
  validateNickname,
  validateRating,
} from './reputation';
import type { ReputationLookup } from './reputation';

const DAY = 86_400_000;
const NOW = 1_796_398_200_000;
const VETERAN = '12D3KooWVeteranMakerPeerIdForReputationTests1aBcDe';
const NEWCOMER = '12D3KooWNewcomerMakerPeerIdForReputationTests2fGhI';

/** A promise with its resolve and reject at hand, for tasks that finish when a test says so. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued promise callback run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('reputation in words', () => {
  it('gives the book’s figure: settled trades, and the rating when there is one', () => {
    expect(reputationFigure(fakeReputation({ settled: 12, rating: 4.5, ratings: 3 }))).toBe('12 trades · ★4.5');
    expect(reputationFigure(fakeReputation({ settled: 1 }))).toBe('1 trade');
    expect(reputationFigure(fakeReputation({ settled: 3, rating: 5, ratings: 1 }))).toBe('3 trades · ★5.0');
    expect(reputationFigure(fakeReputation())).toBe('No trades yet');
  });

  it('says how many trades the chain backs', () => {
    expect(escrowVerifiedText(fakeReputation({ settled: 12, with_escrow: 8 }))).toBe(
      '8 of 12 with escrow verified on the chain',
    );
    expect(escrowVerifiedText(fakeReputation({ settled: 2 }))).toBe('None with escrow verified on the chain');
    expect(escrowVerifiedText(fakeReputation())).toBe('No settled trades found in anyone’s receipts');
    expect(settledText(fakeReputation({ settled: 12, with_escrow: 8 }))).toBe(
      '12 (8 of 12 with escrow verified on the chain)',
    );
    expect(settledText(fakeReputation())).toBe('None yet');
  });

  it('words ratings, disputes and refused receipts', () => {
    expect(ratingText(4.5, 3)).toBe('★4.5 from 3 ratings');
    expect(ratingText(4, 1)).toBe('★4.0 from 1 rating');
    expect(ratingText(null, 0)).toBe('No ratings yet');
    expect(disputesText(0, 0)).toBe('None');
    expect(disputesText(2, 1)).toBe('2 opened, 1 lost');
    expect(refusedText(1)).toBe('1 receipt refused');
    expect(refusedText(3)).toBe('3 receipts refused');
  });

  it('tells the identity’s age from when it was first seen, with the day', () => {
    expect(ageText(NOW - 3 * DAY - 3_600_000, NOW)).toBe('3 days');
    expect(ageText(NOW - DAY, NOW)).toBe('1 day');
    expect(ageText(NOW - 3_600_000, NOW)).toBe('less than a day');
    expect(ageText(NOW - 90 * DAY, NOW)).toBe('2 months');
    expect(ageText(NOW - 800 * DAY, NOW)).toBe('2 years');
    // A clock running behind the peer's is not a negative age.
    expect(ageText(NOW + DAY, NOW)).toBe('less than a day');
    const first = NOW - 3 * DAY;
    expect(identityAgeText(first, NOW)).toBe(`3 days (since ${formatDay(first)})`);
    expect(formatDay(Date.UTC(2026, 11, 4, 12))).toBe('4 Dec 2026');
    expect(identityAgeText(null, NOW)).toBe('Unknown: never seen before');
    expect(lastSeenText(NOW - 5 * 60_000, NOW)).toBe('5 min ago');
    expect(lastSeenText(null, NOW)).toBe('Never');
  });

  it('gives the core’s words for a failed lookup, or the kind’s when it has none', () => {
    expect(lookupFailure({ kind: 'offline', message: 'the network is not up' })).toBe('the network is not up');
    expect(lookupFailure({ kind: 'offline', message: ' ' })).toMatch(/not connected to the network/);
  });
});

describe('the book’s settled-trades filter', () => {
  const veteran = fakeEntry({ id: 'veteran', maker: VETERAN });
  const newcomer = fakeEntry({ id: 'newcomer', maker: NEWCOMER });
  const unknown = fakeEntry({ id: 'unknown', maker: OTHER_PEER_ID });
  const mine = fakeEntry({ id: 'mine', maker: FAKE_PEER_ID }, { mine: true });
  const known = (settled: number): ReputationLookup => ({ state: 'known', reputation: fakeReputation({ settled }) });
  const ids = (entries: { offer: { id: string } }[]) => entries.map((e) => e.offer.id);

  it('reads the field: empty or 0 is off, anything but a whole number is explained', () => {
    expect(parseMinSettled('')).toEqual({ ok: true, value: null });
    expect(parseMinSettled(' 0 ')).toEqual({ ok: true, value: null });
    expect(parseMinSettled('5')).toEqual({ ok: true, value: 5 });
    for (const text of ['-1', '2.5', 'lots', '1e3']) {
      expect(parseMinSettled(text)).toEqual({ ok: false, error: 'Enter a whole number of trades, e.g. 5.' });
    }
  });

  it('keeps makers with enough settled trades and my own offers', () => {
    const lookups = new Map([
      [VETERAN, known(12)],
      [NEWCOMER, known(1)],
      [OTHER_PEER_ID, known(5)],
    ]);
    const result = filterByReputation([veteran, newcomer, unknown, mine], 5, lookups);
    // The bound is inclusive; my own offer is not judged.
    expect(ids(result.kept)).toEqual(['veteran', 'unknown', 'mine']);
    expect(result).toMatchObject({ checking: 0, unchecked: 0 });
    expect(reputationFilterNote(result)).toBeNull();
  });

  it('hides offers whose maker is not known yet only while the filter is on, and counts them', () => {
    const lookups = new Map<string, ReputationLookup>([
      [VETERAN, known(12)],
      [NEWCOMER, { state: 'failed', message: 'offline' }],
    ]);
    const on = filterByReputation([veteran, newcomer, unknown, mine], 1, lookups);
    expect(ids(on.kept)).toEqual(['veteran', 'mine']);
    expect(on).toMatchObject({ checking: 1, unchecked: 1 });
    expect(reputationFilterNote(on)).toBe(
      'Checking makers’ reputation: 1 offer hidden until then. 1 offer hidden: the maker’s reputation could not be checked.',
    );
    const off = filterByReputation([veteran, newcomer, unknown, mine], null, lookups);
    expect(ids(off.kept)).toEqual(['veteran', 'newcomer', 'unknown', 'mine']);
    expect(reputationFilterNote(off)).toBeNull();
  });

  it('looks up each maker of others’ offers once', () => {
    const again = fakeEntry({ id: 'veteran-2', maker: VETERAN });
    expect(makersIn([veteran, mine, newcomer, again])).toEqual([VETERAN, NEWCOMER]);
  });
});

describe('the lookup queue', () => {
  it('runs at most its limit at once, the rest in order as places free up', async () => {
    const queue = new LookupQueue(2);
    const tasks = [0, 1, 2, 3].map(() => deferred<string>());
    const started: number[] = [];
    const results = tasks.map((task, i) =>
      queue.run(() => {
        started.push(i);
        return task.promise;
      }),
    );
    expect(started).toEqual([0, 1]);
    expect(queue.running).toBe(2);
    expect(queue.queued).toBe(2);
    tasks[1]?.resolve('b');
    await expect(results[1]).resolves.toBe('b');
    await settle();
    expect(started).toEqual([0, 1, 2]);
    // A failure frees its place too, and reaches its caller.
    tasks[0]?.reject(new Error('offline'));
    await expect(results[0]).rejects.toThrow('offline');
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    tasks[2]?.resolve('c');
    tasks[3]?.resolve('d');
    await expect(Promise.all([results[2], results[3]])).resolves.toEqual(['c', 'd']);
    expect(queue.running).toBe(0);
  });

  it('drops a waiting task whose signal aborts, before it starts', async () => {
    const queue = new LookupQueue(1);
    const first = deferred<string>();
    let secondStarted = false;
    let thirdStarted = false;
    const abort = new AbortController();
    void queue.run(() => first.promise);
    const second = queue.run(() => {
      secondStarted = true;
      return Promise.resolve('never');
    }, abort.signal);
    const third = queue.run(() => {
      thirdStarted = true;
      return Promise.resolve('third');
    });
    abort.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    expect(queue.queued).toBe(1);
    first.resolve('first');
    await expect(third).resolves.toBe('third');
    expect(secondStarted).toBe(false);
    expect(thirdStarted).toBe(true);
  });

  it('refuses a task whose signal aborted already, and frees the place of one that throws at once', async () => {
    const queue = new LookupQueue(1);
    const aborted = new AbortController();
    aborted.abort(new Error('left the book'));
    await expect(queue.run(() => Promise.resolve(1), aborted.signal)).rejects.toThrow('left the book');
    await expect(
      queue.run(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(queue.run(() => Promise.resolve(2))).resolves.toBe(2);
  });
});

describe('rating a counterparty', () => {
  it('is offered for the ended states the core makes receipts for', () => {
    expect(['Completed', 'Resolved', 'Cancelled', 'Expired'].every((s) => canRate(s as 'Completed'))).toBe(true);
    expect(canRate('Rejected')).toBe(false);
    expect(canRate('PaymentSent')).toBe(false);
    expect(canRate('Disputed')).toBe(false);
  });

  it('counts the comment in UTF-8 bytes of the trimmed text, as the core does', () => {
    expect(commentBytes('  fast  ')).toBe(4);
    expect(commentBytes('é')).toBe(2);
    expect(commentBytes('👍')).toBe(4);
  });

  it('needs 1 to 5 stars and a one-line comment of at most 140 bytes', () => {
    expect(validateRating({ stars: null, comment: '' })).toEqual({
      errors: { stars: 'Choose 1 to 5 stars.' },
      rating: null,
    });
    expect(validateRating({ stars: 4, comment: '  quick and polite ' })).toEqual({
      errors: {},
      rating: { stars: 4, comment: 'quick and polite' },
    });
    expect(validateRating({ stars: 5, comment: 'a'.repeat(140) }).rating).toEqual({ stars: 5, comment: 'a'.repeat(140) });
    expect(validateRating({ stars: 5, comment: 'é'.repeat(71) })).toEqual({
      errors: { comment: 'At most 140 bytes; this is 142.' },
      rating: null,
    });
    expect(validateRating({ stars: 3, comment: 'one\ttwo' }).errors.comment).toBe(
      'A comment is one line, without tabs or line breaks.',
    );
    expect(validateRating({ stars: 6, comment: '' }).errors.stars).toBe('Choose 1 to 5 stars.');
    expect(ratedText(4)).toBe('Rated 4/5 — published with your receipts');
  });
});

describe('nicknames', () => {
  it('quotes a nickname as the peer signed it, and shows none when it chose none', () => {
    expect(nicknameText("Ahmed's LTC")).toBe('“Ahmed\'s LTC”');
    expect(nicknameText('<b>x</b> & y')).toBe('“<b>x</b> & y”');
    expect(nicknameText(null)).toBeNull();
    expect(nicknameText('')).toBeNull();
  });

  it('checks a nickname as the core does: trimmed, at most 24 code points, no control characters', () => {
    expect(validateNickname("  Ahmed's LTC  ")).toEqual({ nickname: "Ahmed's LTC", error: null });
    expect(validateNickname('   ')).toEqual({ nickname: '', error: null });
    expect(validateNickname('a'.repeat(24)).error).toBeNull();
    expect(validateNickname('a'.repeat(25)).error).toBe('At most 24 characters; this is 25.');
    // Characters, not UTF-16 units: 24 emoji are 48 units but 24 characters.
    expect(validateNickname('🙂'.repeat(24)).error).toBeNull();
    expect(validateNickname('🙂'.repeat(25)).error).toBe('At most 24 characters; this is 25.');
    expect(validateNickname('Ahmed\tLTC').error).toMatch(/control characters/);
    expect(validateNickname('Ahmed\u0007').error).toMatch(/control characters/);
    expect(validateNickname('Ahmed\u0085LTC').error).toMatch(/control characters/);
  });
});
