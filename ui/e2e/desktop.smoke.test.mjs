// Desktop smoke test: the real souk-desktop binary in a real WebKitGTK window (under Xvfb, started by
// `cargo xtask test`), driven through WebDriver, on a D-Bus session of its own with a stand-in desktop
// (see desktop.mjs). Env: SOUK_DESKTOP_BIN, TAURI_DRIVER, SOUK_CLI_BIN, SOUK_ARTIFACTS.
// The flow: first run → create an identity → Market → Network (the node is up) → post an offer → My
// offers and the Market show it → the tray icon shows the unread count → a second node (`souk serve`) takes
// the offer and writes: native notifications arrive over D-Bus, the tray counts the message → closing the
// window with the trade open keeps Souk running in the tray → Show Souk brings it back → Quit from the tray
// shuts the node down cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchApp, running, startBus, startDesktopSession, step as appStep, until } from './desktop.mjs';
import { api, peerName, serveNodes } from './harness.mjs';

const cli = process.env.SOUK_CLI_BIN;

let app;
let bus;
let desktop;
let dataDir;
/** The window's node, dialable (`…/p2p/PEER`), as its Network screen shows it. */
let desktopAddress;
let trade;
const taker = serveNodes('souk-desktop-taker', 'desktop smoke taker passphrase');

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'souk-desktop-'));
  // Everything stays on this machine: loopback listener, no mDNS, no price feed.
  writeFileSync(
    join(dataDir, 'souk.toml'),
    '[net]\nlisten = ["/ip4/127.0.0.1/tcp/0"]\nmdns = false\nmarkets = ["BTC/EUR"]\n\n[price]\nurl = ""\n',
  );
  bus = await startBus();
  desktop = await startDesktopSession(bus.address);
  app = await launchApp({ dataDir, env: { DBUS_SESSION_BUS_ADDRESS: bus.address } });
});

