// Escrow browser test: a whole 2-of-3 multisig trade through the UI, with a real Litecoin regtest chain
// as the judge. `litecoind -regtest` (temp datadir, free loopback RPC port, legacy wallet with matured
// coins) and three `souk serve` nodes on loopback with the chain flags: an arbitrator, a maker and a
// taker (both bootstrapping from the maker). The maker posts an LTC/EUR escrow offer through the form;
// the taker takes 1 LTC with a payout address of the wallet; the maker accepts and gives a refund
// address; each room shows its own escrow output (the seller's for amount and deposit, the buyer's for
// its deposit, as the nodes' API says), which the test funds over RPC, the seller's first: the rooms
// show each output's progress; confirmed by mining; payment sent → received → released → completed, each seen in both browsers; the payout
// address then holds the amount and the buyer's deposit. Same order of steps as
// tests/tests/escrow_trade_on_regtest.rs. Screenshots of each step go to SOUK_ARTIFACTS as escrow-*.png.
// Env: SOUK_CLI_BIN (the `souk` binary), SOUK_UI_DIST (built UI, default ui/dist), CHROMIUM
// (default /usr/bin/chromium), LITECOIND (default /usr/lib/litecoin/litecoind), SOUK_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  api,
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
import { startLitecoind } from './regtest.mjs';

let ltc;
const rpc = (method, params, options) => ltc.rpc(method, params, options);
const newAddress = () => ltc.newAddress();
const mine = (blocks) => ltc.mine(blocks);

// ---- souk serve ---------------------------------------------------------------------------------

const souk = serveNodes('souk-escrow', 'escrow browser test passphrase');
const nodes = souk.nodes;
let browser;

/** A `souk serve` node on the regtest chain, its escrow watcher looking every second ([trade] in souk.toml). */
function startNode(name, { bootstrap, arbitrator = false } = {}) {
  const extraArgs = ltc.soukArgs();
  if (arbitrator) extraArgs.push('--arbitrator');
  return souk.start(name, { market: 'LTC/EUR', bootstrap, extraArgs, config: '[trade]\nwatch_every_secs = 1\n' });
}

let arbitrator, maker, taker;

