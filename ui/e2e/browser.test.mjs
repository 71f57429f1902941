// Browser test: two real `souk serve` nodes on loopback (temp data dirs, OS-chosen ports, no mDNS, no
// price feed, the second bootstrapping from the first), each driven in Debian's Chromium through
// playwright-core. User A posts an offer through the form; user B's Market shows it live, without a
// reload; A withdraws it and it leaves B's book live too. Then a trade: B takes A's next offer through
// the take form, A sees the take arrive live and counters, B accepts the counter, and they chat both
// ways, each seeing every message in order with its delivered mark. Then Settings: A adds a payment
// account and switches to the dark theme, and the Market's "only my payment methods" hides B's offer
// paid another way. Last, a third node whose only bootstrap peer is unreachable: its page shows the
// startup progress with that failure, and continues offline. And a fourth user with only a keyboard:
// every section and the offer form are reached with Tab and Enter, and the focus always shows. Last, a
// market side of 220 offers read to its end: it scrolls in its own box, only the rows in view drawn.
// Screenshots of every screen go to SOUK_ARTIFACTS, each checked for sideways scrolling and by axe-core.
// Env: SOUK_CLI_BIN (the `souk` binary), SOUK_UI_DIST (built UI, default ui/dist), CHROMIUM
// (default /usr/bin/chromium), SOUK_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import {
  api,
  awaitPeer,
  newOffer,
  launchBrowser,
  openUser as open,
  peerName,
  prepare,
  serveNodes,
  shot,
  step as runStep,
  tcpAddress,
  until,
} from './harness.mjs';

const souk = serveNodes('souk-browser', 'browser test passphrase');
const nodes = souk.nodes;
let browser;

before(async () => {
  prepare();
  const a = await souk.start('a', { market: 'BTC/EUR' });
  const b = await souk.start('b', { market: 'BTC/EUR', bootstrap: tcpAddress(a) });
  await awaitPeer(b, 'A and B to connect');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await souk.stopAll();
});

const openUser = (node) => open(browser, node);

/** Runs a step; on failure saves a screenshot of every page and prints the nodes' output. */
const step = (t, pages, body) => runStep(t, { prefix: 'browser', pages, nodes }, body);

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
    // B saves the market's filters as a search: a new offer like it will be announced.
    await pageB.getByLabel('Save these filters as').fill('Any BTC for EUR');
    await pageB.getByRole('button', { name: 'Save search' }).click();
    await pageB.getByText('Saved “Any BTC for EUR”', { exact: false }).waitFor();
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
    // The maker shows with the name and avatar every node gives its PeerId, and B's saved search
    // announced the offer under the same name.
    const makerName = peerName(a.started.peer_id);
    assert.equal((await row.getByTestId('peer-name').textContent())?.trim(), makerName);
    assert.equal(await row.getByTestId('peer-avatar').count(), 1);
    const match = pageB.getByTestId('offer-match');
    await match.getByText(`New offer for “Any BTC for EUR”:`, { exact: false }).waitFor({ timeout: 15_000 });
    assert.match((await match.textContent()) ?? '', new RegExp(`${makerName} sells 0\\.01–0\\.25 BTC for EUR`));
    await shot(pageB, 'browser-saved-search-match');
    // Removed again, so the later scenarios' offers are not announced.
    await match.getByRole('button', { name: 'Dismiss the new offer for Any BTC for EUR' }).click();
    await pageB.getByRole('button', { name: 'Remove saved search Any BTC for EUR' }).click();
    await pageB.getByText('Removed “Any BTC for EUR”.').waitFor();

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

/** The chat messages a page shows, in order: [text, mark] (mark only on outgoing messages). */
async function chatOf(page) {
  return page.getByTestId('chat-message').evaluateAll((items) =>
    items.map((li) => [li.querySelector('.chat-body')?.textContent ?? '', li.getAttribute('data-mark')]),
  );
}

