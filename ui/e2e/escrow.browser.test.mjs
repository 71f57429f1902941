// Escrow browser test: a whole 2-of-3 multisig trade through the UI, with a real Litecoin regtest chain
// as the judge. `litecoind -regtest` (temp datadir, free loopback RPC port, legacy wallet with matured
// coins) and three `souk serve` nodes on loopback with the chain flags: an arbitrator, a maker and a
// taker (both bootstrapping from the maker). The maker posts an LTC/EUR escrow offer through the form;
// the taker takes 1 LTC with a payout address of the wallet; the maker accepts and gives a refund
// address; both rooms show the same escrow address, which the test funds over RPC and confirms by
// mining; payment sent → received → released → completed, each seen in both browsers; the payout
// address then holds the amount and the buyer's deposit. Same order of steps as
// tests/tests/escrow_trade_on_regtest.rs. Screenshots of each step go to SOUK_ARTIFACTS as escrow-*.png.
// Env: SOUK_CLI_BIN (the `souk` binary), SOUK_UI_DIST (built UI, default ui/dist), CHROMIUM
// (default /usr/bin/chromium), LITECOIND (default /usr/bin/litecoind), SOUK_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  awaitPeer,
  launchBrowser,
  openUser as open,
  prepare,
  serveNodes,
  shot as save,
  step as runStep,
  tcpAddress,
  until,
} from './harness.mjs';

const litecoindPath = process.env.LITECOIND ?? '/usr/bin/litecoind';
const RPC_USER = 'souk';
const WALLET = 'souk-test';

// ---- litecoind -regtest -------------------------------------------------------------------------

/** A loopback port the OS says is free now (litecoind may still lose a race for it: start retries). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

let ltc;

/** The chain node's JSON-RPC over fetch with basic auth; `wallet` routes to the test wallet. */
async function rpc(method, params = [], { wallet = false } = {}) {
  const url = `${ltc.url}${wallet ? `wallet/${WALLET}` : ''}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${RPC_USER}:${ltc.password}`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ jsonrpc: '1.0', id: method, method, params }),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${method}: HTTP ${res.status} ${text}`);
  }
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result;
}

const newAddress = () => rpc('getnewaddress', ['', 'bech32'], { wallet: true });
const mine = (blocks) => rpc('generatetoaddress', [blocks, ltc.miningAddress]);

function litecoindLogs(dir) {
  const tail = (file) => {
    try {
      return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  return `stderr:\n${tail(join(dir, 'stderr.log'))}\ndebug.log:\n${tail(join(dir, 'regtest', 'debug.log'))}`;
}

/** Starts litecoind on a fresh datadir and port; resolves once its RPC answers, or rejects. */
async function tryStartLitecoind() {
  const dir = mkdtempSync(join(tmpdir(), 'souk-escrow-ltc-'));
  // Unique per node, so another node that grabbed our port cannot be mistaken for ours.
  const password = `${basename(dir).replace(/[^A-Za-z0-9]/g, '')}-regtest`;
  const port = await freePort();
  const stderr = join(dir, 'stderr.log');
  writeFileSync(stderr, '');
  const child = spawn(
    litecoindPath,
    [
      '-regtest',
      `-datadir=${dir}`,
      '-txindex=1',
      '-fallbackfee=0.0002',
      '-keypool=10',
      `-rpcuser=${RPC_USER}`,
      `-rpcpassword=${password}`,
      `-rpcport=${port}`,
      '-rpcbind=127.0.0.1',
      '-rpcallowip=127.0.0.1',
      '-server=1',
      '-listen=0',
      '-listenonion=0',
      '-dnsseed=0',
      '-discover=0',
      '-printtoconsole=0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.on('data', (d) => writeFileSync(stderr, d, { flag: 'a' }));
  const node = { dir, child, password, port, url: `http://127.0.0.1:${port}/` };
  ltc = node;
  // The probe returns a failure instead of throwing it: `until` retries on throws.
  const outcome = await until('litecoind RPC to answer', 60_000, async () => {
    if (child.exitCode !== null) {
      const logs = litecoindLogs(dir);
      const error = new Error(`litecoind exited (${child.exitCode}) on port ${port}:\n${logs}`);
      error.fatal = !/bind/i.test(logs);
      return { error };
    }
    try {
      await rpc('getblockchaininfo');
      return { ok: true };
    } catch (e) {
      // 401: another server answered on this port, with another password.
      if (/HTTP 401/.test(e.message)) return { error: new Error(`another RPC server answered on port ${port}`) };
      return false; // not listening yet, or warming up (-28)
    }
  }).catch((error) => ({ error }));
  if (outcome.error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    ltc = undefined;
    throw outcome.error;
  }
  return node;
}

