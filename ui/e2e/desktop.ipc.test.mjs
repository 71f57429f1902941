// Every desktop IPC command, reached from the real window: the real souk-desktop binary under Xvfb, driven
// through WebDriver, each command sent through the webview's own IPC bridge (`__TAURI_INTERNALS__.invoke`,
// what `ui/src/backend/tauri.ts` calls) with the arguments the UI sends, and each answer checked — a value,
// or the specific refusal the core gives. A `souk serve` node is the counterparty: the window takes its
// offer, they chat and finish a trade. The last test fails if a command of the core's command table (as
// `ui/src/bindings.ts` lists it) was not sent, so a new command needs a case here.
// Env: SOUK_DESKTOP_BIN, TAURI_DRIVER, SOUK_CLI_BIN, SOUK_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchApp, startBus, startDesktopSession, step as appStep, until } from './desktop.mjs';
import { api, newOffer, serveNodes } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const passphrase = 'desktop ipc passphrase';
const maker = serveNodes('souk-desktop-ipc-maker', 'desktop ipc maker passphrase');

let app;
let bus;
let desktop;
let dataDir;
let scratch;
let peerId;
let makerNode;
let trade;
/** The commands sent so far, by name. */
const sent = new Set();

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'souk-desktop-ipc-'));
  scratch = mkdtempSync(join(tmpdir(), 'souk-desktop-ipc-files-'));
  writeFileSync(
    join(dataDir, 'souk.toml'),
    '[net]\nlisten = ["/ip4/127.0.0.1/tcp/0"]\nmdns = false\nmarkets = ["BTC/EUR"]\n\n[price]\nurl = ""\n',
  );
  bus = await startBus();
  desktop = await startDesktopSession(bus.address);
  app = await launchApp({ dataDir, env: { DBUS_SESSION_BUS_ADDRESS: bus.address } });
  await app.find('[data-testid="first-run"]');
});

