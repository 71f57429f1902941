import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { TradeInfo } from '../bindings';
import { formatDay } from '../logic/reputation';
import { peerName } from '../logic/peerName';
import { FAKE_PEER_ID, FakeBackend, OTHER_PEER_ID, fakeEntry, fakeReputation, fakeTrade } from './fakeBackend';
import { renderApp } from './renderApp';

const VETERAN = '12D3KooWVeteranMakerPeerIdForReputationTests1aBcDe';
const NEWCOMER = '12D3KooWNewcomerMakerPeerIdForReputationTests2fGhI';
const DAY = 86_400_000;

async function openApp(backend: FakeBackend) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  return { nav, backend, ...rendered };
}

function sellTable() {
  return screen.getByRole('table', { name: /Sell offers/ });
}

/** The book row of an offer. */
function row(offerId: string): HTMLElement {
  const found = sellTable().querySelector<HTMLElement>(`[data-offer-id="${offerId}"]`);
  if (!found) throw new Error(`no row for offer ${offerId}`);
  return found;
}

const shownIds = () =>
  within(sellTable())
    .queryAllByRole('row')
    .map((r) => r.getAttribute('data-offer-id'))
    .filter((id) => id !== null);

/** A hold the fake's reputation lookups wait on until `release()`. */
function hold(backend: FakeBackend) {
  let release = () => {};
  backend.reputationHold = new Promise<void>((resolve) => {
    release = resolve;
  });
  return () => act(() => release());
}

