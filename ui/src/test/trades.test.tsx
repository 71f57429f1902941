import { act, cleanup, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { EscrowView, TradeInfo } from '../bindings';
import { FAKE_PEER_ID, FakeBackend, OTHER_PEER_ID, SELLER_PEER_ID, fakeEntry, fakeMessage, fakeOffer, fakeTrade } from './fakeBackend';
import { formatStepTime } from '../screens/trades/format';
import { renderApp } from './renderApp';

async function openApp(backend = new FakeBackend({ state: 'unlocked' })) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  return { nav, backend, ...rendered };
}

async function openTrades(backend: FakeBackend) {
  const app = await openApp(backend);
  await app.user.click(within(app.nav).getByRole('button', { name: /^Trades/ }));
  return app;
}

async function openRoom(backend: FakeBackend) {
  const app = await openTrades(backend);
  await app.user.click(await screen.findByRole('button', { name: /^Open trade/ }));
  await screen.findByRole('heading', { level: 1, name: /You (buy|sell)/ });
  return app;
}

describe('Take offer', () => {
  it('takes someone’s offer from the Market with the amount checked next to its field', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 'theirs', price: { fixed: '61000' }, payment_methods: ['SEPA', 'REVOLUT'], min_amount: 1_000_000, max_amount: 25_000_000 }),
      fakeEntry({ id: 'mine', maker: FAKE_PEER_ID, price: { fixed: '62000' } }),
    ];
    const { user } = await openApp(backend);
    await screen.findByText('61,000 EUR');
    // Only others' offers can be taken.
    expect(screen.getAllByRole('button', { name: /^Take offer/ })).toHaveLength(1);
    await user.click(screen.getByRole('button', { name: /^Take offer: buy BTC at 61,000 EUR/ }));
    await screen.findByRole('heading', { name: 'Take offer: you buy BTC' });

    await user.click(screen.getByRole('button', { name: 'Send take request' }));
    const amount = screen.getByLabelText('Amount (BTC)');
    expect(amount).toHaveAccessibleDescription(/Enter an amount between 0.01 and 0.25 BTC/);
    expect(amount).toHaveFocus();
    expect(screen.getByLabelText('Payment method')).toHaveAccessibleDescription('Choose how you will pay or be paid.');
    await user.type(amount, '0.5');
    expect(amount).toHaveAccessibleDescription(/The offer takes between 0.01 and 0.25 BTC/);
    expect(backend.callsOf('takeOffer')).toHaveLength(0);

    await user.clear(amount);
    await user.type(amount, '0.05');
    await user.selectOptions(screen.getByLabelText('Payment method'), 'REVOLUT');
    await user.type(screen.getByLabelText('Payout details'), 'bc1qexample');
    await user.click(screen.getByRole('button', { name: 'Send take request' }));

    // The trade room opens on the new trade.
    await screen.findByRole('heading', { level: 1, name: 'You buy BTC for EUR' });
    expect(backend.callsOf('takeOffer')).toEqual([
      [{ offerId: 'theirs', base: 'BTC', amount: 5_000_000, method: 'REVOLUT', payout: 'bc1qexample' }],
    ]);
    expect(screen.getByTestId('trade-next')).toHaveTextContent('waiting for the maker to answer the take');
    expect(screen.getByTestId('terms-amount')).toHaveTextContent('0.05 BTC');
  });

  it('shows the maker’s refusal in its own words', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [fakeEntry({ id: 'theirs' })];
    backend.refuseTakes = 'the offer has too many open takes';
    const { user } = await openApp(backend);
    await user.click(await screen.findByRole('button', { name: /^Take offer/ }));
    await user.type(screen.getByLabelText('Amount (BTC)'), '0.05');
    await user.click(screen.getByRole('button', { name: 'Send take request' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The maker refused the take: the offer has too many open takes',
    );
    // The form stays as typed, to try again or go back.
    expect(screen.getByLabelText('Amount (BTC)')).toHaveValue('0.05');
    await user.click(screen.getByRole('button', { name: 'Back to the market' }));
    await screen.findByRole('table', { name: /Sell offers/ });
  });
});

