import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FakeBackend, fakeDispute } from './fakeBackend';
import { renderApp } from './renderApp';

async function openApp(backend: FakeBackend) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  return { nav, backend, ...rendered };
}

async function openDisputes(backend: FakeBackend) {
  const app = await openApp(backend);
  await app.user.click(within(app.nav).getByRole('button', { name: /^Disputes/ }));
  await screen.findByRole('heading', { level: 1, name: 'Disputes' });
  return app;
}

async function openDispute(backend: FakeBackend, name: RegExp = /^Open dispute/) {
  const app = await openDisputes(backend);
  await app.user.click((await screen.findAllByRole('button', { name }))[0] as HTMLElement);
  await screen.findByRole('heading', { level: 1, name: /^Dispute: / });
  return app;
}

describe('Disputes in the nav', () => {
  it('are shown only to an arbitrator, with the count of open disputes', async () => {
    const plain = await openApp(new FakeBackend({ state: 'unlocked' }));
    expect(within(plain.nav).queryByRole('button', { name: /Disputes/ })).toBeNull();
    expect(plain.backend.callsOf('disputes')).toHaveLength(0);
    plain.unmount();

    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [fakeDispute(), fakeDispute({ resolved_to: 'buyer', resolved_at: 1 }), fakeDispute()];
    const { nav } = await openApp(backend);
    const item = within(nav).getByRole('button', { name: /^Disputes/ });
    await waitFor(() => expect(within(item).getByTestId('nav-badge-disputes')).toHaveTextContent(/^2 open$/));
  });
});

describe('the Disputes list', () => {
  it('says when there are none', async () => {
    await openDisputes(new FakeBackend({ state: 'unlocked', arbitrator: true }));
    expect(await screen.findByText('No disputes')).toBeInTheDocument();
  });

  it('shows a failure with a way to try again', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [fakeDispute()];
    const { user } = await openDisputes(backend);
    await screen.findByTestId('dispute-list');
    // A case arrives, but reading the list again fails.
    backend.failNext.disputes = 'internal';
    act(() => backend.receiveDispute(fakeDispute()));
    const alert = await screen.findByRole('alert');
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('dispute-list')).toBeInTheDocument();
  });

  it('lists open disputes first with market, amounts, parties, who opened them and when; new ones arrive live', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [
      fakeDispute({ trade_id: 'decided', opened_at: 1_700_000_500_000, resolved_to: 'seller', resolved_at: 1_700_000_600_000 }),
      fakeDispute({ trade_id: 'open', opened_at: 1_700_000_100_000, opened_by: null }),
    ];
    await openDisputes(backend);
    const rows = () => within(screen.getByTestId('dispute-list')).getAllByRole('row').slice(1);
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(rows().map((r) => r.getAttribute('data-trade-id'))).toEqual(['open', 'decided']);
    const open = rows()[0] as HTMLElement;
    expect(open).toHaveTextContent('LTC/EUR');
    expect(open).toHaveTextContent('1 LTC');
    expect(open).toHaveTextContent('escrow 1.3 LTC');
    expect(open).toHaveTextContent(/Buyer.*Seller/);
    expect(open).toHaveTextContent('by a deadline');
    expect(open).toHaveTextContent('Open');
    expect(rows()[1]).toHaveTextContent('Resolved to the seller');

    // A party's case arrives: it shows up on top, without a reload.
    act(() => backend.receiveDispute(fakeDispute({ trade_id: 'newest', opened_at: 1_700_000_900_000 })));
    await waitFor(() => expect(rows().map((r) => r.getAttribute('data-trade-id'))).toEqual(['newest', 'open', 'decided']));
  });
});