describe('Market: the makers’ reputation', () => {
  it('shows each maker’s settled trades and rating, the chain-verified count as its tooltip', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 'veteran', maker: VETERAN, price: { fixed: '60000' } }),
      fakeEntry({ id: 'veteran-2', maker: VETERAN, price: { fixed: '60002' } }),
      fakeEntry({ id: 'newcomer', maker: NEWCOMER, price: { fixed: '60001' } }),
      fakeEntry({ id: 'mine', maker: FAKE_PEER_ID, price: { fixed: '60003' } }, { mine: true }),
    ];
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 12, with_escrow: 8, rating: 4.5, ratings: 3 });
    await openApp(backend);
    await screen.findByText('60,001 EUR');
    const figure = within(row('veteran')).getByTestId('maker-reputation');
    await waitFor(() => expect(figure).toHaveTextContent('12 trades · ★4.5'));
    expect(figure).toHaveAttribute('title', '8 of 12 with escrow verified on the chain');
    // Screen readers get the tooltip's words too.
    expect(figure.textContent).toContain('8 of 12 with escrow verified on the chain');
    await waitFor(() => expect(within(row('newcomer')).getByTestId('maker-reputation')).toHaveTextContent('No trades yet'));
    // My own offer is not looked up; a maker with two offers is looked up once.
    expect(within(row('mine')).queryByTestId('maker-reputation')).toBeNull();
    expect(backend.callsOf('reputation').map(([peer]) => peer).sort()).toEqual([NEWCOMER, VETERAN].sort());
    // The maker's history with this node stays as it was, apart from the reputation.
    expect(within(row('newcomer')).getByTestId('maker-history')).toHaveTextContent('New to you');
  });

  it('shows the nickname a maker chose, in quotes, as text; none for a maker without one', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 'veteran', maker: VETERAN, price: { fixed: '60000' } }),
      fakeEntry({ id: 'newcomer', maker: NEWCOMER, price: { fixed: '60001' } }),
    ];
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 12, nickname: "Ahmed's <b>LTC</b>" });
    backend.reputations[NEWCOMER] = fakeReputation({ peer: NEWCOMER, settled: 1, nickname: null });
    await openApp(backend);
    await screen.findByText('60,001 EUR');
    const nickname = await within(row('veteran')).findByTestId('maker-nickname');
    expect(nickname).toHaveTextContent("“Ahmed's <b>LTC</b>”");
    expect(nickname).toHaveAttribute('title', 'Nickname chosen by the maker, not checked by anyone');
    expect(row('veteran').querySelector('.maker-nickname b')).toBeNull();
    // Separate from the figure, which stays as it was.
    expect(within(row('veteran')).getByTestId('maker-reputation')).toHaveTextContent('12 trades');
    expect(within(row('veteran')).getByTestId('maker-reputation')).not.toHaveTextContent('Ahmed');
    await waitFor(() => expect(within(row('newcomer')).getByTestId('maker-reputation')).toHaveTextContent('1 trade'));
    expect(within(row('newcomer')).queryByTestId('maker-nickname')).toBeNull();
    expect(row('newcomer')).not.toHaveTextContent('“');
  });

  it('never holds the book back: rows show at once, saying the reputation is being checked', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [fakeEntry({ id: 'veteran', maker: VETERAN, price: { fixed: '60000' } })];
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 2 });
    const release = hold(backend);
    await openApp(backend);
    expect(await screen.findByText('60,000 EUR')).toBeInTheDocument();
    expect(within(row('veteran')).getByTestId('maker-reputation')).toHaveTextContent('Checking reputation…');
    release();
    await waitFor(() => expect(within(row('veteran')).getByTestId('maker-reputation')).toHaveTextContent('2 trades'));
  });

  it('looks up at most four makers at once', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const makers = [1, 2, 3, 4, 5, 6].map((n) => `12D3KooWMaker${n.toString()}PeerIdForReputationTestsQqRrSsTtUu`);
    backend.book = makers.map((maker, i) => fakeEntry({ id: `o${i.toString()}`, maker, price: { fixed: `${(60000 + i).toString()}` } }));
    const release = hold(backend);
    await openApp(backend);
    await screen.findByText('60,005 EUR');
    await waitFor(() => expect(backend.callsOf('reputation')).toHaveLength(4));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(backend.callsOf('reputation')).toHaveLength(4);
    release();
    await waitFor(() => expect(backend.callsOf('reputation')).toHaveLength(6));
    await waitFor(() => expect(within(sellTable()).getAllByText('No trades yet')).toHaveLength(6));
  });

  it('filters to makers with at least N settled trades, hiding unknown ones only while it is on', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 'veteran', maker: VETERAN, price: { fixed: '60000' } }),
      fakeEntry({ id: 'newcomer', maker: NEWCOMER, price: { fixed: '60001' } }),
      fakeEntry({ id: 'offline', maker: OTHER_PEER_ID, price: { fixed: '60002' } }),
      fakeEntry({ id: 'mine', maker: FAKE_PEER_ID, price: { fixed: '60003' } }, { mine: true }),
    ];
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 12 });
    backend.reputations[NEWCOMER] = fakeReputation({ peer: NEWCOMER, settled: 2 });
    backend.reputations[OTHER_PEER_ID] = 'the network is not up';
    const release = hold(backend);
    const { user } = await openApp(backend);
    await screen.findByText('60,002 EUR');
    const field = screen.getByLabelText('Makers with at least N settled trades');
    expect(field).toHaveAccessibleDescription('Empty or 0: any maker.');

    // While the lookups run, the filter hides the offers it cannot judge yet, and says so.
    await user.type(field, '5');
    expect(shownIds()).toEqual(['mine']);
    expect(screen.getByTestId('reputation-filter-note')).toHaveTextContent(
      'Checking makers’ reputation: 3 offers hidden until then.',
    );
    expect(screen.getByText(/1 of 4 offers shown/)).toBeInTheDocument();

    release();
    await waitFor(() => expect(shownIds()).toEqual(['veteran', 'mine']));
    expect(screen.getByTestId('reputation-filter-note')).toHaveTextContent(
      '1 offer hidden: the maker’s reputation could not be checked.',
    );
    expect(within(row('veteran')).getByTestId('maker-reputation')).toHaveTextContent('12 trades');

    await user.clear(field);
    await user.type(field, '2');
    expect(shownIds()).toEqual(['veteran', 'newcomer', 'mine']);

    // 0 (or empty) is off: every offer again, the one whose maker could not be checked too.
    await user.clear(field);
    await user.type(field, '0');
    expect(shownIds()).toEqual(['veteran', 'newcomer', 'offline', 'mine']);
    expect(screen.queryByTestId('reputation-filter-note')).toBeNull();
    const failed = within(row('offline')).getByTestId('maker-reputation');
    expect(failed).toHaveTextContent('Reputation not checked');
    expect(failed).toHaveAttribute('title', 'Could not check reputation: the network is not up');
  });

  it('explains a filter it cannot read and leaves the book unfiltered', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [fakeEntry({ id: 'newcomer', maker: NEWCOMER, price: { fixed: '60001' } })];
    const { user } = await openApp(backend);
    await screen.findByText('60,001 EUR');
    const field = screen.getByLabelText('Makers with at least N settled trades');
    await user.type(field, '2.5');
    expect(field).toHaveAccessibleDescription('Enter a whole number of trades, e.g. 5.');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(shownIds()).toEqual(['newcomer']);
  });
});