describe('Trades list', () => {
  it('has an empty state', async () => {
    await openTrades(new FakeBackend({ state: 'unlocked' }));
    expect(await screen.findByText('No trades yet')).toBeInTheDocument();
  });

  it('has an error state with a retry', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const { user } = await openTrades(backend);
    await screen.findByText('No trades yet');
    // The node's stream reconnected and reading the trades again fails.
    backend.failNext.trades = 'storage';
    act(() => backend.emit({ kind: 'resync' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Souk could not read or write its data.');
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('No trades yet')).toBeInTheDocument();
  });

  it('lists state, role, market, amount, next step and unread count, and updates live', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const trade = fakeTrade({ id: 't1', unread: 2 });
    backend.tradeList = [trade];
    const { nav } = await openTrades(backend);
    const row = (await screen.findByTestId('trade-list')).querySelector('[data-trade-id="t1"]') as HTMLElement;
    expect(row).toHaveTextContent('You sell BTC for EUR');
    expect(row).toHaveTextContent('Maker');
    expect(row).toHaveTextContent('0.05 BTC');
    expect(row).toHaveTextContent('Take requested');
    expect(row).toHaveTextContent('Your turn');
    expect(row).toHaveTextContent('accept, counter or reject the take');
    expect(within(row).getByLabelText('2 unread messages')).toHaveTextContent('2');
    expect(within(nav).getByTestId('nav-badge-trades')).toHaveTextContent('2');

    // A take arriving live joins the list; an update changes its row in place.
    const taken = fakeTrade({ id: 't2', offer: fakeOffer({ maker: FAKE_PEER_ID, side: 'buy' }) });
    act(() => backend.emit({ kind: 'take_requested', trade: taken }));
    expect(await screen.findByText('You buy BTC for EUR')).toBeInTheDocument();
    act(() => backend.emit({ kind: 'trade_updated', trade: { ...trade, state: 'Accepted', waiting_for: null, next_step: 'waiting for the buyer’s payment', updated_at: trade.updated_at + 1 } }));
    await waitFor(() => expect(row).toHaveTextContent('Accepted'));
    expect(row).not.toHaveTextContent('Your turn');
    const rows = within(screen.getByTestId('trade-list')).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.getAttribute('data-trade-id'))).toEqual(['t2', 't1']);
  });
});

