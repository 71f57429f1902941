// What the browser tests share: real `souk serve` nodes on loopback (temp data dirs, port 0, no mDNS, no
// price feed), Debian's Chromium through playwright-core, and waiting on conditions instead of sleeping.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const cli = process.env.SOUK_CLI_BIN;
const uiDist = process.env.SOUK_UI_DIST ?? join(here, '..', 'dist');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = process.env.SOUK_ARTIFACTS ?? join(tmpdir(), 'souk-artifacts');
// Nothing in these tests may leave loopback: no price feed, no mDNS, loopback listeners only.
const nodeEnv = { ...process.env, SOUK_PRICE_URL: '', SOUK_LOG_FILE: 'false', SOUK_LOG_LEVEL: 'info' };

/** Retries `probe` until it returns a value or `ms` pass; waits on a condition, not a fixed sleep. */
export async function until(what, ms, probe) {
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

/** Checks the environment `cargo xtask test` sets and makes the artifacts folder. */
export function prepare() {
  assert.ok(cli, 'SOUK_CLI_BIN must name the souk binary (run through `cargo xtask test`)');
  mkdirSync(artifacts, { recursive: true });
}

/**
 * The `souk serve` nodes of one test file: `start(name, { market, bootstrap, extraArgs, config })` creates
 * an identity in a fresh data dir (with `config` as its souk.toml), and resolves once the node is up;
 * `stopAll()` stops and removes them.
 */
export function serveNodes(prefix, passphrase) {
  const nodes = [];

  async function start(name, { market, bootstrap, extraArgs = [], config }) {
    const dataDir = mkdtempSync(join(tmpdir(), `${prefix}-${name}-`));
    if (config !== undefined) writeFileSync(join(dataDir, 'souk.toml'), config);
    const passFile = join(dataDir, 'passphrase.txt');
    writeFileSync(passFile, `${passphrase}\n`, { mode: 0o600 });
    const init = spawnSync(cli, ['--data-dir', dataDir, '--passphrase-file', passFile, '--json', 'init'], {
      env: nodeEnv,
      encoding: 'utf8',
    });
    assert.equal(init.status, 0, `souk init (${name}) failed: ${init.stderr}${init.stdout}`);
    const args = ['--data-dir', dataDir, '--passphrase-file', passFile, '--json', 'serve'];
    args.push('--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--market', market, '--ui', uiDist);
    args.push(...extraArgs);
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

  function stop(node) {
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

  async function stopAll() {
    await Promise.all(nodes.map(stop));
    for (const node of nodes) rmSync(node.dataDir, { recursive: true, force: true });
  }

  return { nodes, start, stopAll };
}

/** A node's TCP address, for the others to bootstrap from. */
export function tcpAddress(node) {
  const addr = node.started.listen_addrs.find((a) => a.includes('/tcp/'));
  assert.ok(addr, `${node.name} has no TCP address: ${node.started.listen_addrs.join(', ')}`);
  return addr;
}

/**
 * An offer as `POST /api/v1/offers` takes it: the same typed JSON as the desktop app's `post_offer`
 * (amounts in base units, the price per whole coin as text).
 */
export function newOffer({ side = 'sell', base, quote, price, min, max, methods, arbitrators = null, terms = '' }) {
  return {
    side,
    base,
    quote,
    price: { fixed: price },
    min_amount: min,
    max_amount: max,
    payment_methods: methods,
    escrow: arbitrators ? { kind: 'multisig', arbitrators } : { kind: 'none' },
    deposit_bps: 1500,
    ttl_ms: 86_400_000,
    terms,
  };
}

/** One API call with the node's token: GET, or POST with a JSON body. */
export async function api(node, path, body) {
  const headers = { authorization: `Bearer ${node.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${node.api}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Waits until `node` has a peer. */
export function awaitPeer(node, what) {
  return until(what, 30_000, async () => (await api(node, '/api/v1/peers')).length > 0);
}

export function launchBrowser() {
  return chromium.launch({
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
}

/** A page for one user at the smallest size the app supports, logging what the page complains about. */
export async function openUser(browser, node) {
  const context = await browser.newContext({ viewport: SMALL });
  // As the desktop window does (Tauri's freezePrototype): a library that assigns over a built-in then
  // breaks here too, not only in the WebKit window.
  await context.addInitScript(() => Object.freeze(Object.prototype));
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(node.started.ui);
  return { page, problems };
}

/** The sizes every screen must be readable at: the smallest window the app allows, and full HD. */
export const SMALL = { width: 1024, height: 640 };
export const LARGE = { width: 1920, height: 1080 };

/**
 * Full-page screenshots to `artifacts/NAME.png` (at the page's size, 1024×640 for users) and
 * `artifacts/NAME@1920.png` (at 1920×1080), failing when the screen needs a horizontal scroll bar at
 * either size (text cut off at the side is not readable) or when axe-core finds an accessibility problem.
 */
export async function shot(page, name) {
  const file = join(artifacts, `${name}.png`);
  const size = page.viewportSize();
  // Pictures first, so a screen that fails its checks is still there to look at.
  await whole(page, size, file);
  if (size && size.width !== LARGE.width) {
    await page.setViewportSize(LARGE);
    try {
      await whole(page, LARGE, join(artifacts, `${name}@1920.png`));
      await assertNoSideways(page, name, LARGE);
    } finally {
      await page.setViewportSize(size);
    }
  }
  await assertNoSideways(page, name, size);
  await assertAccessible(page, name);
  return file;
}

/**
 * A screenshot of everything on the screen. The app scrolls inside its main pane, not the page, so a
 * full-page screenshot would stop at the window's height: the window is made as tall as the tallest
 * scrolled content for the picture, then put back. A windowed list (the Market's long book sides) scrolls
 * in its own box by design and is pictured as it shows.
 */
async function whole(page, size, path) {
  const hidden = await page.evaluate(() => {
    let most = 0;
    for (const el of globalThis.document.body.querySelectorAll('*')) {
      if (el.classList.contains('book-rows--windowed')) continue;
      const overflow = globalThis.getComputedStyle(el).overflowY;
      if (overflow === 'auto' || overflow === 'scroll') most = Math.max(most, el.scrollHeight - el.clientHeight);
    }
    return most;
  });
  if (!size || hidden <= 0) {
    await page.screenshot({ path, fullPage: true });
    return;
  }
  await page.setViewportSize({ width: size.width, height: size.height + hidden });
  try {
    await page.screenshot({ path, fullPage: true });
  } finally {
    await page.setViewportSize(size);
  }
}

const axeSource = readFileSync(join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/**
 * Checks the screen with axe-core (WCAG 2.1 A and AA rules): every control labelled for screen readers,
 * contrast, landmarks, no duplicate ids… Fails on any finding, naming each with the elements concerned.
 * Runs through the DevTools protocol, so the page's CSP stays as strict as ever.
 */
export async function assertAccessible(page, name) {
  const found = await page.evaluate(async (source) => {
    if (!globalThis.axe) (0, eval)(source);
    const result = await globalThis.axe.run(globalThis.document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return result.violations
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
  }, axeSource);
  assert.deepEqual(found, [], `${name} has accessibility problems:\n${found.join('\n')}`);
}

async function assertNoSideways(page, name, size) {
  const wide = await page.evaluate(() => {
    const root = globalThis.document.documentElement;
    if (root.scrollWidth <= root.clientWidth + 1) return null;
    // Name the widest element that sticks out, so the failure says what to fix.
    let worst = null;
    for (const el of globalThis.document.body.querySelectorAll('*')) {
      const right = el.getBoundingClientRect().right;
      if (right > root.clientWidth + 1 && (!worst || right > worst.right)) {
        worst = { right, what: `${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).split(' ').join('.')}` : ''}` };
      }
    }
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, worst: worst?.what ?? 'unknown' };
  });
  assert.equal(
    wide,
    null,
    `${name} at ${size?.width}x${size?.height} scrolls sideways (${wide?.scrollWidth} px wide in ${wide?.clientWidth} px; ${wide?.worst} sticks out)`,
  );
}