describe('Take offer: the maker’s reputation', () => {
  async function openTake(backend: FakeBackend) {
    backend.book = [fakeEntry({ id: 'theirs', maker: VETERAN, price: { fixed: '61000' } })];
    const app = await openApp(backend);
    await app.user.click(await screen.findByRole('button', { name: /^Take offer/ }));
    await screen.findByRole('heading', { name: 'Take offer: you buy BTC' });
    return app;
  }

  it('shows settled trades, counterparties, age, last seen, disputes, rating and refused receipts', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const firstSeen = Date.now() - 3 * DAY - 3_600_000;
    backend.reputations[VETERAN] = fakeReputation({
      peer: VETERAN,
      settled: 12,
      with_escrow: 8,
      counterparties: 7,
      disputes_opened: 2,
      disputes_lost: 1,
      rating: 4.5,
      ratings: 3,
      first_seen: firstSeen,
      last_seen: Date.now() - 5 * 60_000,
      holders: 9,
      refused: [
        { holder: NEWCOMER, reason: 'the taker’s signature does not verify' },
        { holder: OTHER_PEER_ID, reason: 'the escrow transaction is not on the chain' },
      ],
    });
    const { user } = await openTake(backend);
    const panel = screen.getByRole('region', { name: 'Maker’s reputation' });
    const details = await within(panel).findByTestId('reputation-details');
    const value = (term: string) => within(details).getByText(term).nextElementSibling;
    expect(value('Settled trades')).toHaveTextContent('12 (8 of 12 with escrow verified on the chain)');
    expect(value('Counterparties')).toHaveTextContent('7 different peers');
    expect(value('Identity age')).toHaveTextContent(`3 days (since ${formatDay(firstSeen)})`);
    expect(value('Last seen')).toHaveTextContent('5 min ago');
    expect(value('Disputes')).toHaveTextContent('2 opened, 1 lost');
    expect(value('Rating')).toHaveTextContent('★4.5 from 3 ratings');
    expect(panel).toHaveTextContent('From signed trade receipts held by 9 peers');

    const refused = within(panel).getByTestId('reputation-refused');
    expect(refused).not.toHaveAttribute('open');
    await user.click(within(refused).getByText('2 receipts refused'));
    expect(refused).toHaveAttribute('open');
    const reasons = within(refused).getAllByRole('listitem');
    expect(reasons[0]).toHaveTextContent(`the taker’s signature does not verify (held by ${peerName(NEWCOMER)})`);
    expect(reasons[1]).toHaveTextContent('the escrow transaction is not on the chain');
    expect(backend.callsOf('reputation')).toEqual([[VETERAN]]);
  });

  it('says nothing is refused, and that there are no trades, for a newcomer', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    await openTake(backend);
    const panel = screen.getByRole('region', { name: 'Maker’s reputation' });
    const details = await within(panel).findByTestId('reputation-details');
    expect(within(details).getByTestId('reputation-settled')).toHaveTextContent('None yet');
    expect(details).toHaveTextContent('Unknown: never seen before');
    expect(details).toHaveTextContent('No ratings yet');
    expect(within(panel).queryByTestId('reputation-refused')).toBeNull();
  });

  it('shows the maker’s nickname in quotes, as text, and says nobody checked it', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 2, nickname: "<img src=x>Ahmed's LTC" });
    await openTake(backend);
    const panel = screen.getByRole('region', { name: 'Maker’s reputation' });
    const details = await within(panel).findByTestId('reputation-details');
    const row = within(details).getByTestId('reputation-nickname');
    expect(within(row).getByText('Nickname').tagName).toBe('DT');
    expect(within(row).getByText('Nickname').nextElementSibling?.textContent).toBe(
      "“<img src=x>Ahmed's LTC” — chosen by the maker, not checked by anyone",
    );
    expect(panel.querySelector('img')).toBeNull();
  });

  it('shows no nickname row when the maker chose none', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 2, nickname: null });
    await openTake(backend);
    const panel = screen.getByRole('region', { name: 'Maker’s reputation' });
    const details = await within(panel).findByTestId('reputation-details');
    expect(within(details).getByText('Settled trades')).toBeInTheDocument();
    expect(within(details).queryByTestId('reputation-nickname')).toBeNull();
    expect(within(details).queryByText('Nickname')).toBeNull();
    expect(panel).not.toHaveTextContent('chosen by the maker');
  });

  it('says it is checking, lets the take form be used meanwhile, and shows the answer when it comes', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 3 });
    const release = hold(backend);
    const { user } = await openTake(backend);
    const panel = screen.getByRole('region', { name: 'Maker’s reputation' });
    expect(within(panel).getByRole('status')).toHaveTextContent('Checking the reputation…');
    await user.type(screen.getByLabelText('Amount (BTC)'), '0.05');
    expect(screen.getByLabelText('Amount (BTC)')).toHaveValue('0.05');
    release();
    expect(await within(panel).findByTestId('reputation-settled')).toHaveTextContent('3 (None with escrow verified');
  });

  it('says why it could not check the reputation, with a retry', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[VETERAN] = 'the network is not up';
    const { user } = await openTake(backend);
    const panel = screen.getByRole('region', { name: 'Maker’s reputation' });
    const alert = await within(panel).findByRole('alert');
    expect(alert).toHaveTextContent('Could not check reputation: the network is not up');
    backend.reputations[VETERAN] = fakeReputation({ peer: VETERAN, settled: 4, with_escrow: 4 });
    const before = backend.callsOf('reputation').length;
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await within(panel).findByTestId('reputation-settled')).toHaveTextContent(
      '4 (4 of 4 with escrow verified on the chain)',
    );
    expect(within(panel).queryByRole('alert')).toBeNull();
    expect(backend.callsOf('reputation')).toHaveLength(before + 1);
  });
});