after(async () => {
  await app?.stop();
  await maker.stopAll();
  desktop?.stop();
  bus?.stop();
  for (const dir of [dataDir, scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const step = (t, name, body) =>
  appStep(t, app, name, body, () => maker.nodes.map((n) => `souk serve ${n.name}:\n${n.log}`));

/**
 * Sends `cmd` with `args` through the window's IPC bridge, as the UI does; resolves to `{ ok }` or
 * `{ err: { kind, message } }` (the core's `ErrorPayload`).
 */
async function ipc(cmd, args = {}) {
  sent.add(cmd);
  return app.wd('POST', app.s('/execute/async'), {
    script: `const [cmd, args, done] = arguments;
      window.__TAURI_INTERNALS__.invoke(cmd, args).then(
        (ok) => done({ ok: ok === undefined ? null : ok }),
        (err) => done({ err }),
      );`,
    args: [cmd, args],
  });
}

/** `cmd`'s value; fails with the refusal if the core refused it. */
async function ok(cmd, args) {
  const answer = await ipc(cmd, args);
  assert.ok(!('err' in answer), `${cmd} was refused: ${JSON.stringify(answer.err)}`);
  return answer.ok;
}

/** `cmd`'s refusal, which must be of `kind` and match `message`. */
async function refused(cmd, args, kind, message) {
  const answer = await ipc(cmd, args);
  assert.ok('err' in answer, `${cmd} was not refused: ${JSON.stringify(answer.ok)}`);
  assert.equal(answer.err.kind, kind, `${cmd}: ${JSON.stringify(answer.err)}`);
  assert.match(answer.err.message, message, `${cmd}: ${JSON.stringify(answer.err)}`);
  return answer.err;
}

/** The trade as the window's core has it, once `pred` holds. */
function tradeWhen(what, pred) {
  return until(what, 30_000, async () => {
    const found = await ok('trade', { tradeId: trade.id });
    return pred(found) ? found : undefined;
  });
}

test('before an identity: the first-run commands refuse what they cannot do, then one creates it', async (t) => {
  await step(t, 'desktop-ipc-setup', async () => {
    const status = await ok('app_status');
    assert.equal(status.state, 'needs_setup');
    assert.equal(status.data_dir, dataDir);

    await refused('unlock', { passphrase }, 'not_initialized', /identity/i);
    await refused('restore_identity', { words: 'not the seed words', passphrase }, 'invalid_seed_phrase', /./);
    await refused(
      'import_backup',
      { source: join(scratch, 'no-such-backup.souk'), passphrase },
      'invalid_input',
      /no-such-backup\.souk/,
    );
    // The refusals left nothing behind: still a first run.
    assert.equal((await ok('app_status')).state, 'needs_setup');
    assert.ok(!existsSync(join(dataDir, 'identity.keystore')));

    const created = await ok('create_identity', { passphrase });
    assert.equal(created.words.length, 24);
    peerId = created.identity.peer_id;
    assert.match(peerId, /^12D3KooW/);
    const unlocked = await ok('app_status');
    assert.equal(unlocked.state, 'unlocked');
    assert.equal(unlocked.identity.peer_id, peerId);
    // The identity exists now: neither a second one nor a restore over it.
    await refused('create_identity', { passphrase }, 'already_initialized', /./);
    await refused('restore_identity', { words: created.words.join(' '), passphrase }, 'already_initialized', /./);

    // Unlocking again checks the passphrase and keeps the running node.
    await refused('unlock', { passphrase: 'not the passphrase' }, 'wrong_passphrase', /./);
    assert.equal((await ok('unlock', { passphrase })).peer_id, peerId);
  });
});

test('the node comes up: startup progress, network, chain and connection settings', async (t) => {
  await step(t, 'desktop-ipc-node', async () => {
    const progress = await until('the startup to finish', 30_000, async () => {
      const p = await ok('startup_progress');
      return p.phases.length > 0 && p.phases.every((phase) => phase.state !== 'running') ? p : undefined;
    });
    assert.ok(
      progress.phases.every((phase) => phase.state === 'done'),
      `a startup phase did not finish: ${JSON.stringify(progress)}`,
    );
    // Nothing failed, so a retry has nothing to do and reports the same phases.
    const retried = await ok('retry_startup');
    assert.deepEqual(
      retried.phases.map((p) => p.phase),
      progress.phases.map((p) => p.phase),
    );

    const net = await until('the network to listen', 30_000, async () => {
      const status = await ok('network_status');
      return status.listen_addrs.length > 0 ? status : undefined;
    });
    assert.equal(net.peer_id, peerId);
    assert.ok(
      net.listen_addrs.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.endsWith(`/p2p/${peerId}`)),
      net.listen_addrs.join(', '),
    );

    // No chain node is configured: escrow trades are off, and the status says so.
    const chain = await ok('chain_status');
    assert.equal(chain.configured, false);
    assert.equal(chain.connected, false);

    const settings = await ok('connection_settings');
    assert.equal(settings.path, join(dataDir, 'souk.toml'));
    assert.equal(settings.running.rpc_url, '');
    // A chain node that is not there: the check names the address it could not reach.
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const edit = { ...settings.saved, rpc_url: closed, rpc_password: null };
    delete edit.rpc_password_set;
    const check = await ipc('test_chain_connection', { edit });
    assert.ok('err' in check, `a closed port answered: ${JSON.stringify(check.ok)}`);
    assert.match(check.err.message, new RegExp(closed.replace(/[.:/]/g, '\\$&')));
    // Saving it writes souk.toml (for the next start); the running node keeps what it runs with.
    const saved = await ok('save_connection_settings', { edit });
    assert.equal(saved.settings.saved.rpc_url, closed);
    assert.equal(saved.settings.running.rpc_url, '');
    assert.match(readFileSync(join(dataDir, 'souk.toml'), 'utf8'), new RegExp(`rpc_url = "${closed}"`));
  });
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort() {
  const { freePort } = await import('./desktop.mjs');
  return freePort();
}

test('preferences, backups and automatic backups', async (t) => {
  await step(t, 'desktop-ipc-settings', async () => {
    const prefs = await ok('preferences');
    assert.equal(prefs.nickname, '');
    const saved = await ok('save_preferences', { preferences: { ...prefs, nickname: 'Window tester' } });
    assert.equal(saved.nickname, 'Window tester');
    assert.equal((await ok('preferences')).nickname, 'Window tester');
    await refused(
      'save_preferences',
      { preferences: { ...prefs, nickname: 'bell\u0007' } },
      'invalid_input',
      /nickname/i,
    );
    assert.equal((await ok('preferences')).nickname, 'Window tester');

    const target = join(scratch, 'manual.souk');
    const summary = await ok('export_backup', { target, passphrase });
    assert.equal(summary.peer_id, peerId);
    assert.equal(statSync(target).size, summary.bytes);
    await refused('export_backup', { target: join(scratch, 'other.souk'), passphrase: 'wrong' }, 'wrong_passphrase', /./);
    // A used data dir is never overwritten by an import.
    await refused('import_backup', { source: target, passphrase }, 'invalid_input', /already holds an identity/);

    assert.equal((await ok('backup_settings')).folder, null);
    const folder = join(scratch, 'auto');
    const auto = await ok('save_backup_settings', { folder, keep: 3, passphrase });
    assert.equal(auto.folder, folder);
    assert.equal(auto.keep, 3);
    assert.equal(auto.running, true);
    assert.deepEqual(await ok('backup_settings'), auto);
    await refused('save_backup_settings', { folder: 'relative/dir', keep: 3, passphrase }, 'invalid_input', /absolute/i);
  });
});

test('the market: a counterparty’s offer reaches the window’s book; the window posts and withdraws its own', async (t) => {
  await step(t, 'desktop-ipc-market', async () => {
    const bootstrap = (await ok('network_status')).listen_addrs[0];
    makerNode = await maker.start('maker', { market: 'BTC/EUR', bootstrap });
    const posted = await api(
      makerNode,
      '/api/v1/offers',
      newOffer({
        base: 'BTC',
        quote: 'EUR',
        price: '60000',
        min: 1_000_000,
        max: 20_000_000,
        methods: ['SEPA'],
        terms: 'desktop ipc offer',
      }),
    );
    const query = { base: 'BTC', quote: 'EUR', side: null, method: null, amount: null, include_mine: null };
    const entry = await until('the maker’s offer in the window’s book', 30_000, async () => {
      await ok('refresh_market', { base: 'BTC', quote: 'EUR' }).catch(() => undefined);
      return (await ok('offers', { query })).find((e) => e.offer.id === posted.id);
    });
    assert.equal(entry.mine, false);
    assert.equal(entry.offer.maker, makerNode.started.peer_id);
    // No price feed is configured.
    assert.equal(await ok('market_price', { base: 'BTC', quote: 'EUR' }), null);
    // An amount outside the offer's range filters it out.
    const tooMuch = await ok('offers', { query: { ...query, amount: 50_000_000 } });
    assert.ok(!tooMuch.some((e) => e.offer.id === posted.id));
    // The same book a page at a time: the offer on the first page, with the total and the next page.
    const page = await ok('book_page', { query, page: { after: null, limit: 10 } });
    assert.ok(page.entries.some((e) => e.offer.id === posted.id));
    assert.equal(page.entries.length, Math.min(page.total, 10));
    assert.equal(page.next === null, page.total <= 10);

    const own = await ok('post_offer', {
      offer: {
        side: 'buy',
        base: 'BTC',
        quote: 'EUR',
        price: { fixed: '59000' },
        min_amount: 1_000_000,
        max_amount: 5_000_000,
        payment_methods: ['SEPA'],
        escrow: { kind: 'none' },
        deposit_bps: 0,
        maker_x25519: '0'.repeat(64),
        ttl_ms: 3_600_000,
        terms: 'window’s own offer',
      },
    });
    assert.equal(own.maker, peerId);
    const live = await ok('my_offers');
    assert.deepEqual(
      live.filter((o) => o.offer.id === own.id).map((o) => o.state.state),
      ['live'],
    );
    assert.equal(await ok('withdraw_offer', { id: own.id }), null);
    const after = (await ok('my_offers')).find((o) => o.offer.id === own.id);
    assert.equal(after.state.state, 'withdrawn');
    await refused('withdraw_offer', { id: 'not-an-offer-id' }, 'invalid_input', /not-an-offer-id/);
    t.diagnostic(`maker offer ${posted.id}, own offer ${own.id}`);
    trade = { offerId: posted.id };
  });
});

test('a trade from the window: take, answers, chat, payment, completion and a rating', async (t) => {
  assert.ok(trade?.offerId, 'no offer to take');
  await step(t, 'desktop-ipc-trade', async () => {
    const taken = await ok('take_offer', {
      offerId: trade.offerId,
      amount: 2_000_000,
      method: 'SEPA',
      payout: 'window payout account',
    });
    trade = taken;
    assert.equal(taken.role, 'taker');
    assert.equal(taken.state, 'Requested');
    // The taker may not accept its own request: only the maker answers it.
    await refused('answer_trade', { tradeId: trade.id, answer: { kind: 'accept' } }, 'invalid_input', /./);
    assert.ok((await ok('trades')).some((t) => t.id === trade.id));

    await until('the take to reach the maker', 30_000, async () =>
      (await api(makerNode, '/api/v1/trades')).find((t) => t.id === trade.id),
    );
    await api(makerNode, `/api/v1/trades/${trade.id}/accept`, {});
    await tradeWhen('the maker’s accept', (t) => t.state === 'Accepted');

    // No escrow in this trade: the escrow commands refuse, naming why.
    await refused('set_escrow_address', { tradeId: trade.id, address: 'bcrt1qxyz' }, 'invalid_input', /escrow/i);
    await refused('fund_from_wallet', { tradeId: trade.id, wallet: '', broadcast: false }, 'invalid_input', /has no escrow/);
    // The buyer cannot confirm receipt of its own payment.
    await refused('mark_received', { tradeId: trade.id }, 'invalid_input', /./);

    const mine = await ok('send_chat', { tradeId: trade.id, text: 'Paying now' });
    assert.equal(mine.outgoing, true);
    await api(makerNode, `/api/v1/trades/${trade.id}/messages`, { text: 'Thanks, waiting' });
    const chat = await until('the maker’s message', 30_000, async () => {
      const log = await ok('chat_log', { tradeId: trade.id });
      return log.some((m) => !m.outgoing && m.body === 'Thanks, waiting') ? log : undefined;
    });
    assert.deepEqual(
      chat.map((m) => [m.outgoing, m.body]),
      [
        [true, 'Paying now'],
        [false, 'Thanks, waiting'],
      ],
    );
    assert.equal(await ok('mark_read', { tradeId: trade.id }), 1);
    assert.equal((await ok('trade', { tradeId: trade.id })).unread, 0);

    assert.equal((await ok('mark_paid', { tradeId: trade.id })).state, 'PaymentSent');
    await until('the payment to reach the maker', 30_000, async () => {
      const seen = await api(makerNode, `/api/v1/trades/${trade.id}`);
      return seen.state === 'PaymentSent' || undefined;
    });
    await api(makerNode, `/api/v1/trades/${trade.id}/received`, {});
    await tradeWhen('the trade to complete', (t) => t.state === 'Completed');

    // An ended trade can be neither cancelled nor disputed.
    await refused('cancel_trade', { tradeId: trade.id, reason: 'too late' }, 'invalid_input', /./);
    await refused('dispute_trade', { tradeId: trade.id, reason: 'too late' }, 'invalid_input', /./);

    // A rating goes with the trade's receipt, which both sides sign once it ended (a moment later).
    const rated = await until('the receipt, to rate the trade', 30_000, async () => {
      const answer = await ipc('rate_trade', { tradeId: trade.id, stars: 5, comment: 'smooth' });
      if ('err' in answer) {
        assert.match(answer.err.message, /has no receipt/, JSON.stringify(answer.err));
        return undefined;
      }
      return answer;
    });
    assert.equal(rated.ok, null);
    await refused('rate_trade', { tradeId: trade.id, stars: 6, comment: '' }, 'invalid_input', /star|1 to 5/i);
    const reputation = await until('the maker’s receipt', 30_000, async () => {
      const r = await ok('reputation', { peer: makerNode.started.peer_id });
      return r.settled === 1 ? r : undefined;
    });
    assert.equal(reputation.peer, makerNode.started.peer_id);
    assert.equal(reputation.with_escrow, 0);
    await refused('reputation', { peer: 'not a peer id' }, 'invalid_input', /not a peer id/);
  });
});

test('disputes: the window is no arbitrator, so it has none and decides none', async (t) => {
  assert.ok(trade?.id, 'no trade');
  await step(t, 'desktop-ipc-disputes', async () => {
    assert.deepEqual(await ok('disputes'), []);
    await refused('dispute_info', { tradeId: trade.id }, 'invalid_input', /./);
    await refused(
      'resolve_dispute',
      { tradeId: trade.id, decision: { to: 'buyer', buyer_gets: null, reason: 'not mine to decide' } },
      'invalid_input',
      /./,
    );
  });
});

test('every command of the core’s command table was sent from the window', () => {
  const bindings = readFileSync(join(here, '../src/bindings.ts'), 'utf8');
  const table = /export interface Commands \{\n([\s\S]*?)\n\}/.exec(bindings);
  assert.ok(table, 'no Commands interface in ui/src/bindings.ts');
  const commands = [...table[1].matchAll(/^ {2}(\w+): \{ args/gm)].map((m) => m[1]);
  assert.ok(commands.length >= 40, `only ${commands.length} commands found in bindings.ts`);
  const missing = commands.filter((c) => !sent.has(c));
  assert.deepEqual(missing, [], `commands no window test sent: ${missing.join(', ')}`);
  const unknown = [...sent].filter((c) => !commands.includes(c));
  assert.deepEqual(unknown, [], `commands sent that the table does not list: ${unknown.join(', ')}`);
});