describe('Trade room', () => {
  it('offers the maker accept, counter and reject, and only those', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const trade = fakeTrade({ id: 't1' });
    backend.tradeList = [trade];
    const { user } = await openRoom(backend);
    const answer = screen.getByRole('region', { name: 'Your answer' });
    expect(within(answer).getAllByRole('button').map((b) => b.textContent)).toEqual(['Accept', 'Counter…', 'Reject…']);
    expect(screen.queryByRole('region', { name: 'Your next step' })).toBeNull();

    await user.click(within(answer).getByRole('button', { name: 'Counter…' }));
    expect(screen.getByLabelText('New amount (BTC)')).toHaveFocus();
    await user.click(screen.getByRole('button', { name: 'Send counter' }));
    expect(screen.getByLabelText('New amount (BTC)')).toHaveAccessibleDescription(/Propose a new amount, a new price, or both/);
    await user.type(screen.getByLabelText('New price (EUR per BTC)'), '60500');
    await user.click(screen.getByRole('button', { name: 'Send counter' }));
    await waitFor(() => expect(screen.getByTestId('trade-state')).toHaveTextContent('Countered'));
    expect(backend.callsOf('answerTrade')).toEqual([['t1', { kind: 'counter', amount: null, price: '60500' }]]);
    // Now it is the taker's turn: the maker has nothing to answer.
    expect(screen.queryByRole('region', { name: 'Your answer' })).toBeNull();
  });

  it('lets the taker accept a counter', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const trade = fakeTrade({ id: 't1', role: 'taker', state: 'Countered', waiting_for: 'taker', next_step: 'accept or reject the counter' });
    backend.tradeList = [trade];
    const { user } = await openRoom(backend);
    const answer = screen.getByRole('region', { name: 'Your answer' });
    expect(within(answer).getAllByRole('button').map((b) => b.textContent)).toEqual(['Accept counter', 'Reject…']);
    await user.click(within(answer).getByRole('button', { name: 'Accept counter' }));
    await waitFor(() => expect(screen.getByTestId('trade-state')).toHaveTextContent('Accepted'));
    // The buyer (taker of a sell offer) may now mark the payment sent, or cancel.
    const next = screen.getByRole('region', { name: 'Your next step' });
    expect(within(next).getAllByRole('button').map((b) => b.textContent)).toEqual(['Payment sent…', 'Cancel trade…']);
  });

  it('shows chat text with markup as text, never as HTML', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const trade = fakeTrade({ id: 't1', state: 'Accepted', waiting_for: null });
    backend.tradeList = [trade];
    const body = '<script>window.chatPwned = true</script><b>bold</b> <img src=x onerror="window.chatPwned=1">';
    backend.chats.t1 = [fakeMessage({ trade_id: 't1', body })];
    await openRoom(backend);
    const message = await screen.findByTestId('chat-message');
    const text = message.querySelector('.chat-body');
    expect(text?.textContent).toBe(body);
    expect(message.querySelector('script, b, img')).toBeNull();
    expect((window as unknown as Record<string, unknown>).chatPwned).toBeUndefined();
  });

  it('sends messages (never blank), marks them delivered and read, and marks incoming ones read when shown', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const trade = fakeTrade({ id: 't1', state: 'Accepted', waiting_for: null, unread: 1 });
    backend.tradeList = [trade];
    backend.chats.t1 = [fakeMessage({ id: 'in-1', trade_id: 't1', body: 'hi there', sent_at: 1 })];
    const { user, nav } = await openTrades(backend);
    expect(within(nav).getByTestId('nav-badge-trades')).toHaveTextContent('1');
    await user.click(await screen.findByRole('button', { name: /^Open trade/ }));
    await screen.findByText('hi there');
    await waitFor(() => expect(backend.callsOf('markRead')).toEqual([['t1']]));
    await waitFor(() => expect(within(nav).queryByTestId('nav-badge-trades')).toBeNull());

    const box = screen.getByLabelText('Message');
    const send = screen.getByRole('button', { name: 'Send' });
    expect(send).toBeDisabled();
    await user.type(box, '   ');
    expect(send).toBeDisabled();
    await user.clear(box);
    await user.type(box, 'paying now{Enter}');
    const mine = await screen.findByText('paying now');
    expect(box).toHaveValue('');
    expect(backend.callsOf('sendChat')).toEqual([['t1', 'paying now']]);
    const bubble = mine.closest('li') as HTMLElement;
    expect(bubble).toHaveAttribute('data-mark', 'sending');
    const seq = backend.chats.t1?.at(-1)?.seq ?? 0;
    act(() => backend.emit({ kind: 'delivered', trade_id: 't1', up_to: seq }));
    await waitFor(() => expect(bubble).toHaveAttribute('data-mark', 'delivered'));
    expect(bubble).toHaveTextContent('Delivered');
    act(() => backend.emit({ kind: 'read', trade_id: 't1', up_to: seq }));
    await waitFor(() => expect(bubble).toHaveTextContent('Read'));

    // A reply arriving live shows in order and is marked read at once.
    const reply = fakeMessage({ id: 'in-2', trade_id: 't1', body: 'thanks', sent_at: Date.now() + 1 });
    backend.chats.t1 = [...(backend.chats.t1 ?? []), reply];
    act(() => backend.emit({ kind: 'message', message: reply }));
    await screen.findByText('thanks');
    const bodies = screen.getAllByTestId('chat-message').map((m) => m.querySelector('.chat-body')?.textContent);
    expect(bodies).toEqual(['hi there', 'paying now', 'thanks']);
    await waitFor(() => expect(backend.callsOf('markRead')).toHaveLength(2));
  });

  it('shows the escrow timeline, address with copy and QR code, amounts, countdown and the current step’s actions', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const [agreedAt, readyAt, fundedAt] = [1_700_000_060_000, 1_700_000_120_000, 1_700_000_900_000];
    const offer = fakeOffer({ maker: FAKE_PEER_ID, base: 'LTC', escrow: { kind: 'multisig', arbitrators: [OTHER_PEER_ID] } });
    const trade = fakeTrade({
      id: 't1',
      offer,
      state: 'EscrowFunding',
      waiting_for: null,
      next_step: 'fund the escrow',
      escrow: {
        chain: 'ltc',
        network: 'regtest',
        side: 'seller',
        address: 'rltc1qescrowaddress',
        required: 5_750_000,
        amount: 5_000_000,
        buyer_deposit: 375_000,
        seller_deposit: 375_000,
        my_funding: 5_375_000,
        my_address: 'rltc1qrefund',
        counterparty_address: 'rltc1qpayout',
        arbitrator: OTHER_PEER_ID,
        funded: 0,
        funding_confirmations: 0,
        funding_txids: [],
        pending_funding: [],
        funding_deadline: Date.now() + 3_600_000 + 120_000,
        payment_deadline: null,
        release_deadline: null,
        release_txid: null,
        release_confirmations: 0,
        seller_escrow_address: 'rltc1qescrowaddress',
        buyer_escrow_address: 'rltc1qbuyerescrow',
        backup_arbitrator: null,
        seller_funded: 0,
        buyer_funded: 0,
        backup_after_blocks: 20,
        reclaim_after_blocks: 40,
        returns: [],
        decision: null,
        fee_reserve: null,
        recovery_copy_at: null,
        arbitrator_copy_at: null,
      },
      steps: [
        { kind: 'take_request', at: 1_700_000_000_000, mine: false },
        { kind: 'accept', at: agreedAt, mine: true },
        { kind: 'escrow_keys', at: agreedAt, mine: true },
        { kind: 'escrow_keys', at: readyAt, mine: false },
        { kind: 'escrow_ready', at: readyAt, mine: true },
      ],
    });
    backend.tradeList = [trade];
    const { user } = await openRoom(backend);
    const steps = within(screen.getByTestId('timeline')).getAllByRole('listitem');
    expect(steps.map((s) => s.getAttribute('data-status'))).toEqual(['done', 'done', 'current', 'upcoming', 'upcoming', 'upcoming', 'upcoming']);
    // Each step done says when it happened; the rest say nothing yet.
    expect(screen.getByTestId('step-time-agreed')).toHaveTextContent(formatStepTime(agreedAt));
    expect(screen.getByTestId('step-time-address')).toHaveTextContent(formatStepTime(readyAt));
    expect(within(screen.getByTestId('step-time-address')).getByText(formatStepTime(readyAt))).toHaveAttribute(
      'datetime',
      new Date(readyAt).toISOString(),
    );
    expect(screen.getByTestId('step-time-funded')).toBeEmptyDOMElement();
    expect(screen.getByTestId('funding-txids')).toHaveTextContent('None seen on the chain yet');
    expect(steps[2]).toHaveAttribute('aria-current', 'step');
    expect(within(steps[2] as HTMLElement).getByRole('timer')).toHaveTextContent(/^1 h 0[12] min left$/);
    // The seller sends amount and deposit to its own escrow output, and is told so in coins.
    expect(screen.getByTestId('escrow-instruction')).toHaveTextContent('Send 0.05375 LTC to your escrow address');
    expect(screen.getByTestId('escrow-address')).toHaveTextContent('rltc1qescrowaddress');
    expect(screen.getByRole('button', { name: 'Copy your escrow address' })).toBeInTheDocument();
    const qr = screen.getByRole('img', { name: /QR code of your escrow address and the amount 0.05375 LTC/ });
    expect(qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml/);
    expect(qr).toHaveAttribute('data-qr-value', 'litecoin:rltc1qescrowaddress?amount=0.05375');
    expect(screen.getByTestId('escrow-details')).toHaveTextContent('0.05375 LTC (amount + your deposit)');
    // Both outputs, nothing in them yet; this seller's is marked.
    expect(screen.getByTestId('escrow-output-seller')).toHaveTextContent('Seller’s output: 0 of 0.05375 LTC (yours)');
    expect(screen.getByTestId('escrow-output-buyer')).toHaveTextContent(/^Buyer’s output: 0 of 0.00375 LTC$/);
    // No backup arbitrator on this offer: only the reclaim lock is a fallback.
    expect(screen.queryByTestId('backup-arbitrator')).toBeNull();
    expect(screen.getByTestId('escrow-fallbacks')).toHaveTextContent(
      /^Each party can take its own coins back alone after 40 blocks\. Blocks count from when each output’s funding confirmed\.$/,
    );
    expect(screen.queryByTestId('escrow-returns')).toBeNull();
    // Before coins are locked the only step is to cancel.
    const next = screen.getByRole('region', { name: 'Your next step' });
    expect(within(next).getAllByRole('button').map((b) => b.textContent)).toEqual(['Cancel trade…']);

    // The chain confirms the funding: the timeline moves on live; the seller now waits.
    const txids = ['a'.repeat(64), 'b'.repeat(64)];
    act(() =>
      backend.emit({
        kind: 'trade_updated',
        trade: {
          ...trade,
          state: 'EscrowFunded',
          updated_at: trade.updated_at + 1,
          escrow: {
            ...trade.escrow!,
            funded: 5_750_000,
            seller_funded: 5_375_000,
            buyer_funded: 375_000,
            funding_confirmations: 1,
            funding_txids: txids,
            payment_deadline: Date.now() + 86_400_000,
            returns: [{ funder: 'seller', amount: 100_000, address: 'rltc1qrefund', txid: 'c'.repeat(64), how: 'cosigned', reserve_txid: null, reserve_how: null, reserve_done: false }],
          },
          steps: [...trade.steps, { kind: 'funded', at: fundedAt, mine: true }],
        },
      }),
    );
    await waitFor(() => expect(steps[3]).toHaveAttribute('data-status', 'current'));
    expect(screen.getByTestId('escrow-funded')).toHaveTextContent('0.0575 LTC of 0.0575 LTC · 1 confirmation');
    // Each party funds its own output; both are shown, in coins. Nothing is left to send.
    expect(screen.getByTestId('escrow-output-seller')).toHaveTextContent('Seller’s output: 0.05375 of 0.05375 LTC');
    expect(screen.getByTestId('escrow-output-buyer')).toHaveTextContent('Buyer’s output: 0.00375 of 0.00375 LTC');
    expect(screen.queryByTestId('escrow-instruction')).toBeNull();
    // A return of this seller's surplus, with its txid and how it was made.
    expect(screen.getByTestId('escrow-return')).toHaveTextContent(
      '0.001 LTC going back to the seller’s address rltc1qrefund — co-signed by both',
    );
    expect(screen.getByTestId('return-txid')).toHaveTextContent('c'.repeat(64));
    expect(screen.getByTestId('step-time-funded')).toHaveTextContent(formatStepTime(fundedAt));
    expect(screen.getAllByTestId('funding-txid').map((e) => e.textContent)).toEqual(txids);
    expect(screen.getAllByRole('button', { name: 'Copy funding transaction id' })).toHaveLength(2);
    const actions = within(screen.getByRole('region', { name: 'Your next step' })).getAllByRole('button');
    expect(actions.map((b) => b.textContent)).toEqual(['Open dispute…']);
    await user.click(actions[0] as HTMLElement);
    await user.click(screen.getByRole('button', { name: 'Open the dispute' }));
    expect(screen.getByLabelText('Why do you open a dispute?')).toHaveAccessibleDescription(/the arbitrator reads it/);
    expect(backend.callsOf('disputeTrade')).toHaveLength(0);
  });
});

