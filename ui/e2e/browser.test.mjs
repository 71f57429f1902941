// Browser test: two real `souk serve` nodes on loopback (temp data dirs, OS-chosen ports, no mDNS, no
// price feed, the second bootstrapping from the first), each driven in Debian's Chromium through
// playwright-core. User A posts an offer through the form; user B's Market shows it live, without a
// reload; A withdraws it and it leaves B's book live too. Screenshots of every screen go to
// SOUK_ARTIFACTS.
// Env: SOUK_CLI_BIN (the `souk` binary), SOUK_UI_DIST (built UI, default ui/dist), CHROMIUM
// (default /usr/bin/chromium), SOUK_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const cli = process.env.SOUK_CLI_BIN;
const uiDist = process.env.SOUK_UI_DIST ?? join(here, '..', 'dist');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = process.env.SOUK_ARTIFACTS ?? join(tmpdir(), 'souk-artifacts');
const PASSPHRASE = 'browser test passphrase';
// Nothing in this test may leave loopback: no price feed, no mDNS, loopback listeners only.
const nodeEnv = { ...process.env, SOUK_PRICE_URL: '', SOUK_LOG_FILE: 'false', SOUK_LOG_LEVEL: 'info' };

/** Retries `probe` until it returns a value or `ms` pass; waits on a condition, not a fixed sleep. */
async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

const nodes = [];
let browser;