async function startLitecoind() {
  const failures = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await tryStartLitecoind();
      // Legacy wallet: Debian's litecoind has no descriptor wallets (built without sqlite).
      await rpc('createwallet', [WALLET]);
      ltc.miningAddress = await newAddress();
      await mine(101);
      return ltc;
    } catch (e) {
      if (e.fatal) throw e;
      failures.push(e.message);
    }
  }
  throw new Error(`litecoind did not start in 5 attempts:\n${failures.join('\n---\n')}`);
}

function stopLitecoind() {
  if (!ltc) return Promise.resolve();
  const { child, dir } = ltc;
  return new Promise((resolve) => {
    const done = () => {
      rmSync(dir, { recursive: true, force: true });
      resolve();
    };
    if (child.exitCode !== null) return done();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

// ---- souk serve ---------------------------------------------------------------------------------

const souk = serveNodes('souk-escrow', 'escrow browser test passphrase');
const nodes = souk.nodes;
let browser;

/** A `souk serve` node on the regtest chain. */
function startNode(name, { bootstrap, arbitrator = false } = {}) {
  const extraArgs = ['--chain', 'ltc', '--network', 'regtest', '--rpc-url', ltc.url];
  extraArgs.push('--rpc-user', RPC_USER, '--rpc-password', ltc.password);
  if (arbitrator) extraArgs.push('--arbitrator');
  return souk.start(name, { market: 'LTC/EUR', bootstrap, extraArgs });
}

let arbitrator, maker, taker;

before(async () => {
  prepare();
  await startLitecoind();
  maker = await startNode('maker');
  const bootstrap = tcpAddress(maker);
  [arbitrator, taker] = await Promise.all([
    startNode('arbitrator', { bootstrap, arbitrator: true }),
    startNode('taker', { bootstrap }),
  ]);
  for (const node of [arbitrator, taker]) await awaitPeer(node, `${node.name} to connect to the maker`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await souk.stopAll();
  await stopLitecoind();
});

/** A page for one user, on the Market. */
async function openUser(node) {
  const user = await open(browser, node);
  await user.page.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
  return user;
}

const shot = (page, name) => save(page, `escrow-${name}`);

/** Runs the flow; on failure saves a screenshot of every page and prints the nodes' and litecoind's output. */
const step = (t, pages, body) =>
  runStep(
    t,
    { prefix: 'escrow', pages, nodes, more: () => (ltc ? [`litecoind:\n${litecoindLogs(ltc.dir)}`] : []) },
    body,
  );

const stateBadge = (page, label) => page.getByTestId('trade-state').getByText(label, { exact: true });
const timelineStep = (page, id) => page.getByTestId('timeline').locator(`[data-step="${id}"]`);
// Chain steps wait on the nodes' chain watcher (every 10 s in `souk serve`) and the network.
const CHAIN_WAIT = 60_000;

test('an escrow trade through both browsers settles on the regtest chain', async (t) => {
  const makerUser = await openUser(maker);
  const takerUser = await openUser(taker);
  const pageM = makerUser.page;
  const pageT = takerUser.page;
  const pages = { maker: pageM, taker: pageT };
  const marker = `escrow-${Date.now()}`;

  await step(t, pages, async () => {
    // Maker: an LTC/EUR sell offer with a 2-of-3 multisig escrow naming the arbitrator.
    await pageM.getByRole('button', { name: 'Post offer' }).click();
    await pageM.getByRole('heading', { level: 1, name: 'Post offer' }).waitFor();
    const form = pageM.getByRole('form', { name: 'New offer' });
    await form.getByLabel('Asset').selectOption('LTC');
    await form.getByLabel('Paid in').selectOption('EUR');
    await form.getByLabel('Sell LTC').check();
    await form.getByLabel('Fixed price').check();
    await form.getByLabel('Price (EUR per LTC)').fill('80');
    await form.getByLabel('Minimum amount (LTC)').fill('0.5');
    await form.getByLabel('Maximum amount (LTC)').fill('2');
    await form.getByLabel('Payment methods').fill('SEPA');
    await form.getByLabel('2-of-3 multisig with an arbitrator').check();
    await form.getByLabel('Arbitrators you accept').fill(arbitrator.started.peer_id);
    await form.getByLabel('Terms', { exact: true }).fill(`${marker} SEPA instant only`);
    await pageM.getByTestId('offer-preview').getByText('80 EUR per LTC').waitFor();
    await shot(pageM, '01-maker-post-offer');
    await form.getByRole('button', { name: 'Publish offer' }).click();
    await pageM.getByRole('heading', { level: 1, name: 'My offers' }).waitFor();
    await pageM.locator('.offer-card', { hasText: marker }).getByText('Live').waitFor();
    await shot(pageM, '02-maker-my-offers');

    // Maker waits on the Trades list for the take to arrive live.
    await pageM.getByRole('button', { name: /^Trades/ }).click();
    await pageM.getByText('No trades yet').waitFor();

    // Taker: the LTC/EUR Market shows the offer (asking the makers with Refresh if gossip is slow).
    await pageT.getByRole('form', { name: 'Market and filters' }).getByLabel('Asset').selectOption('LTC');
    const row = pageT.locator('.book-row', { hasText: marker });
    if (!(await row.waitFor({ timeout: 10_000 }).then(() => true, () => false))) {
      t.diagnostic('the offer did not reach the taker over gossip within 10 s; asking the makers with Refresh');
      await pageT.getByRole('button', { name: 'Refresh' }).click();
      await row.waitFor({ timeout: 20_000 });
    }
    await row.getByText('0.5 – 2 LTC').waitFor();
    await shot(pageT, '03-taker-market');

    // Taker takes 1 LTC by SEPA; the payout is a fresh address of the wallet.
    const payout = await newAddress();
    await row.getByRole('button', { name: /^Take offer: buy LTC at/ }).click();
    await pageT.getByRole('heading', { name: 'Take offer: you buy LTC' }).waitFor();
    await pageT.getByLabel('Amount (LTC)').fill('1');
    await pageT.getByLabel('Payment method').selectOption('SEPA');
    await pageT.getByLabel('Payout details').fill(payout);
    await shot(pageT, '04-taker-take-offer');
    await pageT.getByRole('button', { name: 'Send take request' }).click();
    await pageT.getByRole('heading', { level: 1, name: 'You buy LTC for EUR' }).waitFor({ timeout: 20_000 });

    // Maker: the take shows up live; open it and accept.
    const tradeRowM = pageM.locator('.trade-row');
    await tradeRowM.waitFor({ timeout: 20_000 });
    await tradeRowM.locator('.badge--trade').getByText('Take requested', { exact: true }).waitFor();
    await tradeRowM.getByText('1 LTC').waitFor();
    await shot(pageM, '05-maker-trades-take');
    await tradeRowM.getByRole('button', { name: /^Open trade/ }).click();
    await pageM.getByRole('heading', { level: 1, name: 'You sell LTC for EUR' }).waitFor();
    await pageM.getByRole('button', { name: 'Accept', exact: true }).click();
    await stateBadge(pageM, 'Accepted').waitFor({ timeout: 20_000 });
    await stateBadge(pageT, 'Accepted').waitFor({ timeout: 20_000 });

    // Maker gives the refund address in the trade room.
    const refund = await newAddress();
    await pageM.getByRole('button', { name: 'Give address…' }).click();
    await pageM.getByLabel('Your LTC refund address').fill(refund);
    await shot(pageM, '06-maker-refund-address');
    await pageM.getByRole('button', { name: 'Give address', exact: true }).click();

    // Both rooms show the same escrow address.
    await stateBadge(pageM, 'Funding escrow').waitFor({ timeout: 30_000 });
    await stateBadge(pageT, 'Funding escrow').waitFor({ timeout: 30_000 });
    const escrowM = (await pageM.getByTestId('escrow-address').textContent()).trim();
    const escrowT = (await pageT.getByTestId('escrow-address').textContent()).trim();
    assert.match(escrowM, /^rltc1q/, 'a regtest P2WSH escrow address');
    assert.equal(escrowT, escrowM, 'both sides show the same escrow address');
    await timelineStep(pageM, 'funded').and(pageM.locator('[data-status="current"]')).waitFor();
    await shot(pageM, '07-maker-escrow-funding');
    await shot(pageT, '07-taker-escrow-funding');

    // The test funds the escrow from the wallet (seller 1 + 0.15, buyer 0.15) and mines a block.
    await rpc('sendtoaddress', [escrowM, 1.15], { wallet: true });
    await rpc('sendtoaddress', [escrowM, 0.15], { wallet: true });
    await mine(1);
    for (const page of [pageM, pageT]) {
      await stateBadge(page, 'Escrow funded').waitFor({ timeout: CHAIN_WAIT });
      await timelineStep(page, 'funded').and(page.locator('[data-status="done"]')).waitFor();
    }
    await pageT.getByTestId('escrow-funded').getByText(/^1\.3 LTC of 1\.3 LTC/).waitFor();
    await shot(pageM, '08-maker-escrow-funded');
    await shot(pageT, '08-taker-escrow-funded');

    // Taker says it paid; the maker sees it and confirms; the taker's node co-signs and broadcasts.
    await pageT.getByRole('button', { name: 'Payment sent…' }).click();
    await pageT.getByRole('button', { name: 'Yes, I have paid' }).click();
    await stateBadge(pageT, 'Payment sent').waitFor({ timeout: 20_000 });
    await stateBadge(pageM, 'Payment sent').waitFor({ timeout: 20_000 });
    await shot(pageM, '09-maker-payment-sent');
    await pageM.getByRole('button', { name: 'Payment received…' }).click();
    await pageM.getByRole('button', { name: 'Yes, payment received' }).click();
    const txid = pageT.getByTestId('release-txid');
    await txid.waitFor({ timeout: CHAIN_WAIT });
    const releaseTxid = (await txid.textContent()).trim();
    assert.match(releaseTxid, /^[0-9a-f]{64}$/);
    await until('the taker’s room to show Released or Completed', CHAIN_WAIT, async () =>
      ['Released', 'Completed'].includes(await pageT.getByTestId('trade-state').textContent()),
    );
    await shot(pageT, '10-taker-released');
    await mine(1);

    // Both rooms and both Trades lists show Completed.
    for (const page of [pageM, pageT]) {
      await stateBadge(page, 'Completed').waitFor({ timeout: CHAIN_WAIT });
      assert.equal((await page.getByTestId('release-txid').textContent()).trim(), releaseTxid);
    }
    await shot(pageM, '11-maker-completed');
    await shot(pageT, '11-taker-completed');
    for (const [who, page] of Object.entries(pages)) {
      await page.getByRole('button', { name: '← All trades' }).click();
      await page.locator('.trade-row .badge--trade').getByText('Completed', { exact: true }).waitFor();
      await shot(page, `12-${who}-trades-completed`);
    }

    // The chain is the judge: the payout address holds the amount and the buyer's deposit.
    assert.equal(await rpc('getreceivedbyaddress', [payout, 1], { wallet: true }), 1.15);
    const back = await rpc('getreceivedbyaddress', [refund, 1], { wallet: true });
    assert.ok(back < 0.15 && back > 0.149, `the seller's deposit came back less the fee: ${back}`);

    assert.deepEqual(makerUser.problems, [], 'the maker’s page logged errors');
    assert.deepEqual(takerUser.problems, [], 'the taker’s page logged errors');
  });
});