/** A buyer's escrow trade on someone's LTC sell offer (the offer names a backup arbitrator), as its room shows it. */
function buyerEscrowTrade(overrides: Partial<TradeInfo> = {}, escrow: Partial<EscrowView> = {}): TradeInfo {
  const offer = fakeOffer({ base: 'LTC', escrow: { kind: 'multisig', arbitrators: [OTHER_PEER_ID, SELLER_PEER_ID] } });
  return fakeTrade({
    id: 't2',
    offer,
    role: 'taker',
    state: 'EscrowFunding',
    waiting_for: null,
    next_step: 'fund the escrow',
    escrow: {
      chain: 'ltc',
      network: 'regtest',
      side: 'buyer',
      address: 'rltc1qbuyersownoutput',
      seller_escrow_address: 'rltc1qsellersownoutput',
      buyer_escrow_address: 'rltc1qbuyersownoutput',
      required: 5_750_000,
      amount: 5_000_000,
      buyer_deposit: 375_000,
      seller_deposit: 375_000,
      my_funding: 375_000,
      my_address: 'rltc1qpayout',
      counterparty_address: 'rltc1qrefund',
      arbitrator: OTHER_PEER_ID,
      backup_arbitrator: SELLER_PEER_ID,
      funded: 5_375_000,
      seller_funded: 5_375_000,
      buyer_funded: 0,
      backup_after_blocks: 144,
      reclaim_after_blocks: 1,
      funding_confirmations: 0,
      funding_txids: [],
      pending_funding: [],
      funding_deadline: Date.now() + 3_600_000,
      payment_deadline: null,
      release_deadline: null,
      release_txid: null,
      release_confirmations: 0,
      returns: [],
      decision: null,
      fee_reserve: null,
      recovery_copy_at: null,
      arbitrator_copy_at: null,
      ...escrow,
    },
    steps: [
      { kind: 'accept', at: 1_700_000_060_000, mine: false },
      { kind: 'escrow_ready', at: 1_700_000_120_000, mine: true },
    ],
    ...overrides,
  });
}

