// Dispute browser test: an arbitrator decides a dispute through the UI, with a real Litecoin regtest chain
// as the judge. `litecoind -regtest` and three `souk serve` nodes on loopback: an arbitrator (made one by
// `[trade] arbitrator = true` in its souk.toml), a maker (seller) and a taker (buyer). The trade is set up
// and funded over the nodes' API and the chain's RPC, each party's output with its share (the escrow
// browser test drives those steps through the UI); both parties chat, with markup in the text. The buyer opens the dispute from its trade room;
// the arbitrator's Disputes screen shows it live with both parties' reasons and transcripts (as text);
// the arbitrator resolves it to the buyer through the confirmation dialog; the buyer's trade shows
// Resolved with the payout transaction, and once a block is mined the chain shows the payout on the
// buyer's address. Screenshots go to SOUK_ARTIFACTS as dispute-*.png (the Disputes list and detail, the
// dialog, the trade rooms and the arbitrator's Network screen with its chain backend).
// Env: SOUK_CLI_BIN, SOUK_UI_DIST, CHROMIUM, LITECOIND, SOUK_ARTIFACTS (as the escrow browser test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  api,
  awaitPeer,
  launchBrowser,
  newOffer,
  openUser as open,
  prepare,
  serveNodes,
  shot as save,
  step as runStep,
  tcpAddress,
  until,
} from './harness.mjs';
import { startLitecoind } from './regtest.mjs';

const souk = serveNodes('souk-dispute', 'dispute browser test passphrase');
const nodes = souk.nodes;
// The escrow watcher looks at the chain every second: chain steps follow the mined blocks at once.
const FAST_WATCH = '[trade]\nwatch_every_secs = 1\n';
let ltc, browser, arbitrator, maker, taker;

function startNode(name, { bootstrap, config = FAST_WATCH } = {}) {
  return souk.start(name, { market: 'LTC/EUR', bootstrap, extraArgs: ltc.soukArgs(), config });
}