before(async () => {
  prepare();
  ltc = await startLitecoind('souk-escrow');
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
  await ltc?.stop();
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
    { prefix: 'escrow', pages, nodes, more: () => (ltc ? [`litecoind:\n${ltc.logs()}`] : []) },
    body,
  );

const stateBadge = (page, label) => page.getByTestId('trade-state').getByText(label, { exact: true });
const timelineStep = (page, id) => page.getByTestId('timeline').locator(`[data-step="${id}"]`);
// Chain steps wait on the nodes' chain watcher (every second here) and the network.
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

    // Each room shows its own escrow output: each party funds its own, so the chain says whose coins are whose.
    await stateBadge(pageM, 'Funding escrow').waitFor({ timeout: 30_000 });
    await stateBadge(pageT, 'Funding escrow').waitFor({ timeout: 30_000 });
    const escrowM = (await pageM.getByTestId('escrow-address').textContent()).trim();
    const escrowT = (await pageT.getByTestId('escrow-address').textContent()).trim();
    assert.match(escrowM, /^rltc1q/, 'a regtest P2WSH escrow address');
    assert.match(escrowT, /^rltc1q/, 'a regtest P2WSH escrow address');
    assert.notEqual(escrowT, escrowM, 'the seller and the buyer fund different outputs');
    // Each shown address is that side's output as both nodes' API has it.
    const [viewM] = (await api(maker, '/api/v1/trades')).filter((x) => x.offer.terms.startsWith(marker));
    const viewT = await api(taker, `/api/v1/trades/${viewM.id}`);
    for (const view of [viewM, viewT]) {
      assert.equal(view.escrow.seller_escrow_address, escrowM, 'the maker (seller) shows the seller’s output');
      assert.equal(view.escrow.buyer_escrow_address, escrowT, 'the taker (buyer) shows the buyer’s output');
    }
    assert.equal(viewM.escrow.address, escrowM);
    assert.equal(viewT.escrow.address, escrowT);
    // Each room says what to send where, in coins, and its QR code holds its own address and amount.
    await pageM.getByTestId('escrow-instruction').filter({ hasText: /^Send 1\.15 LTC to your escrow address$/ }).waitFor();
    await pageT.getByTestId('escrow-instruction').filter({ hasText: /^Send 0\.15 LTC to your escrow address$/ }).waitFor();
    assert.equal(
      await pageM.getByRole('img', { name: /^QR code of your escrow address/ }).getAttribute('data-qr-value'),
      `litecoin:${escrowM}?amount=1.15`,
    );
    assert.equal(
      await pageT.getByRole('img', { name: /^QR code of your escrow address/ }).getAttribute('data-qr-value'),
      `litecoin:${escrowT}?amount=0.15`,
    );
    // What happens if someone disappears, in blocks, as the core set the locks.
    await pageM.getByTestId('escrow-fallbacks').filter({ hasText: /can take its own coins back alone after \d+ blocks?\./ }).waitFor();
    await timelineStep(pageM, 'funded').and(pageM.locator('[data-status="current"]')).waitFor();
    await shot(pageM, '07-maker-escrow-funding');
    await shot(pageT, '07-taker-escrow-funding');

    // The test funds each output from the wallet, the seller's first (1 + 0.15 to its own): once mined,
    // both rooms show the seller's output full and the buyer's still empty, and the trade still funding.
    const fundingTxids = [await ltc.send(escrowM, 1.15)];
    await mine(1);
    for (const page of [pageM, pageT]) {
      await page.getByTestId('escrow-output-seller').filter({ hasText: /^Seller’s output: 1\.15 of 1\.15 LTC/ }).waitFor({ timeout: CHAIN_WAIT });
      await page.getByTestId('escrow-output-buyer').filter({ hasText: /^Buyer’s output: 0 of 0\.15 LTC/ }).waitFor();
      await stateBadge(page, 'Funding escrow').waitFor();
    }
    await shot(pageT, '07-taker-seller-output-funded');
    // Then the buyer's deposit to its own output, from its node's wallet. The unsigned PSBT the node
    // exports decodes to exactly that funding; in the room, amount and fee are shown before anything is
    // sent, and "Confirm and send" has the wallet sign and the node broadcast.
    const exported = await api(taker, `/api/v1/trades/${viewM.id}/fund`, { wallet: 'souk-test', broadcast: false });
    assert.equal(exported.txid, null);
    const decoded = await rpc('decodepsbt', [exported.psbt]);
    const toEscrow = decoded.tx.vout.filter((o) => (o.scriptPubKey.addresses ?? [o.scriptPubKey.address]).includes(escrowT));
    assert.deepEqual(toEscrow.map((o) => o.value), [0.15], 'exactly the deposit owed, to the buyer’s own output');
    assert.deepEqual(await rpc('getrawmempool', []), [], 'nothing sent by exporting');
    await pageT.getByRole('textbox', { name: 'Wallet of your chain node' }).fill('souk-test');
    await pageT.getByRole('button', { name: 'Prepare' }).click();
    await pageT.getByTestId('funding-summary').filter({ hasText: /^Send 0\.15 LTC to \S+ from wallet souk-test, fee 0\.0000\d+ LTC\.$/ }).waitFor();
    await shot(pageT, '07-taker-fund-from-wallet');
    await pageT.getByRole('button', { name: 'Confirm and send' }).click();
    const sent = await pageT.getByTestId('funding-sent').textContent();
    const buyerTxid = sent.trim().split(': ').pop();
    assert.match(buyerTxid, /^[0-9a-f]{64}$/);
    // Seen before any block, then confirmed.
    await pageT.getByTestId('pending-txid').filter({ hasText: buyerTxid }).waitFor({ timeout: CHAIN_WAIT });
    fundingTxids.push(buyerTxid);
    fundingTxids.sort();
    await mine(1);
    for (const page of [pageM, pageT]) {
      await stateBadge(page, 'Escrow funded').waitFor({ timeout: CHAIN_WAIT });
      await timelineStep(page, 'funded').and(page.locator('[data-status="done"]')).waitFor();
      // The room shows the transactions the wallet sent, as the watcher saw them on the escrow address,
      // and when the funding was seen.
      const shown = (await page.getByTestId('funding-txid').allTextContents()).map((t) => t.trim()).sort();
      assert.deepEqual(shown, fundingTxids);
      assert.match(await page.getByTestId('step-time-funded').textContent(), /\d{2}:\d{2}/);
    }
    await pageT.getByTestId('escrow-funded').getByText(/^1\.3 LTC of 1\.3 LTC/).waitFor();
    for (const page of [pageM, pageT]) {
      await page.getByTestId('escrow-output-seller').filter({ hasText: /^Seller’s output: 1\.15 of 1\.15 LTC/ }).waitFor();
      await page.getByTestId('escrow-output-buyer').filter({ hasText: /^Buyer’s output: 0\.15 of 0\.15 LTC/ }).waitFor();
    }
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

    // Reputation: the buyer rates the seller once both nodes signed the trade's receipt (a moment after
    // the end; until then the node says so and the buyer sends again)...
    await pageT.locator('.trade-row').getByRole('button', { name: /^Open trade/ }).click();
    const rating = pageT.getByRole('form', { name: 'Rate your counterparty' });
    await rating.getByLabel('5 stars').check();
    await rating.getByLabel('Comment (optional)').fill('smooth escrow');
    await until('the rating to be signed and published', CHAIN_WAIT, async () => {
      await rating.getByRole('button', { name: /^(Send rating|Rate again)$/ }).click();
      return pageT.getByTestId('rated').waitFor({ timeout: 3_000 }).then(
        () => true,
        () => false,
      );
    });
    await shot(pageT, '13-taker-rated');
    // ...and the taker's book shows the maker's settled trade with the rating, verified by its own node.
    await pageT.getByRole('button', { name: 'Market' }).click();
    await pageT.getByRole('form', { name: 'Market and filters' }).getByLabel('Asset').selectOption('LTC');
    const figure = pageT.locator('.book-row', { hasText: marker }).getByTestId('maker-reputation');
    await until('the book to show the maker’s receipt and rating', CHAIN_WAIT, async () =>
      /^1 trade · ★5/.test((await figure.textContent()) ?? ''),
    );
    assert.match(await figure.getAttribute('title'), /1 of 1 with escrow verified on the chain/);
    await shot(pageT, '14-taker-book-reputation');

    // The chain is the judge: the payout address holds the amount and the buyer's deposit, less the
    // release's fee reserve, which the buyer's node pays on once the release confirmed (shown in its room).
    await until('the taker’s node to pay the fee reserve on', CHAIN_WAIT, async () => {
      const trade = await api(taker, `/api/v1/trades/${viewM.id}`).catch(() => null);
      return trade?.escrow?.fee_reserve?.txid ?? null;
    });
    const released = await rpc('getreceivedbyaddress', [payout, 1], { wallet: true });
    assert.ok(released < 1.15 && released > 1.149, `the release paid the amount and deposit less the reserve: ${released}`);
    await mine(1);
    await until('the fee reserve to reach the payout address', CHAIN_WAIT, async () =>
      (await rpc('getreceivedbyaddress', [payout, 1], { wallet: true })) > released,
    );
    const paid = await rpc('getreceivedbyaddress', [payout, 1], { wallet: true });
    assert.ok(paid < 1.15 && paid > 1.14999, `the buyer got 1.15 LTC less the reserve child's small fee: ${paid}`);
    const back = await rpc('getreceivedbyaddress', [refund, 1], { wallet: true });
    assert.ok(back < 0.15 && back > 0.149, `the seller's deposit came back less the fee: ${back}`);

    assert.deepEqual(makerUser.problems, [], 'the maker’s page logged errors');
    assert.deepEqual(takerUser.problems, [], 'the taker’s page logged errors');
  });
});