/**
 * Runs a step; on failure saves `PREFIX-PAGE-failure.png` for every page and prints the nodes' output and
 * whatever `more()` adds.
 */
export async function step(t, { prefix, pages, nodes, more = () => [] }, body) {
  try {
    await body();
  } catch (e) {
    for (const [name, page] of Object.entries(pages)) await shot(page, `${prefix}-${name}-failure`).catch(() => {});
    for (const node of nodes) t.diagnostic(`souk serve ${node.name}:\n${node.log}`);
    for (const line of more()) t.diagnostic(line);
    throw e;
  }
}

/**
 * The name every node gives a PeerId (crates/core/src/peer_name.rs), made here from the word lists the
 * core generated into ui/src/bindings.ts: what a notification or a screen must show for a peer.
 */
export function peerName(peerId) {
  const bindings = readFileSync(new URL('../src/bindings.ts', import.meta.url), 'utf8');
  const list = (name) => JSON.parse(new RegExp(`export const ${name}: readonly string\\[\\] = (\\[.*\\]);`).exec(bindings)[1]);
  const [adjectives, animals] = [list('PEER_NAME_ADJECTIVES'), list('PEER_NAME_ANIMALS')];
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(peerId.trim())) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & mask;
  }
  h ^= h >> 30n;
  h = (h * 0xbf58476d1ce4e5b9n) & mask;
  h ^= h >> 27n;
  h = (h * 0x94d049bb133111ebn) & mask;
  h ^= h >> 31n;
  const number = Number(((h >> 12n) & 0xfffffn) % 100n);
  return `${adjectives[Number(h & 63n)]} ${animals[Number((h >> 6n) & 63n)]} ${String(number).padStart(2, '0')}`;
}