after(async () => {
  await app?.stop();
  await taker.stopAll();
  desktop?.stop();
  bus?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const step = (t, name, body) =>
  appStep(t, app, name, body, () => [
    `desktop session:\n${desktop.log()}\n${JSON.stringify(desktop.events, null, 1)}`,
    ...taker.nodes.map((n) => `souk serve ${n.name}:\n${n.log}`),
  ]);
const find = (...args) => app.find(...args);
const findAll = (...args) => app.findAll(...args);
const click = (id) => app.click(id);
const type = (id, text) => app.type(id, text);
const text = (id) => app.text(id);
const textContent = (id) => app.textContent(id);
const screenshot = (name) => app.screenshot(name);
const wd = (method, path, body) => app.wd(method, path, body);
const el = (id, rest) => app.el(id, rest);

test('the first start shows the first-run screen in the real window', async (t) => {
  await step(t, 'desktop-first-run', async () => {
    const firstRun = await find('[data-testid="first-run"]');
    const shown = await text(firstRun);
    assert.match(shown, /Welcome to Souk/);
    assert.match(shown, /Create a new identity/);
    assert.match(shown, /Restore from seed words/);
    assert.equal(await wd('GET', app.s('/title')), 'Souk');
    t.diagnostic(`screenshot: ${await screenshot('desktop-first-run')}`);
  });
});

test('creating an identity in the window writes it through the core', async (t) => {
  const passphrase = 'desktop smoke passphrase';
  await step(t, 'desktop-create', async () => {
    await click(await find("//button[contains(., 'Create a new identity')]", { using: 'xpath' }));
    const fields = await until('two passphrase fields', 10_000, async () => {
      const found = await findAll('input[type="password"]');
      return found.length === 2 ? found : undefined;
    });
    for (const field of fields) await type(field, passphrase);
    await click(await find('button[type="submit"]'));

    // The seed words come from the Rust core through IPC: 24 of them, shown once.
    await find('.seed-word');
    const words = await Promise.all((await findAll('.seed-word')).map(text));
    assert.equal(words.length, 24);
    assert.ok(words.every((w) => /^[a-z]+$/.test(w)), `unexpected words: ${words.join(' ')}`);
    await screenshot('desktop-seed-words');
    await click(await find('.checkbox input'));
    await click(await find("//button[contains(., 'Continue')]", { using: 'xpath' }));

    // Type back the words the confirmation asks for, by number.
    await find("//label[starts-with(normalize-space(.), 'Word #')]", { using: 'xpath' });
    const labels = await findAll("//label[starts-with(normalize-space(.), 'Word #')]", 'xpath');
    for (const label of labels) {
      const n = Number((await text(label)).replace(/\D+/g, ''));
      const input = await wd('GET', el(label, '/attribute/for'));
      const field = await find(`[id="${input}"]`);
      await type(field, words[n - 1]);
    }
    await click(await find('button[type="submit"]'));

    const peerIdEl = await find('[data-testid="peer-id"]');
    const peerId = await wd('GET', el(peerIdEl, '/attribute/title'));
    assert.match(peerId, /^12D3KooW/);
    t.diagnostic(`screenshot: ${await screenshot('desktop-app-frame')}`);

    // The identity is really on disk, and the CLI opens it with the same passphrase.
    assert.ok(existsSync(join(dataDir, 'identity.keystore')), 'no keystore in the data dir');
    // The window logs to a rolling file in the data dir as well as to stderr.
    await until('the identity to be logged to logs/', 10_000, () => {
      const logs = join(dataDir, 'logs');
      const files = existsSync(logs) ? readdirSync(logs).filter((f) => f.startsWith('souk')) : [];
      return files.some((f) => readFileSync(join(logs, f), 'utf8').includes(peerId)) || undefined;
    });
    if (cli) {
      const out = spawnSync(cli, ['--data-dir', dataDir, '--json', 'id'], {
        env: { ...process.env, SOUK_PASSPHRASE: passphrase },
        encoding: 'utf8',
      });
      assert.equal(out.status, 0, out.stderr);
      assert.equal(JSON.parse(out.stdout).peer_id, peerId);
    }
  });
});

/** The control a visible label names (by its `for`). */
async function fieldByLabel(label) {
  const found = await find(`//label[normalize-space(.)='${label}']`, { using: 'xpath' });
  const id = await wd('GET', el(found, '/attribute/for'));
  return find(`[id="${id}"]`);
}

async function nav(label) {
  await click(await find(`//nav//button[normalize-space(.)='${label}']`, { using: 'xpath' }));
  await find(`//h1[normalize-space(.)='${label}']`, { using: 'xpath' });
}

test('the market works in the window: the network starts and an offer posted through the form is listed', async (t) => {
  await step(t, 'desktop-market', async () => {
    // Right after the first run, the Market screen and its (empty) book.
    await find("//td[contains(., 'Nobody sells BTC for EUR yet.')]", { using: 'xpath' });
    t.diagnostic(`screenshot: ${await screenshot('desktop-market-empty')}`);

    // The window started the network from souk.toml: loopback only.
    await nav('Network');
    await find('[data-testid="connected-peers"]');
    const addresses = await Promise.all((await findAll('.address-list code')).map(text));
    assert.ok(addresses.length > 0, 'no listen addresses shown');
    desktopAddress = addresses[0];
    assert.ok(addresses.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/')), `not loopback: ${addresses.join(', ')}`);
    await screenshot('desktop-network');

    await nav('Post offer');
    await type(await fieldByLabel('Price (EUR per BTC)'), '60500');
    await type(await fieldByLabel('Minimum amount (BTC)'), '0.01');
    await type(await fieldByLabel('Maximum amount (BTC)'), '0.1');
    await type(await fieldByLabel('Payment methods'), 'SEPA');
    await type(await fieldByLabel('Terms'), 'desktop smoke <b>offer</b>');
    const preview = await find('[data-testid="offer-preview"]');
    assert.match(await text(preview), /60500 EUR per BTC/);
    await screenshot('desktop-post-offer');
    await click(await find("//button[normalize-space(.)='Publish offer']", { using: 'xpath' }));

    // Signed by the core, listed as live in My offers, and in the Market as the user's own.
    await find("//h1[normalize-space(.)='My offers']", { using: 'xpath' });
    const card = await find("//li[contains(@class, 'offer-card') and @data-state='live']", { using: 'xpath' });
    assert.match(await text(card), /60,500 EUR/);
    // The terms are text: the markup is shown literally and makes no element.
    const terms = await find('.offer-card [data-testid="offer-terms"]');
    assert.equal(await textContent(terms), 'desktop smoke <b>offer</b>');
    assert.equal((await findAll('.offer-card [data-testid="offer-terms"] b')).length, 0);
    await screenshot('desktop-my-offers');
    await nav('Market');
    const row = await find("//tr[contains(@class, 'book-row') and contains(., 'desktop smoke')]", { using: 'xpath' });
    assert.match(await text(row), /60,500 EUR/);
    assert.match(await text(row), /You/);
    t.diagnostic(`screenshot: ${await screenshot('desktop-market-own-offer')}`);
  });
});

/** The tray icon as a panel sees it over D-Bus: its label and its menu's labels. */
async function tray() {
  const { label, menu } = await desktop.call('tray');
  return { label, menu: menu.map((m) => `${m.label}${m.enabled ? '' : ' (disabled)'}`) };
}

/** Waits for a notification titled `summary` and returns it. */
function notification(summary) {
  return until(`a notification "${summary}"`, 30_000, () =>
    desktop.notifications().find((n) => n.summary === summary),
  );
}

test('the tray icon registers with the panel and shows the unread count', async (t) => {
  await step(t, 'desktop-tray', async () => {
    await until('the tray icon to register', 15_000, () => desktop.events.find((e) => e.event === 'tray'));
    const shown = await tray();
    assert.equal(shown.label, 'Souk — 0 unread');
    assert.deepEqual(shown.menu, ['Show Souk', 'No unread messages (disabled)', 'Quit']);
  });
});

test('a take of the user’s offer and the taker’s message arrive as native notifications; the tray counts it', async (t) => {
  assert.ok(cli, 'SOUK_CLI_BIN must name the souk binary');
  assert.ok(desktopAddress, 'the Network screen showed no address');
  await step(t, 'desktop-notifications', async () => {
    const node = await taker.start('taker', { market: 'BTC/EUR', bootstrap: desktopAddress });
    const offer = await until('the desktop’s offer to reach the taker', 30_000, async () => {
      await api(node, '/api/v1/markets/BTC/EUR/refresh', {});
      const book = await api(node, '/api/v1/offers?base=BTC&quote=EUR');
      return book.find((e) => e.offer.terms === 'desktop smoke <b>offer</b>')?.offer;
    });
    trade = await api(node, '/api/v1/trades', {
      offer_id: offer.id,
      amount: 5_000_000,
      method: 'SEPA',
      payout: 'IBAN DE00 1234',
    });

    // The core decided it, the shell sent it, the session bus carried it to the notification server.
    const taken = await notification('Offer taken');
    // The taker by the name every node gives its PeerId.
    assert.equal(
      taken.body,
      `${peerName(node.started.peer_id)} wants to buy 0.05 BTC from you for 3,025 EUR, paying by SEPA. Accept, counter or reject it in Trades.`,
    );

    // Peer text is an escaped excerpt: the server may read bodies as markup, so markup must stay text.
    await api(node, `/api/v1/trades/${trade.id}/messages`, { text: '<b>Hi</b> & welcome\u0007' });
    const message = await notification('New message');
    assert.equal(message.body, '“&lt;b&gt;Hi&lt;/b&gt; &amp; welcome”');
    assert.equal(desktop.notifications().length, 2, JSON.stringify(desktop.notifications()));

    const counted = await until('the tray to count the message', 15_000, async () => {
      const shown = await tray();
      return shown.label === 'Souk — 1 unread' ? shown : undefined;
    });
    assert.deepEqual(counted.menu, ['Show Souk', '1 unread message (disabled)', 'Quit']);
    t.diagnostic(`notifications: ${JSON.stringify(desktop.notifications())}`);
  });
});

test('closing the window with a trade open keeps Souk running in the tray; Show Souk brings it back', async (t) => {
  assert.ok(trade, 'no trade was opened');
  await step(t, 'desktop-close-to-tray', async () => {
    const pid = await app.pid();
    const shown = await desktop.call('window', { pid });
    t.diagnostic(`window: ${JSON.stringify(shown)}`);
    assert.equal(shown.mapped, true);
    t.diagnostic(`close: ${JSON.stringify(await desktop.call('close', { pid }))}`);

    const kept = await notification('Souk keeps running');
    assert.match(kept.body, /^1 trade is open, so Souk keeps running in the tray/);
    await until('the window to be hidden', 10_000, async () => !(await desktop.call('window', { pid })).mapped);
    assert.ok(running(pid), 'the app quit although a trade is open');

    await desktop.call('click', { label: 'Show Souk' });
    await until('the window to be back', 10_000, async () => (await desktop.call('window', { pid })).mapped);
    // Still the same live app: the Trades screen lists the open trade.
    // The nav counts the open trade: "Trades 1".
    await click(await find("//nav//button[starts-with(normalize-space(.), 'Trades')]", { using: 'xpath' }));
    await find("//h1[normalize-space(.)='Trades']", { using: 'xpath' });
    t.diagnostic(`screenshot: ${await screenshot('desktop-back-from-tray')}`);
    // Said once: closing again does not repeat it.
    await desktop.call('close', { pid });
    await until('the window to be hidden again', 10_000, async () => !(await desktop.call('window', { pid })).mapped);
    assert.equal(desktop.notifications().filter((n) => n.summary === 'Souk keeps running').length, 1);
  });
});

test('Quit from the tray shuts the node down cleanly and exits', async (t) => {
  await step(t, 'desktop-tray-quit', async () => {
    const pid = await app.pid();
    await desktop.call('click', { label: 'Quit' });
    await until('the app to exit', 15_000, () => !running(pid));
    // The database was closed (its write-ahead log checkpointed and removed), and the window remembered.
    assert.ok(!existsSync(join(dataDir, 'souk.db-wal')), 'the database was not closed cleanly');
    assert.ok(existsSync(join(dataDir, 'window-state.json')), 'the window state was not saved');
    if (cli) {
      // The identity and its database open again at once: nothing was left locked or half-written.
      const out = spawnSync(cli, ['--data-dir', dataDir, '--json', 'id'], {
        env: { ...process.env, SOUK_PASSPHRASE: 'desktop smoke passphrase' },
        encoding: 'utf8',
      });
      assert.equal(out.status, 0, out.stderr);
      assert.ok(JSON.parse(out.stdout).schema_version > 0, out.stdout);
    }
  });
});
