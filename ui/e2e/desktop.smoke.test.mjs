// Desktop smoke test: the real souk-desktop binary in a real WebKitGTK window (under Xvfb, started by
// `cargo xtask test`), driven through WebDriver (tauri-driver in front of Debian's WebKitWebDriver).
// Env: SOUK_DESKTOP_BIN (the app), TAURI_DRIVER (the driver), SOUK_ARTIFACTS (where screenshots go).
// The flow: first run → create an identity → Market → Network (the node is up) → post an offer → My
// offers and the Market show it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const app = process.env.SOUK_DESKTOP_BIN;
const driverBin = process.env.TAURI_DRIVER ?? 'tauri-driver';
const cli = process.env.SOUK_CLI_BIN;
const artifacts = process.env.SOUK_ARTIFACTS ?? join(tmpdir(), 'souk-artifacts');

/** A port the kernel says is free right now (tauri-driver takes ports, not port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Retries `probe` until it returns a value or `ms` pass; waits on a condition, not a fixed sleep. */
async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

let driver;
let base;
let session;
let dataDir;
let driverLog = '';

async function wd(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    signal: AbortSignal.timeout(60_000),
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

before(async () => {
  assert.ok(app, 'SOUK_DESKTOP_BIN must name the souk-desktop binary (run through `cargo xtask test`)');
  dataDir = mkdtempSync(join(tmpdir(), 'souk-desktop-'));
  // Everything stays on this machine: loopback listener, no mDNS, no price feed.
  writeFileSync(
    join(dataDir, 'souk.toml'),
    '[net]\nlisten = ["/ip4/127.0.0.1/tcp/0"]\nmdns = false\nmarkets = ["BTC/EUR"]\n\n[price]\nurl = ""\n',
  );
  const [port, nativePort] = [await freePort(), await freePort()];
  // Its own process group, so the driver, WebKitWebDriver and the app all go down together.
  driver = spawn(driverBin, ['--port', String(port), '--native-port', String(nativePort)], {
    env: { ...process.env, SOUK_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  driver.stdout.on('data', (d) => (driverLog += d));
  driver.stderr.on('data', (d) => (driverLog += d));
  base = `http://127.0.0.1:${port}`;
  await until('tauri-driver to listen', 30_000, async () => (await fetch(`${base}/status`)).ok || undefined);
  const created = await wd('POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application: app } } },
  });
  session = created.sessionId;
});

after(async () => {
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  if (driver?.pid) {
    try {
      process.kill(-driver.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  driver?.stdout.destroy();
  driver?.stderr.destroy();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Resolves after the page has painted twice, so a screenshot shows what a person would see. */
async function painted() {
  await wd('POST', `/session/${session}/execute/async`, {
    script: 'const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));',
    args: [],
  });
}

async function screenshot(name) {
  await painted();
  const png = await wd('GET', `/session/${session}/screenshot`);
  mkdirSync(artifacts, { recursive: true });
  const file = join(artifacts, `${name}.png`);
  writeFileSync(file, Buffer.from(png, 'base64'));
  return file;
}

async function findAll(css, using = 'css selector') {
  const found = await wd('POST', `/session/${session}/elements`, { using, value: css });
  return found.map((el) => Object.values(el)[0]);
}

async function find(css, { using = 'css selector', ms = 30_000 } = {}) {
  return until(`element ${css}`, ms, async () => (await findAll(css, using))[0]);
}

const el = (id, rest = '') => `/session/${session}/element/${id}${rest}`;
const click = (id) => wd('POST', el(id, '/click'), {});
const type = (id, text) => wd('POST', el(id, '/value'), { text });
const text = (id) => wd('GET', el(id, '/text'));

/** Runs a test step, and on failure saves a screenshot and the driver's output next to the others. */
async function step(t, name, body) {
  try {
    await body();
  } catch (e) {
    t.diagnostic(`tauri-driver output:\n${driverLog}`);
    await screenshot(`${name}-failure`).catch(() => {});
    throw e;
  }
}

test('the first start shows the first-run screen in the real window', async (t) => {
  await step(t, 'desktop-first-run', async () => {
    const firstRun = await find('[data-testid="first-run"]');
    const shown = await text(firstRun);
    assert.match(shown, /Welcome to Souk/);
    assert.match(shown, /Create a new identity/);
    assert.match(shown, /Restore from seed words/);
    assert.equal(await wd('GET', `/session/${session}/title`), 'Souk');
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

/** The DOM's textContent (WebDriver's element text skips line-clamped boxes in WebKit). */
function textContent(id) {
  return wd('POST', `/session/${session}/execute/sync`, {
    script: 'return arguments[0].textContent;',
    args: [{ 'element-6066-11e4-a52e-4f735466cecf': id }],
  });
}

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
