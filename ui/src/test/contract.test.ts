// The UI's tests run on `FakeBackend`; this file checks the fake answers as the real core does. Each
// scenario runs once on a real `souk node` (its HTTP API through the UI's own `HttpBackend`) and once on
// the fake, and both must give the same answers: values where they are the node's to decide, error kinds
// where it refuses. A scenario the two disagree on is a place where the UI's tests would pass against
// behaviour no user meets.
//
// The node comes from Vitest's global setup (`vitest.souk-node.ts`) when SOUK_CLI_BIN names the `souk`
// binary: `cargo xtask test` runs this file so, with SOUK_CONTRACT=required, after its cargo build. A
// plain `npm test` has no binary yet and skips the scenarios.
import { describe, expect, inject, it } from 'vitest';
import type { BookQuery, NewOffer, Preferences } from '../bindings';
import { BackendError } from '../backend/errors';
import { HttpBackend } from '../backend/http';
import type { Backend } from '../backend/types';
import { FakeBackend } from './fakeBackend';

const node = inject('soukNode');
const PASSPHRASE = node?.passphrase ?? '';

it('the contract runs where it is required', () => {
  if (inject('soukNodeRequired')) expect(node, 'SOUK_CONTRACT=required but no souk node was started').not.toBeNull();
});

/** What a call gave: its value, or the kind of its refusal. */
async function outcome<T>(call: Promise<T>): Promise<{ value: T } | { refused: string }> {
  try {
    return { value: await call };
  } catch (thrown) {
    if (thrown instanceof BackendError) return { refused: thrown.kind };
    throw thrown;
  }
}

const refusal = async (call: Promise<unknown>) => {
  const got = await outcome(call);
  return 'refused' in got ? got.refused : `answered ${JSON.stringify(got.value)}`;
};

/** The UI's HTTP backend for the node's API (no events: the scenarios only call). */
function realBackend(url: string, token: string): HttpBackend {
  return new HttpBackend(url, token, {
    fetch: (input, init) => fetch(input, init),
    WebSocket: class {
      constructor() {
        throw new Error('the contract scenarios subscribe to no events');
      }
    } as never,
    setTimeout: (callback, ms) => setTimeout(callback, ms),
  });
}

const newOffer = (overrides: Partial<NewOffer> = {}): NewOffer => ({
  side: 'sell',
  base: 'BTC',
  quote: 'EUR',
  price: { fixed: '61000' },
  min_amount: 1_000_000,
  max_amount: 10_000_000,
  payment_methods: ['SEPA', 'REVOLUT'],
  escrow: { kind: 'none' },
  deposit_bps: 0,
  maker_x25519: '0'.repeat(64),
  ttl_ms: 3_600_000,
  terms: 'contract offer',
  ...overrides,
});

const allOffers: BookQuery = { base: null, quote: null, side: null, method: null, amount: null, include_mine: null };