describe('a dispute', () => {
  it('shows both parties’ reasons and chat as text, never as markup', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    const hostile = '<img src="x" onerror="alert(1)"><script>alert(2)</script>';
    backend.disputeList = [
      fakeDispute({
        cases: [
          { side: 'buyer', reason: `<b>paid</b> ${hostile}`, transcript: [`1700000000000 me: ${hostile}`, 'not a line <i>at all</i>'] },
          { side: 'seller', reason: 'nothing arrived', transcript: [`1700000000000 them: ${hostile}`, '1700000060000 me: no money'] },
        ],
      }),
    ];
    await openDispute(backend);
    const buyer = screen.getByTestId('case-buyer');
    const seller = screen.getByTestId('case-seller');
    expect(within(buyer).getByTestId('reason-buyer').textContent).toBe(`<b>paid</b> ${hostile}`);
    const buyerLines = within(within(buyer).getByTestId('transcript-buyer')).getAllByRole('listitem');
    expect(buyerLines[0]).toHaveTextContent(`Buyer`);
    expect(buyerLines[0]?.querySelector('.transcript-text')?.textContent).toBe(hostile);
    expect(buyerLines[1]?.querySelector('.transcript-text')?.textContent).toBe('not a line <i>at all</i>');
    const sellerLines = within(within(seller).getByTestId('transcript-seller')).getAllByRole('listitem');
    // "them" in the seller's case is the buyer; "me" is the seller.
    expect(sellerLines.map((l) => l.querySelector('.transcript-meta')?.textContent?.split(' · ')[0])).toEqual(['Buyer', 'Seller']);
    // Nothing from the cases became an element.
    for (const panel of [buyer, seller]) {
      expect(panel.querySelector('img, script, b, i')).toBeNull();
    }
    expect(screen.getByTestId('dispute-opened-by')).toHaveTextContent('the buyer');
    expect(screen.getByTestId('dispute-escrow-address')).toHaveTextContent('rltc1qescrowaddressofthetrade');
    expect(screen.getByTestId('dispute-escrow-total')).toHaveTextContent('1.3 LTC');
  });

  it('waits visibly for a party’s case that has not arrived', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [fakeDispute({ cases: [{ side: 'seller', reason: 'no payment', transcript: [] }] })];
    await openDispute(backend);
    expect(screen.getByTestId('case-buyer')).toHaveTextContent('Not arrived yet');
    expect(screen.getByTestId('case-seller')).toHaveTextContent('No chat messages.');
    expect(screen.getByTestId('dispute-decision')).toHaveTextContent('The buyer’s case has not arrived yet.');
  });

  it('resolves after a confirmation that says what is paid to whom; then shows the decision instead of the buttons', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    const dispute = fakeDispute({ trade_id: 'd1' });
    backend.disputeList = [dispute];
    const { user } = await openDispute(backend);
    const toSeller = screen.getByRole('button', { name: 'Resolve to seller…' });

    // The dialog starts on Cancel; Escape closes it and returns focus; nothing was decided.
    await user.click(toSeller);
    let dialog = screen.getByRole('dialog', { name: 'Resolve to the seller?' });
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    expect(dialog).toHaveAccessibleDescription(/is paid to the seller’s address rltc1qsellerrefundaddress/);
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(toSeller).toHaveFocus();
    expect(backend.callsOf('resolveDispute')).toHaveLength(0);

    await user.click(screen.getByRole('button', { name: 'Resolve to buyer…' }));
    dialog = screen.getByRole('dialog', { name: 'Resolve to the buyer?' });
    expect(within(dialog).getByTestId('resolve-summary')).toHaveTextContent(
      'Everything the escrow holds — 1.3 LTC (1 LTC traded, 0.15 LTC buyer’s deposit, 0.15 LTC seller’s deposit) less the network fee — is paid to the buyer’s address rltc1qbuyerpayoutaddress. The seller gets nothing from the escrow.',
    );
    // Tab stays inside the dialog: from Cancel, the last, to the reason, the first.
    await user.tab();
    const reason = within(dialog).getByRole('textbox', { name: 'Reason, shown to both parties' });
    expect(reason).toHaveFocus();
    await user.type(reason, '  The bank statement shows the payment.  ');
    await user.click(within(dialog).getByRole('button', { name: 'Pay the escrow to the buyer' }));

    await waitFor(() => expect(screen.getByTestId('dispute-decision')).toHaveTextContent('Resolved to the buyer'));
    expect(backend.callsOf('resolveDispute')).toEqual([
      ['d1', { to: 'buyer', buyer_gets: null, reason: 'The bank statement shows the payment.' }],
    ]);
    expect(screen.getByTestId('decision-reason')).toHaveTextContent('The bank statement shows the payment.');
    expect(screen.getByTestId('answer-buyer')).toHaveTextContent('no answer yet');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.queryByRole('button', { name: /^Resolve to/ })).toBeNull();
    expect(screen.getByTestId('dispute-decision')).toHaveFocus();
    expect(screen.getByTestId('dispute-decision')).toHaveTextContent('rltc1qbuyerpayoutaddress');
    expect(screen.getByTestId('dispute-state')).toHaveTextContent('Resolved to the buyer');

    // The list shows it decided, below the open ones.
    await user.click(screen.getByRole('button', { name: '← All disputes' }));
    const row = await screen.findByRole('row', { name: /LTC\/EUR/ });
    expect(row).toHaveTextContent('Resolved to the buyer');
  });

  it('shows the core’s refusal of a second decision, and the decision that stands', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [fakeDispute({ trade_id: 'd2' })];
    const { user } = await openDispute(backend);
    // Decided meanwhile elsewhere (another window, the CLI), and this view has not heard of it.
    backend.disputeList = backend.disputeList.map((d) => ({
      ...d,
      resolved_to: 'buyer',
      resolved_at: Date.now(),
      decision: {
        round: 1,
        buyer_share: 130_000_000,
        seller_share: 0,
        reason: '',
        buyer_answer: null,
        seller_answer: null,
        can_decide_again: false,
      },
    }));
    await user.click(screen.getByRole('button', { name: 'Resolve to seller…' }));
    await user.click(screen.getByRole('button', { name: 'Pay the escrow to the seller' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('This dispute was resolved already, to the buyer');
    await waitFor(() => expect(screen.getByTestId('dispute-decision')).toHaveTextContent('Resolved to the buyer'));
    expect(screen.queryByRole('button', { name: /^Resolve to/ })).toBeNull();
    expect(screen.getByRole('alert')).toHaveTextContent('resolved already');
  });

  it('splits the escrow by the share typed in coins, with the reason; refuses a share that is not one', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [fakeDispute({ trade_id: 'd3' })];
    const { user } = await openDispute(backend);
    expect(screen.getByTestId('dispute-on-chain')).toHaveTextContent(
      '1.3 LTC: 1.15 LTC seller’s output, 0.15 LTC buyer’s output',
    );
    await user.click(screen.getByRole('button', { name: 'Split…' }));
    const dialog = screen.getByRole('dialog', { name: 'Split the escrow?' });
    const share = within(dialog).getByRole('textbox', { name: 'Buyer gets (LTC)' });
    for (const [typed, error] of [
      ['1.3', 'The buyer’s share must be less than the 1.3 LTC the escrow holds'],
      ['abc', '“abc” is not a number'],
      ['0.123456789', 'At most 8 decimal places'],
      ['-1', 'cannot be negative'],
    ] as const) {
      await user.clear(share);
      await user.type(share, typed);
      expect(dialog).toHaveTextContent(error);
      await user.click(within(dialog).getByRole('button', { name: 'Split the escrow' }));
      expect(backend.callsOf('resolveDispute')).toHaveLength(0);
    }
    await user.clear(share);
    await user.type(share, '0.6');
    expect(within(dialog).getByTestId('resolve-summary')).toHaveTextContent(
      'split: 0.6 LTC to the buyer’s address rltc1qbuyerpayoutaddress, 0.7 LTC to the seller’s address rltc1qsellerrefundaddress',
    );
    await user.type(within(dialog).getByRole('textbox', { name: 'Reason, shown to both parties' }), 'Half the payment arrived');
    await user.click(within(dialog).getByRole('button', { name: 'Split the escrow' }));
    await waitFor(() =>
      expect(screen.getByTestId('dispute-decision')).toHaveTextContent('Split: 0.6 LTC to the buyer, 0.7 LTC to the seller'),
    );
    expect(backend.callsOf('resolveDispute')).toEqual([
      ['d3', { to: 'split', buyer_gets: 60_000_000, reason: 'Half the payment arrived' }],
    ]);
    expect(screen.getByTestId('dispute-state')).toHaveTextContent('Split');
    expect(screen.queryByRole('button', { name: 'Split…' })).toBeNull();
  });

  it('shows a refusal as the party wrote it and lets the arbitrator decide again', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [
      fakeDispute({
        trade_id: 'd4',
        resolved_to: 'buyer',
        resolved_at: 1_700_000_200_000,
        on_chain: null,
        decision: {
          round: 1,
          buyer_share: 130_000_000,
          seller_share: 0,
          reason: 'paid',
          buyer_answer: 'refused: the fee is above 4x my rate',
          seller_answer: null,
          can_decide_again: true,
        },
      }),
    ];
    const { user } = await openDispute(backend);
    expect(screen.getByTestId('dispute-on-chain')).toHaveTextContent('unknown (the chain could not be asked)');
    expect(screen.getByTestId('answer-buyer')).toHaveTextContent('refused: the fee is above 4x my rate');
    expect(screen.getByTestId('decide-again')).toHaveTextContent('a party refused this decision');
    expect(screen.getByTestId('dispute-state')).toHaveTextContent('Refused: decide again');
    await user.click(screen.getByRole('button', { name: 'Resolve to buyer…' }));
    await user.click(screen.getByRole('button', { name: 'Pay the escrow to the buyer' }));
    await waitFor(() => expect(screen.getByTestId('dispute-decision')).toHaveTextContent('(decision 2)'));
    expect(screen.queryByTestId('decide-again')).toBeNull();
    expect(screen.queryByRole('button', { name: /^Resolve to/ })).toBeNull();
  });
});