describe('Trade room with two escrow outputs', () => {
  it('funds the escrow from a wallet of the chain node only after showing amount and fee', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [buyerEscrowTrade()];
    const { user } = await openRoom(backend);
    await user.type(screen.getByRole('textbox', { name: 'Wallet of your chain node' }), 'main');
    await user.click(screen.getByRole('button', { name: 'Prepare' }));
    expect(await screen.findByTestId('funding-summary')).toHaveTextContent(
      'Send 0.00375 LTC to rltc1qbuyersownoutput from wallet main, fee 0.0000141 LTC.',
    );
    expect(backend.calls.filter((c) => c.method === 'fundFromWallet').map((c) => c.args)).toEqual([['t2', 'main', false]]);
    await user.click(screen.getByRole('button', { name: 'Confirm and send' }));
    expect(await screen.findByTestId('funding-sent')).toHaveTextContent(`Sent 0.00375 LTC from wallet main, fee 0.0000141 LTC: ${'cd'.repeat(32)}`);
    expect(backend.calls.filter((c) => c.method === 'fundFromWallet').map((c) => c.args)).toEqual([
      ['t2', 'main', false],
      ['t2', 'main', true],
    ]);
  });

  it('says why a node wallet cannot fund the escrow', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [buyerEscrowTrade()];
    backend.fundingAnswer = 'the chain node has no wallet `nope` loaded (load it with `loadwallet nope`, or name another)';
    const { user } = await openRoom(backend);
    await user.type(screen.getByRole('textbox', { name: 'Wallet of your chain node' }), 'nope');
    await user.click(screen.getByRole('button', { name: 'Prepare' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('no wallet `nope` loaded');
    expect(screen.queryByRole('button', { name: 'Confirm and send' })).toBeNull();
  });

  it('shows funding the chain node holds in its mempool as seen, unconfirmed, and not as funded', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [
      buyerEscrowTrade(
        {
          steps: [
            { kind: 'escrow_ready', at: 1_700_000_120_000, mine: true },
            { kind: 'funding_seen', at: 1_700_000_130_000, mine: true },
          ],
        },
        {
          seller_funded: 0,
          funded: 0,
          pending_funding: [{ txid: 'ab'.repeat(32), vout: 1, funder: 'seller', value: 5_375_000 }],
        },
      ),
    ];
    await openRoom(backend);
    expect(screen.getByTestId('pending-funding')).toHaveTextContent(
      `0.05375 LTC to the seller’s output, waiting for a block: ${'ab'.repeat(32)}`,
    );
    expect(screen.getByTestId('escrow-funded')).toHaveTextContent('0 LTC of 0.0575 LTC');
    expect(screen.getAllByText('Funding seen on the network, unconfirmed').length).toBeGreaterThan(0);
  });

  it('tells the buyer to fund its own output, with its QR code, and shows what each output holds', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [buyerEscrowTrade()];
    await openRoom(backend);
    expect(screen.getByTestId('escrow-instruction')).toHaveTextContent(/^Send 0.00375 LTC to your escrow address$/);
    // The buyer's own output, never the seller's.
    expect(screen.getByTestId('escrow-address')).toHaveTextContent(/^rltc1qbuyersownoutput$/);
    expect(screen.getByTestId('escrow-details')).not.toHaveTextContent('rltc1qsellersownoutput');
    const qr = screen.getByRole('img', { name: 'QR code of your escrow address and the amount 0.00375 LTC' });
    expect(qr).toHaveAttribute('data-qr-value', 'litecoin:rltc1qbuyersownoutput?amount=0.00375');
    expect(screen.getByTestId('escrow-details')).toHaveTextContent('0.00375 LTC (your deposit)');
    // The seller already funded its output; the buyer's is still empty, and it is the buyer's.
    expect(screen.getByTestId('escrow-output-seller')).toHaveTextContent(/^Seller’s output: 0.05375 of 0.05375 LTC$/);
    expect(screen.getByTestId('escrow-output-buyer')).toHaveTextContent(/^Buyer’s output: 0 of 0.00375 LTC \(yours\)$/);
    expect(screen.getByTestId('escrow-funded')).toHaveTextContent('0.05375 LTC of 0.0575 LTC');
  });

  it('shows the backup arbitrator next to the arbitrator and the fallbacks in blocks', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [buyerEscrowTrade()];
    await openRoom(backend);
    const backup = screen.getByTestId('backup-arbitrator');
    expect(backup).toHaveTextContent(SELLER_PEER_ID);
    // Right after the arbitrator, so the two read together.
    expect(backup.closest('div')?.previousElementSibling).toHaveTextContent(/^Arbitrator/);
    expect(screen.getByTestId('escrow-fallbacks')).toHaveTextContent(
      'If the arbitrator disappears, the backup arbitrator can stand in after 144 blocks; each party can take its own coins back alone after 1 block.',
    );
  });

  it('lists every return of coins to its sender: amount in coins, address, txid when broadcast and how', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const [cosigned, reclaimed] = ['d'.repeat(64), 'e'.repeat(64)];
    backend.tradeList = [
      buyerEscrowTrade(
        { state: 'Cancelled', steps: [{ kind: 'cancel', at: 1_700_000_200_000, mine: false }, { kind: 'return', at: 1_700_000_300_000, mine: true }] },
        {
          buyer_funded: 375_000,
          funded: 5_750_000,
          funding_deadline: null,
          returns: [
            { funder: 'seller', amount: 5_375_000, address: 'rltc1qrefund', txid: null, how: 'signed', reserve_txid: null, reserve_how: null, reserve_done: false },
            { funder: 'buyer', amount: 375_000, address: 'rltc1qpayout', txid: cosigned, how: 'cosigned', reserve_txid: null, reserve_how: null, reserve_done: false },
            { funder: 'buyer', amount: 20_000_000, address: 'rltc1qpayout', txid: reclaimed, how: 'reclaimed', reserve_txid: 'b'.repeat(64), reserve_how: 'forwarded', reserve_done: true },
            { funder: 'buyer', amount: 1_000_000, address: 'rltc1qpayout', txid: 'f'.repeat(64), how: 'arbitrated', reserve_txid: null, reserve_how: null, reserve_done: false },
          ],
        },
      ),
    ];
    await openRoom(backend);
    const returns = within(screen.getByTestId('escrow-returns')).getAllByTestId('escrow-return');
    expect(returns).toHaveLength(4);
    expect(returns[0]).toHaveTextContent(
      /^0.05375 LTC going back to the seller’s address rltc1qrefund — signed, waiting for the counterparty to broadcast$/,
    );
    expect(returns[1]).toHaveTextContent('0.00375 LTC going back to the buyer’s address rltc1qpayout — co-signed by both');
    expect(returns[1]).toHaveTextContent(cosigned);
    expect(returns[2]).toHaveTextContent('0.2 LTC going back to the buyer’s address rltc1qpayout — taken back alone after the reclaim lock');
    expect(returns[2]).toHaveTextContent(reclaimed);
    expect(within(returns[2] as HTMLElement).getByTestId('return-reserve')).toHaveTextContent(
      `Its fee reserve was paid on (confirmed): ${'b'.repeat(64)}`,
    );
    expect(returns[3]).toHaveTextContent(
      '0.01 LTC going back to the buyer’s address rltc1qpayout — co-signed by the arbitrator (the other party never funded)',
    );
    expect(screen.getAllByTestId('return-txid').map((e) => e.textContent)).toEqual([cosigned, reclaimed, 'f'.repeat(64)]);
    expect(screen.getAllByRole('button', { name: 'Copy return transaction id' })).toHaveLength(3);
    expect(screen.getByText('Returns', { selector: 'dt' })).toBeInTheDocument();
    // A cancelled trade asks for no funding.
    expect(screen.queryByTestId('escrow-instruction')).toBeNull();
  });

  it('says whether the counterparty holds a copy that brings the trade back from the seed words', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [buyerEscrowTrade({}, { recovery_copy_at: 1_700_000_000_000 })];
    await openRoom(backend);
    expect(screen.getByTestId('escrow-recovery')).toHaveTextContent(
      /^Your counterparty \(as of .+\) keeps a sealed copy of this trade: your seed words alone bring it back\.$/,
    );
    cleanup();
    const both = new FakeBackend({ state: 'unlocked' });
    both.tradeList = [buyerEscrowTrade({}, { recovery_copy_at: 1_700_000_000_000, arbitrator_copy_at: 1_700_000_100_000 })];
    await openRoom(both);
    expect(screen.getByTestId('escrow-recovery')).toHaveTextContent(
      /^Your counterparty \(as of .+\) and the arbitrator \(as of .+\) keep sealed copies of this trade: your seed words alone bring it back\.$/,
    );
  });

  it('says when only a backup would bring the trade back, and nothing once the trade is over', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [buyerEscrowTrade()];
    await openRoom(backend);
    expect(screen.getByTestId('escrow-recovery')).toHaveTextContent(
      'Your counterparty does not hold a copy of this trade yet: until it does, only a backup brings it back.',
    );
    cleanup();
    const done = new FakeBackend({ state: 'unlocked' });
    done.tradeList = [buyerEscrowTrade({ state: 'Completed' }, { recovery_copy_at: 1_700_000_000_000 })];
    await openRoom(done);
    expect(screen.queryByTestId('escrow-recovery')).toBeNull();
  });

  it('says what the release’s fee reserve is and where it went', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [
      buyerEscrowTrade(
        { state: 'Completed' },
        { fee_reserve: { amount: 1_400_000, how: 'bumped', txid: 'a'.repeat(64), paid_on: 1_390_000, done: true } },
      ),
    ];
    await openRoom(backend);
    const reserve = screen.getByTestId('escrow-fee-reserve');
    expect(reserve).toHaveTextContent(
      '0.014 LTC spent to speed up the stuck payout and paid on to the payout address: 0.0139 LTC after the fee, confirmed',
    );
    expect(reserve).toHaveTextContent('a'.repeat(64));
  });

  it('shows a fee reserve set aside while the release confirms', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [
      buyerEscrowTrade(
        { state: 'Released' },
        { fee_reserve: { amount: 1_400_000, how: null, txid: null, paid_on: null, done: false } },
      ),
    ];
    await openRoom(backend);
    expect(screen.getByTestId('escrow-fee-reserve')).toHaveTextContent(
      '0.014 LTC set aside from the payout: the receiving party’s node pays it on once the payout confirms',
    );
  });

  it('shows the arbitrator’s decision in coins with its reason and round', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [
      buyerEscrowTrade(
        { state: 'Resolved' },
        {
          decision: { to: 'split', buyer_share: 60_000_000, seller_share: 70_000_000, reason: 'Half arrived <b>late</b>', round: 2 },
        },
      ),
    ];
    await openRoom(backend);
    const decision = screen.getByTestId('escrow-decision');
    expect(decision).toHaveTextContent(
      'Split: 0.6 LTC to the buyer, 0.7 LTC to the seller (the network fee comes out of the larger share). Reason: Half arrived <b>late</b>',
    );
    expect(decision.querySelector('b')).toBeNull();
    expect(screen.getByText('Arbitrator’s decision (decision 2)', { selector: 'dt' })).toBeInTheDocument();
  });

  it('says why the funding step is back when a reorg took the funding away', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const base = buyerEscrowTrade();
    backend.tradeList = [
      buyerEscrowTrade({
        steps: [...base.steps, { kind: 'funded', at: 1_700_000_400_000, mine: true }, { kind: 'funding_lost', at: 1_700_000_500_000, mine: true }],
      }),
    ];
    await openRoom(backend);
    const funded = within(screen.getByTestId('timeline')).getAllByRole('listitem')[2] as HTMLElement;
    expect(funded).toHaveAttribute('data-status', 'current');
    expect(within(funded).getByTestId('step-note-funded')).toHaveTextContent(
      'Funding lost in a chain reorganisation: waiting for it again',
    );
    // The step is to do again: no time, and its deadline still counts down.
    expect(screen.getByTestId('step-time-funded')).toBeEmptyDOMElement();
    expect(within(funded).getByRole('timer')).toBeInTheDocument();
  });

  it('says why a trade went to the arbitrator when the seller stayed silent after the payment', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const base = buyerEscrowTrade();
    backend.tradeList = [
      buyerEscrowTrade({
        state: 'Disputed',
        steps: [
          ...base.steps,
          { kind: 'funded', at: 1_700_000_400_000, mine: true },
          { kind: 'payment_sent', at: 1_700_000_500_000, mine: true },
          { kind: 'confirm_expired', at: 1_700_000_600_000, mine: true },
        ],
      }),
    ];
    await openRoom(backend);
    const confirmed = within(screen.getByTestId('timeline')).getAllByRole('listitem')[4] as HTMLElement;
    expect(confirmed).toHaveAttribute('data-status', 'stopped');
    expect(within(confirmed).getByTestId('step-note-confirmed')).toHaveTextContent(
      'The seller neither confirmed nor disputed the payment in time: the arbitrator decides',
    );
    expect(screen.getByTestId('step-time-confirmed')).toHaveTextContent(formatStepTime(1_700_000_600_000));
  });
});

describe('My offers', () => {
  it('shows who is taking each offer and opens their trade', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const offer = fakeOffer({ id: 'mine', maker: FAKE_PEER_ID });
    backend.myOfferList = [{ offer, state: { state: 'live' } }];
    backend.tradeList = [fakeTrade({ id: 't1', offer })];
    const { user, nav } = await openApp(backend);
    await user.click(within(nav).getByRole('button', { name: 'My offers' }));
    const takers = await screen.findByRole('list', { name: 'Takers' });
    expect(takers).toHaveTextContent('0.05 BTC');
    expect(takers).toHaveTextContent('Take requested');
    await user.click(within(takers).getByRole('button', { name: `Open trade with ${OTHER_PEER_ID}` }));
    await screen.findByRole('heading', { level: 1, name: 'You sell BTC for EUR' });
  });
});