/** Each scenario: what a UI test relies on, as plain data both backends must agree on. */
const scenarios: Record<string, (b: Backend) => Promise<unknown>> = {
  // Creating, restoring, importing and unlocking are the desktop's (in the browser, `souk serve` is
  // unlocked already and the HTTP backend refuses them itself): `ui/e2e/desktop.ipc.test.mjs` checks the
  // core's answers to them through the desktop's IPC, the answers the fake gives.

  async 'a posted offer is signed as given, listed as mine, and withdrawn'(b) {
    const posted = await b.postOffer(newOffer());
    const shape = {
      side: posted.side,
      base: posted.base,
      quote: posted.quote,
      price: posted.price,
      min: posted.min_amount,
      max: posted.max_amount,
      methods: posted.payment_methods,
      escrow: posted.escrow,
      terms: posted.terms,
      lasts: Math.round((posted.expires_at - Date.now()) / 60_000),
    };
    const listed = (await b.myOffers()).filter((m) => m.offer.id === posted.id).map((m) => m.state.state);
    const inBook = (await b.offers(allOffers)).filter((e) => e.offer.id === posted.id).map((e) => e.mine);
    const hidden = (await b.offers({ ...allOffers, include_mine: false })).some((e) => e.offer.id === posted.id);
    await b.withdrawOffer(posted.id);
    const after = (await b.myOffers()).filter((m) => m.offer.id === posted.id).map((m) => m.state.state);
    const gone = !(await b.offers(allOffers)).some((e) => e.offer.id === posted.id);
    return { shape, listed, inBook, hidden, after, gone };
  },

  async 'offers the core refuses are refused, and nothing is posted'(b) {
    const before = (await b.myOffers()).length;
    const bad: Record<string, Partial<NewOffer>> = {
      'min above max': { min_amount: 20_000_000, max_amount: 10_000_000 },
      'no payment method': { payment_methods: [] },
      // (A method not in capitals is refused by the desktop's IPC; the HTTP API takes the offer as a
      // person types it and capitalises the methods.)
      'a method named twice': { payment_methods: ['SEPA', 'SEPA'] },
      'nine methods': { payment_methods: ['A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8', 'A9'] },
      'a price of nine decimals': { price: { fixed: '1.123456789' } },
      'a premium above 50 %': { price: { market_relative: { premium_bps: 5_001 } } },
      'a deposit above 50 %': { deposit_bps: 5_001 },
      'eight days': { ttl_ms: 8 * 24 * 3_600_000 },
      'a zero price': { price: { fixed: '0' } },
      'a price that is no number': { price: { fixed: 'cheap' } },
      'no time to live': { ttl_ms: 0 },
      'terms too long': { terms: 'x'.repeat(2001) },
    };
    const refusals: Record<string, string> = {};
    for (const [name, change] of Object.entries(bad)) {
      refusals[name] = await refusal(b.postOffer(newOffer(change)));
    }
    return { refusals, posted: (await b.myOffers()).length - before };
  },

  async 'the book filters by market'(b) {
    const btc = await b.postOffer(newOffer({ terms: 'btc one' }));
    const ltc = await b.postOffer(newOffer({ base: 'LTC', terms: 'ltc one', price: { fixed: '80' } }));
    const ids = async (query: BookQuery) =>
      (await b.offers(query))
        .map((e) => e.offer.id)
        .filter((id) => id === btc.id || id === ltc.id)
        .map((id) => (id === btc.id ? 'btc' : 'ltc'))
        .sort();
    return {
      all: await ids(allOffers),
      btc: await ids({ ...allOffers, base: 'BTC', quote: 'EUR' }),
      ltc: await ids({ ...allOffers, base: 'LTC' }),
      usd: await ids({ ...allOffers, quote: 'USD' }),
    };
  },

  async 'preferences keep what is saved and refuse a bad nickname without losing the stored ones'(b) {
    const start = await b.preferences();
    const saved = await b.savePreferences({ ...start, nickname: 'Contract Cat', theme: 'dark' });
    const refusals: Record<string, string> = {};
    const bad: Record<string, Partial<Preferences>> = {
      'too long': { nickname: 'x'.repeat(25) },
      'control character': { nickname: 'bell\u0007' },
      'outer spaces': { nickname: ' padded ' },
    };
    for (const [name, change] of Object.entries(bad)) {
      refusals[name] = await refusal(b.savePreferences({ ...saved, ...change }));
    }
    const kept = await b.preferences();
    return {
      startNickname: start.nickname,
      saved: [saved.nickname, saved.theme],
      refusals,
      kept: [kept.nickname, kept.theme],
      longest: await outcome(b.savePreferences({ ...saved, nickname: 'y'.repeat(24) }).then((p) => p.nickname.length)),
    };
  },

  async 'automatic backup settings: off at first, refusals change nothing'(b) {
    const first = await b.backupSettings();
    return {
      first: { folder: first.folder, running: first.running },
      relative: await refusal(b.saveBackupSettings('relative/folder', 3, PASSPHRASE)),
      keepZero: await refusal(b.saveBackupSettings('/tmp', 0, PASSPHRASE)),
      keepTooMany: await refusal(b.saveBackupSettings('/tmp', 101, PASSPHRASE)),
      after: await b.backupSettings().then((s) => ({ folder: s.folder, running: s.running })),
    };
  },

  async 'no price feed, no chain node'(b) {
    const chain = await b.chainStatus();
    return {
      price: await b.marketPrice('BTC', 'EUR'),
      chain: { configured: chain.configured, connected: chain.connected },
    };
  },

  async 'unknown trades and bad ratings are refused'(b) {
    const unknown = '6f1c2a7e-0000-4000-8000-000000000000';
    return {
      trade: await refusal(b.trade(unknown)),
      paid: await refusal(b.markPaid(unknown)),
      chat: await refusal(b.sendChat(unknown, 'hello')),
      log: await refusal(b.chatLog(unknown)),
      cancel: await refusal(b.cancelTrade(unknown, 'changed my mind')),
      rate: await refusal(b.rateTrade(unknown, 5, '')),
      reputation: await refusal(b.reputation('not a peer id')),
    };
  },
};

describe.runIf(node)('the fake backend answers as a real souk node', () => {
  if (!node) return;
  for (const [name, scenario] of Object.entries(scenarios)) {
    it(name, async () => {
      const fromCore = await scenario(realBackend(node.url, node.token));
      const fromFake = await scenario(new FakeBackend({ state: 'unlocked', passphrase: PASSPHRASE }));
      expect(fromFake).toEqual(fromCore);
    }, 30_000);
  }
});