/** Creates an identity in a fresh data dir and starts `souk serve` on it; resolves once it is up. */
async function startNode(name, bootstrap) {
  const dataDir = mkdtempSync(join(tmpdir(), `souk-browser-${name}-`));
  const passFile = join(dataDir, 'passphrase.txt');
  writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  const init = spawnSync(cli, ['--data-dir', dataDir, '--passphrase-file', passFile, '--json', 'init'], {
    env: nodeEnv,
    encoding: 'utf8',
  });
  assert.equal(init.status, 0, `souk init (${name}) failed: ${init.stderr}${init.stdout}`);
  const args = ['--data-dir', dataDir, '--passphrase-file', passFile, '--json', 'serve'];
  args.push('--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--market', 'BTC/EUR', '--ui', uiDist);
  if (bootstrap) args.push('--bootstrap', bootstrap);
  const child = spawn(cli, args, { env: nodeEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const node = { name, dataDir, child, log: '', started: null };
  nodes.push(node);
  child.stdout.on('data', (d) => {
    node.log += d;
    for (const line of String(d).split('\n')) {
      if (line.startsWith('{') && !node.started) node.started = JSON.parse(line);
    }
  });
  child.stderr.on('data', (d) => (node.log += d));
  const started = await until(`souk serve (${name}) to start`, 60_000, () => {
    if (child.exitCode !== null) throw new Error(`souk serve (${name}) exited: ${node.log}`);
    return node.started;
  });
  node.token = new URL(started.ui).hash.replace('#token=', '');
  node.api = started.api;
  return node;
}

async function api(node, path) {
  const res = await fetch(`${node.api}${path}`, { headers: { authorization: `Bearer ${node.token}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function stopNode(node) {
  return new Promise((resolve) => {
    if (node.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => node.child.kill('SIGKILL'), 10_000);
    node.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    node.child.kill('SIGTERM');
  });
}

before(async () => {
  assert.ok(cli, 'SOUK_CLI_BIN must name the souk binary (run through `cargo xtask test`)');
  mkdirSync(artifacts, { recursive: true });
  const a = await startNode('a');
  const bootstrap = a.started.listen_addrs.find((addr) => addr.includes('/tcp/'));
  assert.ok(bootstrap, `node A has no TCP address: ${a.started.listen_addrs.join(', ')}`);
  const b = await startNode('b', bootstrap);
  await until('A and B to connect', 30_000, async () => (await api(b, '/api/v1/peers')).length > 0);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await Promise.all(nodes.map(stopNode));
  for (const node of nodes) rmSync(node.dataDir, { recursive: true, force: true });
});

/** A page for one user at the smallest size the app supports, logging what the page complains about. */
async function openUser(node) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 640 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(node.started.ui);
  return { page, problems };
}

async function shot(page, name) {
  const file = join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Runs a step; on failure saves a screenshot of every page and prints the nodes' output. */
async function step(t, pages, body) {
  try {
    await body();
  } catch (e) {
    for (const [name, page] of Object.entries(pages)) await shot(page, `browser-${name}-failure`).catch(() => {});
    for (const node of nodes) t.diagnostic(`souk serve ${node.name}:\n${node.log}`);
    throw e;
  }
}

test('an offer posted through A’s form appears live in B’s Market, and leaves it on withdrawal', async (t) => {
  const [a, b] = nodes;
  const userA = await openUser(a);
  const userB = await openUser(b);
  const pages = { a: userA.page, b: userB.page };
  const pageA = userA.page;
  const pageB = userB.page;
  const marker = `e2e-${Date.now()}`;
  const terms = `${marker} Pay within 2 h. <b>bold</b> <script>alert(1)</script>`;

  await step(t, pages, async () => {
    // The token moved from the address bar into this tab's sessionStorage.
    await pageA.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    assert.equal(new URL(pageA.url()).hash, '', 'the token stayed in the address bar');
    assert.equal(await pageA.evaluate(() => sessionStorage.getItem('souk.api-token')), a.token);
    await pageB.getByText('Nobody sells BTC for EUR yet.').waitFor();
    await shot(pageB, 'browser-market-empty');
    // Anything that reloads B's page clears this flag.
    await pageB.evaluate(() => {
      globalThis.__soukNoReload = true;
    });

    // A: the form refuses an empty offer, field by field.
    await pageA.getByRole('button', { name: 'Post offer' }).click();
    await pageA.getByRole('heading', { level: 1, name: 'Post offer' }).waitFor();
    await pageA.getByRole('button', { name: 'Publish offer' }).click();
    await pageA.getByText('Enter a price in EUR per BTC.').waitFor();
    await pageA.getByText('Name at least one payment method, e.g. SEPA.').waitFor();
    await shot(pageA, 'browser-post-offer-errors');

    await pageA.getByLabel('Price (EUR per BTC)').fill('61000');
    await pageA.getByLabel('Minimum amount (BTC)').fill('0.01');
    await pageA.getByLabel('Maximum amount (BTC)').fill('0.25');
    await pageA.getByLabel('Payment methods').fill('sepa, Revolut');
    await pageA.getByLabel('Terms', { exact: true }).fill(terms);
    const preview = pageA.getByTestId('offer-preview');
    await preview.getByText('61000 EUR per BTC').waitFor();
    await preview.getByText('SEPA, REVOLUT').waitFor();
    await shot(pageA, 'browser-post-offer-preview');
    await pageA.getByRole('button', { name: 'Publish offer' }).click();

    // A lands on My offers with the offer live.
    await pageA.getByRole('heading', { level: 1, name: 'My offers' }).waitFor();
    const card = pageA.locator('.offer-card', { hasText: marker });
    await card.getByText('Live').waitFor();
    await shot(pageA, 'browser-my-offers');

    // B: the offer arrives over the network and the WebSocket, with no reload.
    const row = pageB.locator('.book-row', { hasText: marker });
    await row.waitFor({ timeout: 15_000 });
    assert.equal(await pageB.evaluate(() => globalThis.__soukNoReload), true, 'B’s page reloaded');
    await row.getByText('61,000 EUR').waitFor();
    await row.getByText('0.01 – 0.25 BTC').waitFor();
    await row.getByText('SEPA, REVOLUT').waitFor();
    // Terms are text: the markup shows literally and creates no elements.
    const termsCell = row.getByTestId('offer-terms');
    assert.equal(await termsCell.textContent(), terms);
    assert.equal(await termsCell.locator('b, script').count(), 0);
    await shot(pageB, 'browser-market-live-offer');

    // B's Network screen shows A as a peer.
    await pageB.getByRole('button', { name: 'Network' }).click();
    await until('B to list A as a peer', 10_000, async () =>
      (await pageB.getByText(a.started.peer_id, { exact: true }).count()) > 0,
    );
    await shot(pageB, 'browser-network');
    await pageB.getByRole('button', { name: 'Market' }).click();
    await row.waitFor();

    // A withdraws, confirming first; the offer leaves B's book live.
    await card.getByRole('button', { name: 'Withdraw' }).click();
    await shot(pageA, 'browser-withdraw-confirm');
    await card.getByRole('button', { name: 'Yes, withdraw' }).click();
    await card.getByText('Withdrawn', { exact: true }).first().waitFor();
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal(await pageB.evaluate(() => globalThis.__soukNoReload), true, 'B’s page reloaded');
    await pageB.getByText('Nobody sells BTC for EUR yet.').waitFor();
    await shot(pageA, 'browser-my-offers-withdrawn');

    assert.deepEqual(userA.problems, [], 'A’s page logged errors');
    assert.deepEqual(userB.problems, [], 'B’s page logged errors');
  });
});