before(async () => {
  prepare();
  ltc = await startLitecoind('souk-dispute');
  maker = await startNode('maker');
  const bootstrap = tcpAddress(maker);
  [arbitrator, taker] = await Promise.all([
    startNode('arbitrator', { bootstrap, config: `${FAST_WATCH}arbitrator = true\n` }),
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

const shot = (page, name) => save(page, `dispute-${name}`);
const step = (t, pages, body) =>
  runStep(t, { prefix: 'dispute', pages, nodes, more: () => (ltc ? [`litecoind:\n${ltc.logs()}`] : []) }, body);

const CHAIN_WAIT = 30_000;

/** A trade as `node` sees it, once `check` holds. */
function tradeWhen(node, id, what, check) {
  return until(`${node.name}: ${what}`, CHAIN_WAIT, async () => {
    const trade = await api(node, `/api/v1/trades/${id}`).catch(() => null);
    return trade && check(trade) ? trade : null;
  });
}

/** An LTC/EUR escrow trade of 1 LTC naming the arbitrator, funded on the chain; the maker sells. */
async function fundedTrade(marker) {
  const offer = await api(
    maker,
    '/api/v1/offers',
    newOffer({
      base: 'LTC',
      quote: 'EUR',
      price: '80',
      min: 50_000_000,
      max: 200_000_000,
      methods: ['SEPA'],
      arbitrators: [arbitrator.started.peer_id],
      terms: `${marker} SEPA only`,
    }),
  );
  await until('the offer in the taker’s book', CHAIN_WAIT, async () => {
    await api(taker, '/api/v1/markets/LTC/EUR/refresh', {});
    const book = await api(taker, '/api/v1/offers?base=LTC&quote=EUR');
    return book.some((e) => e.offer.id === offer.id);
  });
  const payout = await ltc.newAddress();
  const trade = await api(taker, '/api/v1/trades', { offer_id: offer.id, amount: 100_000_000, method: 'SEPA', payout });
  await tradeWhen(maker, trade.id, 'the take', (t) => t.state === 'Requested');
  await api(maker, `/api/v1/trades/${trade.id}/accept`, {});
  await tradeWhen(maker, trade.id, 'the agreement', (t) => t.state === 'Accepted');
  const refund = await ltc.newAddress();
  await api(maker, `/api/v1/trades/${trade.id}/address`, { address: refund });
  const funding = await tradeWhen(taker, trade.id, 'the escrow address', (t) => t.state === 'EscrowFunding');
  const sellerView = await tradeWhen(maker, trade.id, 'the escrow address', (t) => t.state === 'EscrowFunding');
  // Each party funds its own output, both nodes agreeing which is whose; the arbitrator shows the
  // seller's (amount and deposit).
  const escrow = funding.escrow.seller_escrow_address;
  const buyerEscrow = funding.escrow.buyer_escrow_address;
  assert.match(escrow, /^rltc1q/);
  assert.match(buyerEscrow, /^rltc1q/);
  assert.notEqual(escrow, buyerEscrow, 'the seller and the buyer fund different outputs');
  assert.equal(sellerView.escrow.seller_escrow_address, escrow);
  assert.equal(sellerView.escrow.buyer_escrow_address, buyerEscrow);
  assert.equal(sellerView.escrow.address, escrow, 'the seller sends to its own output');
  assert.equal(funding.escrow.address, buyerEscrow, 'the buyer sends to its own output');
  const txids = [await ltc.send(escrow, 1.15), await ltc.send(buyerEscrow, 0.15)].sort();
  await ltc.mine(1);
  for (const node of [maker, taker]) await tradeWhen(node, trade.id, 'the funding', (t) => t.state === 'EscrowFunded');
  return { id: trade.id, payout, refund, escrow, buyerEscrow, txids };
}

test('an arbitrator resolves a dispute through the UI and the chain pays the winner', async (t) => {
  const marker = `dispute-${Date.now()}`;
  const { id, payout, refund, escrow, buyerEscrow, txids } = await fundedTrade(marker);
  // Both parties chat; the buyer's text carries markup that must stay text everywhere.
  const hostile = `<img src=x onerror="window.__pwned=1">${marker}<script>window.__pwned=2</script>`;
  await api(taker, `/api/v1/trades/${id}/messages`, { text: `paid 80 EUR ${hostile}` });
  await api(maker, `/api/v1/trades/${id}/messages`, { text: 'nothing has arrived here' });
  await until('both messages delivered', CHAIN_WAIT, async () => {
    const log = await api(taker, `/api/v1/trades/${id}/messages`);
    return log.length === 2 && log.every((m) => m.delivered_at !== null);
  });

  const arbitratorUser = await open(browser, arbitrator);
  const takerUser = await open(browser, taker);
  const pageA = arbitratorUser.page;
  const pageT = takerUser.page;
  const pages = { arbitrator: pageA, taker: pageT };

  await step(t, pages, async () => {
    // The arbitrator's window has Disputes (its souk.toml says so); nothing to decide yet.
    await pageA.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    await pageA.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: /^Disputes/ }).click();
    await pageA.getByRole('heading', { level: 1, name: 'Disputes' }).waitFor();
    await pageA.getByText('No disputes', { exact: true }).waitFor();
    await shot(pageA, '01-arbitrator-no-disputes');
    // The taker's window has no Disputes section.
    await pageT.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    assert.equal(await pageT.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: /^Disputes/ }).count(), 0);

    // The buyer opens the dispute from its trade room, which shows the funding as the wallet sent it.
    await pageT.getByRole('button', { name: /^Trades/ }).click();
    await pageT.locator('.trade-row', { hasText: 'Escrow funded' }).getByRole('button', { name: /^Open trade/ }).click();
    await pageT.getByRole('heading', { level: 1, name: 'You buy LTC for EUR' }).waitFor();
    const shown = (await pageT.getByTestId('funding-txid').allTextContents()).map((x) => x.trim()).sort();
    assert.deepEqual(shown, txids, 'the room shows the funding transactions the wallet sent');
    // The buyer's room shows its own output, and both outputs full, in coins.
    assert.equal((await pageT.getByTestId('escrow-address').textContent()).trim(), buyerEscrow);
    await pageT.getByTestId('escrow-output-seller').filter({ hasText: /^Seller’s output: 1\.15 of 1\.15 LTC/ }).waitFor();
    await pageT.getByTestId('escrow-output-buyer').filter({ hasText: /^Buyer’s output: 0\.15 of 0\.15 LTC/ }).waitFor();
    await pageT.getByRole('button', { name: 'Open dispute…' }).click();
    await pageT.getByLabel('Why do you open a dispute?').fill(`I paid 80 EUR by SEPA (${marker}); the seller does not answer`);
    await shot(pageT, '02-taker-open-dispute');
    await pageT.getByRole('button', { name: 'Open the dispute' }).click();
    await pageT.getByTestId('trade-state').getByText('Disputed', { exact: true }).waitFor({ timeout: CHAIN_WAIT });

    // The arbitrator's list shows it live (no reload), with market, amounts, parties and who opened it.
    const row = pageA.locator('.dispute-row');
    await row.waitFor({ timeout: CHAIN_WAIT });
    await row.getByText('LTC/EUR').waitFor();
    await row.getByText('by the buyer').waitFor();
    assert.match(await row.textContent(), /1 LTC.*escrow 1\.3 LTC/);
    await pageA.getByTestId('nav-badge-disputes').filter({ hasText: /^1 open$/ }).waitFor();
    // Both parties' cases arrive (the seller's node sends its own as soon as it sees the dispute).
    await row.locator('.badge--trade').getByText('Open', { exact: true }).waitFor({ timeout: CHAIN_WAIT });
    await shot(pageA, '03-arbitrator-disputes-list');

    await row.getByRole('button', { name: /^Open dispute/ }).click();
    await pageA.getByRole('heading', { level: 1, name: 'Dispute: LTC/EUR, 1 LTC' }).waitFor();
    const buyerCase = pageA.getByTestId('case-buyer');
    const sellerCase = pageA.getByTestId('case-seller');
    await buyerCase.getByText(`I paid 80 EUR by SEPA (${marker}); the seller does not answer`).waitFor();
    await sellerCase.getByTestId('reason-seller').waitFor();
    // Both transcripts, the markup shown as text and never run.
    await buyerCase.locator('.transcript-text', { hasText: `paid 80 EUR ${hostile}` }).waitFor();
    await sellerCase.locator('.transcript-text', { hasText: `paid 80 EUR ${hostile}` }).waitFor();
    await sellerCase.locator('.transcript-text', { hasText: 'nothing has arrived here' }).waitFor();
    assert.equal(await pageA.locator('.dispute-cases img, .dispute-cases script').count(), 0);
    assert.equal(await pageA.evaluate(() => globalThis.__pwned), undefined);
    // The arbitrator's view names the seller's output (amount and the seller's deposit).
    assert.equal((await pageA.getByTestId('dispute-escrow-address').textContent()).trim(), escrow);
    await shot(pageA, '04-arbitrator-dispute-detail');
    await buyerCase.scrollIntoViewIfNeeded();
    await shot(pageA, '04-arbitrator-dispute-cases');
    await pageA.getByRole('button', { name: 'Resolve to buyer…' }).scrollIntoViewIfNeeded();

    // Resolve to the buyer: the dialog says what goes where.
    await pageA.getByRole('button', { name: 'Resolve to buyer…' }).click();
    const dialog = pageA.getByRole('dialog', { name: 'Resolve to the buyer?' });
    await dialog.waitFor();
    const summary = await dialog.getByTestId('resolve-summary').textContent();
    assert.ok(summary.includes(`is paid to the buyer’s address ${payout}`), summary);
    assert.ok(summary.includes('1.3 LTC (1 LTC traded'), summary);
    await shot(pageA, '05-arbitrator-resolve-dialog');
    await dialog.getByRole('button', { name: 'Pay the escrow to the buyer' }).click();
    await pageA.getByTestId('dispute-decision').getByText('Resolved to the buyer').waitFor({ timeout: CHAIN_WAIT });
    assert.equal(await pageA.getByRole('button', { name: /^Resolve to/ }).count(), 0, 'the buttons are gone');
    await shot(pageA, '06-arbitrator-resolved');

    // The winner's node co-signs and broadcasts: its room shows Resolved and the payout transaction.
    await pageT.getByTestId('trade-state').getByText('Resolved', { exact: true }).waitFor({ timeout: CHAIN_WAIT });
    const txid = (await pageT.getByTestId('release-txid').textContent()).trim();
    assert.match(txid, /^[0-9a-f]{64}$/);
    const stopped = pageT.getByTestId('timeline').locator('[data-status="stopped"]');
    assert.equal(await stopped.getAttribute('data-step'), 'paid', 'the trade stopped where the dispute was opened');
    assert.match(await pageT.getByTestId('step-time-paid').textContent(), /\d{2}:\d{2}/);
    await shot(pageT, '07-taker-resolved');
    await tradeWhen(maker, id, 'the loser’s Resolved', (x) => x.state === 'Resolved');

    // The chain is the judge: once mined, the buyer's address holds the whole escrow less the fee.
    await ltc.mine(1);
    const got = await until('the payout confirmed', CHAIN_WAIT, async () => {
      const coins = await ltc.received(payout, 1);
      return coins > 0 ? coins : null;
    });
    assert.ok(got < 1.3 && got > 1.299, `the buyer got the escrow less the fee: ${got}`);
    assert.equal(await ltc.received(refund, 0), 0, 'the seller got nothing back');
    // The payout pays the test wallet's address, so its wallet knows the transaction (no -txindex).
    const tx = await ltc.rpc('gettransaction', [txid], { wallet: true });
    assert.ok(tx.confirmations >= 1, 'the payout shown in the room is the one mined');

    // The arbitrator's Network screen: its chain backend connected at the chain's tip.
    await pageA.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Network' }).click();
    const tip = await ltc.rpc('getblockcount');
    await pageA.getByTestId('chain-health').getByText('Connected').waitFor({ timeout: CHAIN_WAIT });
    await pageA.getByTestId('chain-tip').getByText(String(tip), { exact: true }).waitFor({ timeout: CHAIN_WAIT });
    await pageA.getByTestId('reach').waitFor();
    await pageA.getByTestId('chain-status').scrollIntoViewIfNeeded();
    await shot(pageA, '08-arbitrator-network');

    assert.deepEqual(arbitratorUser.problems, [], 'the arbitrator’s page logged errors');
    assert.deepEqual(takerUser.problems, [], 'the taker’s page logged errors');
  });
});