test('B takes A’s offer through the form; A counters live, B accepts; they chat both ways', async (t) => {
  const [a, b] = nodes;
  const userA = await openUser(a);
  const userB = await openUser(b);
  const pages = { a: userA.page, b: userB.page };
  const pageA = userA.page;
  const pageB = userB.page;
  const marker = `trade-${Date.now()}`;

  await step(t, pages, async () => {
    // A's offer, posted through the API (the form is covered above); A waits on the Trades list.
    await api(
      a,
      '/api/v1/offers',
      newOffer({
        base: 'BTC',
        quote: 'EUR',
        price: '60000',
        min: 1_000_000,
        max: 20_000_000,
        methods: ['SEPA'],
        terms: `${marker} SEPA instant only`,
      }),
    );
    await pageA.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    await pageA.getByRole('button', { name: /^Trades/ }).click();
    await pageA.getByText('No trades yet').waitFor();
    await pageA.evaluate(() => {
      globalThis.__soukNoReload = true;
    });

    // B: the offer arrives live; the take form checks the amount against the offer's range.
    const row = pageB.locator('.book-row', { hasText: marker });
    // Live delivery is asserted by the test above; here a missed gossip push (seen once in a dozen
    // runs on a loaded machine) falls back to what a user would do: ask the makers with Refresh.
    if (!(await row.waitFor({ timeout: 10_000 }).then(() => true, () => false))) {
      t.diagnostic('the offer did not reach B over gossip within 10 s; asking the makers with Refresh');
      await pageB.getByRole('button', { name: 'Refresh' }).click();
      await row.waitFor({ timeout: 15_000 });
    }
    await row.getByRole('button', { name: /^Take offer: buy BTC at 60,000 EUR/ }).click();
    await pageB.getByRole('heading', { name: 'Take offer: you buy BTC' }).waitFor();
    const amount = pageB.getByLabel('Amount (BTC)');
    await amount.fill('0.5');
    await amount.blur();
    await pageB.getByText('The offer takes between 0.01 and 0.2 BTC.').waitFor();
    await shot(pageB, 'browser-take-offer-errors');
    await amount.fill('0.05');
    await pageB.getByLabel('Payout details').fill('bc1qtakerpayoutaddress');
    await shot(pageB, 'browser-take-offer');
    await pageB.getByRole('button', { name: 'Send take request' }).click();

    // B lands in the trade room, waiting for the maker.
    await pageB.getByRole('heading', { level: 1, name: 'You buy BTC for EUR' }).waitFor({ timeout: 20_000 });
    await pageB.getByTestId('trade-next').getByText('waiting for the maker to answer the take').waitFor();

    // A: the take shows up live on the Trades list, A's turn, with the amount B asked for.
    const tradeRow = pageA.locator('.trade-row');
    await tradeRow.waitFor({ timeout: 15_000 });
    await tradeRow.getByText('Your turn').waitFor();
    await tradeRow.getByText('0.05 BTC').waitFor();
    await tradeRow.getByText('Take requested').waitFor();
    assert.equal(await pageA.evaluate(() => globalThis.__soukNoReload), true, 'A’s page reloaded');
    await shot(pageA, 'browser-trades-list-take');

    // A counters with a smaller amount.
    await tradeRow.getByRole('button', { name: /^Open trade/ }).click();
    await pageA.getByRole('heading', { level: 1, name: 'You sell BTC for EUR' }).waitFor();
    await pageA.getByRole('button', { name: 'Counter…' }).click();
    await pageA.getByLabel('New amount (BTC)').fill('0.04');
    await pageA.getByRole('button', { name: 'Send counter' }).click();
    await pageA.getByTestId('trade-state').getByText('Countered').waitFor();

    // B sees the counter live and accepts it; both rooms show the agreed terms.
    await pageB.getByTestId('trade-state').getByText('Countered').waitFor({ timeout: 15_000 });
    await pageB.getByTestId('terms-amount').getByText('0.04 BTC').waitFor();
    await shot(pageB, 'browser-trade-room-counter');
    await pageB.getByRole('button', { name: 'Accept counter' }).click();
    await pageB.getByTestId('trade-state').getByText('Accepted').waitFor();
    await pageA.getByTestId('trade-state').getByText('Accepted').waitFor({ timeout: 15_000 });
    await pageA.getByTestId('terms-amount').getByText('0.04 BTC').waitFor();

    // Chat both ways; markup is text.
    const fromA = 'Hello B, send SEPA to the IBAN in my terms <b>thanks</b>';
    const fromB = 'Paying now <script>alert(1)</script>';
    const fromA2 = 'Got it, will confirm when it arrives.';
    const send = async (page, text) => {
      const box = page.getByLabel('Message', { exact: true });
      await box.fill(text);
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await until('the message box to clear', 10_000, async () => (await box.inputValue()) === '');
    };
    await send(pageA, fromA);
    await until('B to see A’s message', 15_000, async () => (await chatOf(pageB)).length === 1);
    await send(pageB, fromB);
    await until('A to see B’s message', 15_000, async () => (await chatOf(pageA)).length === 2);
    await send(pageA, fromA2);
    const delivered = (mark) => mark === 'delivered' || mark === 'read';
    const expectChat = async (page, outgoing) =>
      until('every message in order with its delivered mark', 15_000, async () => {
        const chat = await chatOf(page);
        const texts = chat.map(([text]) => text);
        if (JSON.stringify(texts) !== JSON.stringify([fromA, fromB, fromA2])) return false;
        return chat.every(([, mark], i) => (outgoing[i] ? delivered(mark) : mark === null));
      });
    await expectChat(pageA, [true, false, true]);
    await expectChat(pageB, [false, true, false]);
    // Each saw the other's messages, so each side's are marked read in time.
    await until('A’s first message to be marked read', 15_000, async () => (await chatOf(pageA))[0]?.[1] === 'read');
    assert.equal(await pageB.getByTestId('chat-log').locator('b, script').count(), 0, 'chat markup became elements');
    await shot(pageA, 'browser-trade-room-maker');
    await shot(pageB, 'browser-trade-room-taker');

    // Both Trades lists show the trade as accepted, with the next step in words.
    for (const page of [pageA, pageB]) {
      await page.getByRole('button', { name: /^Trades/ }).click();
      await page.locator('.trade-row').getByText('Accepted').waitFor();
    }
    await pageB.locator('.trade-row').getByText('Your turn').waitFor();
    await shot(pageA, 'browser-trades-list-maker');
    await shot(pageB, 'browser-trades-list-taker');
    assert.equal(await pageA.evaluate(() => globalThis.__soukNoReload), true, 'A’s page reloaded');

    assert.deepEqual(userA.problems, [], 'A’s page logged errors');
    assert.deepEqual(userB.problems, [], 'B’s page logged errors');
  });
});