describe('Trade room: rating the counterparty', () => {
  async function openRoom(trade: TradeInfo, backend = new FakeBackend({ state: 'unlocked' })) {
    backend.tradeList = [trade];
    const app = await openApp(backend);
    await app.user.click(within(app.nav).getByRole('button', { name: /^Trades/ }));
    await app.user.click(await screen.findByRole('button', { name: /^Open trade/ }));
    await screen.findByRole('heading', { level: 1, name: /You (buy|sell)/ });
    return app;
  }

  const ended = (state: TradeInfo['state']) =>
    fakeTrade({ id: 't1', state, waiting_for: null, next_step: 'nothing left to do' });

  it('is offered once a trade ended, and not before', async () => {
    await openRoom(fakeTrade({ id: 't1', state: 'Accepted', waiting_for: null }));
    expect(screen.queryByRole('region', { name: 'Rate your counterparty' })).toBeNull();
  });

  it('sends 1–5 stars and a comment, and says the rating was published', async () => {
    const { user, backend } = await openRoom(ended('Completed'));
    const form = screen.getByRole('region', { name: 'Rate your counterparty' });
    const stars = within(form).getByRole('radiogroup', { name: `How was trading with ${peerName(OTHER_PEER_ID)}?` });
    expect(within(stars).getAllByRole('radio').map((r) => r.getAttribute('value'))).toEqual(['1', '2', '3', '4', '5']);

    // Stars are needed; nothing is sent without them.
    await user.click(within(form).getByRole('button', { name: 'Send rating' }));
    expect(stars).toHaveAccessibleDescription('Choose 1 to 5 stars.');
    expect(within(stars).getByRole('radio', { name: '1 star' })).toHaveFocus();
    expect(backend.callsOf('rateTrade')).toHaveLength(0);

    await user.click(within(stars).getByRole('radio', { name: '4 stars' }));
    const comment = within(form).getByLabelText('Comment (optional)');
    await user.type(comment, 'Quick and polite');
    expect(comment).toHaveAccessibleDescription(/16 of 140 bytes/);
    await user.click(within(form).getByRole('button', { name: 'Send rating' }));
    expect(await within(form).findByTestId('rated')).toHaveTextContent('Rated 4/5 — published with your receipts');
    expect(backend.callsOf('rateTrade')).toEqual([['t1', 4, 'Quick and polite']]);
    expect(backend.ratings.t1).toEqual({ stars: 4, comment: 'Quick and polite' });
  });

  it('counts the comment in bytes and refuses more than 140', async () => {
    const { user, backend } = await openRoom(ended('Expired'));
    const form = screen.getByRole('region', { name: 'Rate your counterparty' });
    await user.click(within(form).getByRole('radio', { name: '2 stars' }));
    const comment = within(form).getByLabelText('Comment (optional)');
    await user.type(comment, 'é'.repeat(71));
    expect(comment).toHaveAccessibleDescription(/142 of 140 bytes/);
    expect(comment).toHaveAccessibleDescription(/At most 140 bytes; this is 142\./);
    await user.click(within(form).getByRole('button', { name: 'Send rating' }));
    expect(comment).toHaveFocus();
    expect(backend.callsOf('rateTrade')).toHaveLength(0);
    await user.type(comment, '{Backspace}');
    expect(comment).toHaveAccessibleDescription(/140 of 140 bytes/);
    await user.click(within(form).getByRole('button', { name: 'Send rating' }));
    expect(await within(form).findByTestId('rated')).toHaveTextContent('Rated 2/5');
  });

  it('shows the core’s refusal in its own words, and sends again once the user changes something', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.refuseRatings = 'the counterparty has not countersigned this trade’s receipt yet; rate it once it did';
    const { user } = await openRoom(ended('Resolved'), backend);
    const form = screen.getByRole('region', { name: 'Rate your counterparty' });
    await user.click(within(form).getByRole('radio', { name: '5 stars' }));
    await user.click(within(form).getByRole('button', { name: 'Send rating' }));
    expect(await within(form).findByRole('alert')).toHaveTextContent(
      'The counterparty has not countersigned this trade’s receipt yet; rate it once it did',
    );
    expect(within(form).queryByTestId('rated')).toBeNull();

    backend.refuseRatings = null;
    await user.click(within(form).getByRole('radio', { name: '3 stars' }));
    expect(within(form).queryByRole('alert')).toBeNull();
    await user.click(within(form).getByRole('button', { name: 'Send rating' }));
    expect(await within(form).findByTestId('rated')).toHaveTextContent('Rated 3/5 — published with your receipts');
    expect(backend.ratings.t1).toEqual({ stars: 3, comment: '' });
  });

  it('is offered for cancelled trades too', async () => {
    await openRoom(ended('Cancelled'));
    expect(screen.getByRole('region', { name: 'Rate your counterparty' })).toBeInTheDocument();
  });
});