/** Waits for a book row on `page`, asking the makers with Refresh if gossip has not brought it. */
async function awaitRow(t, page, row) {
  if (await row.waitFor({ timeout: 10_000 }).then(() => true, () => false)) return;
  t.diagnostic('an offer did not arrive over gossip within 10 s; asking the makers with Refresh');
  await page.getByRole('button', { name: 'Refresh' }).click();
  await row.waitFor({ timeout: 15_000 });
}

test('A adds a payment account and goes dark; “only my payment methods” keeps the offers A can pay', async (t) => {
  const [a, b] = nodes;
  const userA = await openUser(a);
  const page = userA.page;
  const marker = `methods-${Date.now()}`;

  await step(t, { a: page }, async () => {
    // B sells twice: once for SEPA, once for ZELLE.
    for (const [price, method] of [['60500', 'SEPA'], ['60600', 'ZELLE']]) {
      await api(
        b,
        '/api/v1/offers',
        newOffer({
          base: 'BTC',
          quote: 'EUR',
          price,
          min: 1_000_000,
          max: 10_000_000,
          methods: [method],
          terms: `${marker} ${method}`,
        }),
      );
    }
    await page.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    const sepaRow = page.locator('.book-row', { hasText: `${marker} SEPA` });
    const zelleRow = page.locator('.book-row', { hasText: `${marker} ZELLE` });
    await awaitRow(t, page, sepaRow);
    await awaitRow(t, page, zelleRow);
    // A never traded with B: the maker's history says so, and says it is A's own.
    await sepaRow.getByTestId('maker-history').getByText('New to you').waitFor();

    // No account yet: the filter is off, with a way to Settings.
    const only = page.getByRole('checkbox', { name: 'Only my payment methods' });
    assert.equal(await only.isDisabled(), true, 'the filter works without accounts');
    await page.getByRole('button', { name: 'Add one in Settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();

    // A payment account, checked field by field, then saved in the node.
    const accounts = page.getByRole('region', { name: 'Payment accounts' });
    await accounts.getByRole('button', { name: 'Add payment account' }).click();
    await accounts.getByRole('button', { name: 'Save account' }).click();
    await accounts.getByText('Name the payment method, e.g. SEPA.').waitFor();
    await accounts.getByLabel('Payment method').fill('sepa');
    await accounts.getByLabel('Name', { exact: true }).fill('Main bank');
    await accounts.getByLabel('Details').fill('DE89 3704 0044 0532 0130 00');
    await accounts.getByRole('button', { name: 'Save account' }).click();
    await accounts.getByText('Main bank added.').waitFor();
    const saved = await api(a, '/api/v1/preferences');
    assert.deepEqual(
      saved.payment_accounts.map((x) => [x.method, x.label]),
      [['SEPA', 'Main bank']],
    );

    // Dark, at once: the page's own background turns dark.
    const background = () => page.evaluate(() => globalThis.getComputedStyle(globalThis.document.body).backgroundColor);
    const light = await background();
    await page.getByRole('region', { name: 'Appearance' }).getByRole('radio', { name: /Dark/ }).check();
    await until('the dark theme to apply', 5_000, async () => (await background()) !== light);
    assert.equal(await background(), 'rgb(20, 21, 19)');
    await page.getByText('Theme saved.').waitFor();
    assert.equal((await api(a, '/api/v1/preferences')).theme, 'dark');
    await shot(page, 'browser-settings-dark');

    // The Market, dark, keeps only the offer A can pay.
    await page.getByRole('button', { name: 'Market' }).click();
    await sepaRow.waitFor();
    await only.check();
    await zelleRow.waitFor({ state: 'detached' });
    await sepaRow.waitFor();
    await shot(page, 'browser-market-dark');
    await only.uncheck();
    await zelleRow.waitFor();

    // The choice is the node's: a reload comes back dark.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    await until('the theme after a reload', 5_000, async () =>
      page.evaluate(() => globalThis.document.documentElement.dataset.theme === 'dark'),
    );
    assert.deepEqual(userA.problems, [], 'A’s page logged errors');
  });
});

/** A loopback TCP port nobody listens on (bound by the OS, then released). */
function closedPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

test('a node whose bootstrap peer is unreachable shows the startup progress with the failure', async (t) => {
  const [a] = nodes;
  const nobody = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${a.started.peer_id}`;
  const c = await souk.start('c', { market: 'BTC/EUR', bootstrap: nobody });
  const userC = await openUser(c);
  const page = userC.page;

  await step(t, { c: page }, async () => {
    // The node is up; its start says which phase failed and why, and what still works.
    const view = page.getByTestId('startup-view');
    await view.getByRole('heading', { name: 'Starting Souk' }).waitFor();
    const bootstrap = view.locator('[data-phase="bootstrap"]');
    assert.equal(await bootstrap.getAttribute('data-state'), 'failed');
    await bootstrap.getByText(`Cannot dial ${nobody}: connection refused`, { exact: false }).waitFor();
    for (const phase of ['keystore', 'database', 'network', 'book']) {
      assert.equal(await view.locator(`[data-phase="${phase}"]`).getAttribute('data-state'), 'done', phase);
    }
    await view.locator('[data-phase="book"]').getByText("from this computer's cache").waitFor();
    await shot(page, 'browser-startup-failed-bootstrap');

    // A retry runs the network phases again (and fails the same way); continuing offline opens the app.
    await view.getByRole('button', { name: 'Retry' }).click();
    await view.getByRole('group', { name: 'Start could not finish' }).waitFor();
    await view.getByRole('button', { name: 'Continue offline' }).click();
    await page.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    assert.deepEqual(userC.problems, [], 'C’s page logged errors');
  });
});

/**
 * What has the keyboard focus: its accessible name as a person hears it, and whether it shows it has
 * the focus (an outline or a ring that is not transparent).
 */
function focused(page) {
  return page.evaluate(() => {
    const el = globalThis.document.activeElement;
    if (!el || el === globalThis.document.body) return null;
    const style = globalThis.getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const ring = style.boxShadow !== 'none' && !style.boxShadow.startsWith('rgba(0, 0, 0, 0)');
    const name = (
      el.getAttribute('aria-label') ??
      el.labels?.[0]?.innerText ??
      (el.innerText || el.getAttribute('placeholder') || '')
    ).trim();
    return { tag: el.tagName.toLowerCase(), name, visible: outline || ring };
  });
}

/** Presses Tab until the focus is on what `wanted` accepts, checking on the way that focus always shows. */
async function tabTo(page, what, wanted, max = 40) {
  const seen = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (!now) continue;
    seen.push(now.name);
    assert.ok(now.visible, `the focus on ${now.tag} “${now.name}” cannot be seen`);
    if (wanted(now)) return now;
  }
  throw new Error(`Tab never reached ${what} (went through: ${seen.join(' | ')})`);
}

test('the keyboard alone reaches every section and posts an offer, with the focus always visible', async (t) => {
  const k = await souk.start('k', { market: 'BTC/EUR' });
  const userK = await openUser(k);
  const page = userK.page;
  const marker = `keys-${Date.now()}`;

  await step(t, { k: page }, async () => {
    await page.getByRole('heading', { level: 1, name: 'Market' }).waitFor();
    // The first stop skips the navigation.
    const skip = await tabTo(page, 'the skip link', () => true, 1);
    assert.equal(skip.name, 'Skip to content');

    // Every section is a Tab and an Enter away.
    for (const section of ['My offers', 'Trades', 'Network', 'Settings', 'Market', 'Post offer']) {
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      await page.locator('body').focus();
      await tabTo(page, `the ${section} section`, (f) => f.tag === 'button' && f.name.startsWith(section));
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: section }).waitFor();
    }

    // The offer form, typed field by field.
    const fields = [
      ['Price (EUR per BTC)', '59000'],
      ['Minimum amount (BTC)', '0.02'],
      ['Maximum amount (BTC)', '0.2'],
      ['Payment methods', 'SEPA'],
      ['Terms', marker],
    ];
    for (const [label, value] of fields) {
      await tabTo(page, `the field ${label}`, (f) => f.name.startsWith(label));
      await page.keyboard.type(value);
    }
    await tabTo(page, 'the Publish button', (f) => f.tag === 'button' && f.name === 'Publish offer');
    await shot(page, 'browser-keyboard-post-offer');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'My offers' }).waitFor();
    await page.locator('.offer-card', { hasText: marker }).getByText('Live').waitFor();
    assert.deepEqual(userK.problems, [], 'K’s page logged errors');
  });
});

test('a long side of the book scrolls in its own box, drawing only the rows in view', async (t) => {
  const maker = await souk.start('m', { market: 'BTC/EUR' });
  const viewer = await souk.start('v', { market: 'BTC/EUR', bootstrap: tcpAddress(maker) });
  await awaitPeer(viewer, 'the maker and the viewer to connect');
  const count = 220;
  // The maker posts 220 sells (fixed prices 50,000 to 50,219 EUR), ten at a time.
  for (let i = 0; i < count; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, (_, j) =>
        api(
          maker,
          '/api/v1/offers',
          newOffer({ base: 'BTC', quote: 'EUR', price: String(50_000 + i + j), min: 100_000, max: 1_000_000, methods: ['SEPA'] }),
        ),
      ),
    );
  }
  await until(`the viewer's book to hold all ${count} offers`, 60_000, async () => {
    const page = await api(viewer, '/api/v1/book?base=BTC&quote=EUR&side=sell&limit=1');
    return page.total === count;
  });
  const userV = await openUser(viewer);
  const page = userV.page;

  await step(t, { v: page }, async () => {
    const sells = page.getByRole('table', { name: /Sell offers/ });
    await sells.locator('.book-row').first().waitFor();
    // Read page after page until the whole side is there.
    const more = page.getByRole('button', { name: 'Show more sell offers' });
    while ((await more.count()) > 0) {
      await more.click();
      await page.waitForFunction(() => !globalThis.document.querySelector('.book-more[disabled]'));
    }
    const box = page.getByTestId('book-rows').first();
    await until('the sell side to be windowed', 10_000, async () =>
      (await box.getAttribute('class'))?.includes('book-rows--windowed'),
    );
    assert.equal(await sells.getAttribute('aria-rowcount'), String(count + 1));
    const drawn = await sells.locator('.book-row').count();
    assert.ok(drawn < 100, `${drawn} of ${count} rows drawn`);
    await sells.locator('[data-offer-id]').first().getByText('50,000 EUR').waitFor();
    await shot(page, 'browser-market-windowed-top');

    // Scrolled to the end (as a user drags the bar down: again while rows drawn on the way are measured):
    // the dearest offer is in view, the cheapest no longer drawn, the header stays.
    await until('the end of the box', 10_000, async () =>
      box.evaluate((el) => {
        const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 1;
        el.scrollTop = el.scrollHeight;
        return atEnd;
      }),
    );
    const last = sells.locator('.book-row', { hasText: '50,219 EUR' });
    await last.waitFor({ state: 'visible' });
    assert.equal(await sells.locator('.book-row', { hasText: '50,000 EUR' }).count(), 0);
    const boxTop = (await box.boundingBox())?.y ?? NaN;
    const headTop = (await sells.locator('thead th').first().boundingBox())?.y ?? NaN;
    assert.ok(Math.abs(headTop - boxTop) < 2, `the header stays at the top of the box (${headTop} vs ${boxTop})`);
    const lastBox = await last.boundingBox();
    const frame = await box.boundingBox();
    const metrics = await box.evaluate((el) => [el.scrollTop, el.scrollHeight, el.clientHeight]);
    assert.ok(
      lastBox && frame && lastBox.y + lastBox.height <= frame.y + frame.height + 1,
      `the last row is inside the box: row ${JSON.stringify(lastBox)}, box ${JSON.stringify(frame)}, scroll ${metrics.join('/')}`,
    );
    await shot(page, 'browser-market-windowed-end');
    assert.deepEqual(userV.problems, [], 'the viewer’s page logged errors');
  });
});
