import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FAKE_PEER_ID, FakeBackend, OTHER_PEER_ID, fakeEntry, fakeOffer } from './fakeBackend';
import { peerName } from '../logic/peerName';
import { renderApp } from './renderApp';

async function openApp(backend = new FakeBackend({ state: 'unlocked' })) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  return { nav, backend, ...rendered };
}

function sellTable() {
  return screen.getByRole('table', { name: /Sell offers/ });
}

describe('Market', () => {
  it('shows both sides of the book with price, range, maker and terms', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 's1', price: { fixed: '61000' }, terms: 'Fast payer' }),
      fakeEntry({ id: 's2', price: { fixed: '59000.5' } }),
      fakeEntry({ id: 'b1', side: 'buy', price: { fixed: '57000' }, payment_methods: ['REVOLUT'] }),
    ];
    backend.price = { base: 'BTC', quote: 'EUR', price: '60000', fetched_at_ms: 0, source: 'test' };
    await openApp(backend);
    await screen.findByText('59,000.5 EUR');
    const sells = within(sellTable()).getAllByRole('row').slice(1);
    // Cheapest sell first.
    expect(sells[0]).toHaveTextContent('59,000.5 EUR');
    expect(sells[0]).toHaveTextContent('-1.67 %');
    expect(sells[1]).toHaveTextContent('61,000 EUR');
    expect(sells[1]).toHaveTextContent('0.01 – 0.1 BTC');
    expect(sells[1]).toHaveTextContent('Fast payer');
    expect(within(sells[1] as HTMLElement).getByTestId('peer-id')).toHaveAttribute('title', OTHER_PEER_ID);
    const buys = within(screen.getByRole('table', { name: /Buy offers/ })).getAllByRole('row').slice(1);
    expect(buys).toHaveLength(1);
    expect(screen.getByTestId('market-price')).toHaveTextContent('60,000 EUR');
  });

  it('shows offer terms as text, never as HTML', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const terms = '<script>window.pwned = true</script><b>bold</b> <img src=x onerror="alert(1)">';
    backend.book = [fakeEntry({ terms })];
    await openApp(backend);
    const cell = await screen.findByTestId('offer-terms');
    expect(cell.textContent).toBe(terms);
    expect(cell.querySelector('script, b, img')).toBeNull();
    expect((window as unknown as Record<string, unknown>).pwned).toBeUndefined();
  });

  it('filters by payment method and amount, and explains an amount it cannot read', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 'sepa', payment_methods: ['SEPA'], price: { fixed: '60000' } }),
      fakeEntry({ id: 'big', payment_methods: ['REVOLUT'], price: { fixed: '60001' }, min_amount: 20_000_000, max_amount: 90_000_000 }),
    ];
    const { user } = await openApp(backend);
    await screen.findByText('60,000 EUR');
    await user.selectOptions(screen.getByLabelText('Payment method'), 'REVOLUT');
    expect(within(sellTable()).queryByText('60,000 EUR')).toBeNull();
    expect(within(sellTable()).getByText('60,001 EUR')).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('Payment method'), '');
    await user.type(screen.getByLabelText('Amount I want to trade (BTC)'), '0.05');
    expect(within(sellTable()).getByText('60,000 EUR')).toBeInTheDocument();
    expect(within(sellTable()).queryByText('60,001 EUR')).toBeNull();
    await user.clear(screen.getByLabelText('Amount I want to trade (BTC)'));
    await user.type(screen.getByLabelText('Amount I want to trade (BTC)'), 'lots');
    expect(screen.getByLabelText('Amount I want to trade (BTC)')).toHaveAccessibleDescription(/not a number/);
  });

  it('adds and removes offers live from market events, without reloading the book first', async () => {
    const { backend } = await openApp();
    await screen.findByText('Nobody sells BTC for EUR yet.');
    expect(backend.subscribers).toBe(1);
    const offer = fakeOffer({ id: 'live', price: { fixed: '62000' }, terms: 'arrived live' });
    backend.book.push(fakeEntry(offer));
    act(() => backend.emit({ kind: 'offer_added', offer }));
    expect(await screen.findByText('arrived live')).toBeInTheDocument();
    backend.book = [];
    act(() => backend.emit({ kind: 'offer_withdrawn', id: 'live' }));
    await waitFor(() => expect(screen.queryByText('arrived live')).toBeNull());
  });

  it('shows an error with a retry when the book cannot be read', async () => {
    const backend = new FakeBackend({ state: 'unlocked', failNext: { offers: 'storage' } });
    const { user } = await openApp(backend);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Souk could not read or write its data.');
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('Nobody sells BTC for EUR yet.')).toBeInTheDocument();
  });
});

describe('Post offer', () => {
  it('shows errors next to fields, previews the offer, posts it and opens My offers', async () => {
    const { user, nav, backend } = await openApp();
    await user.click(within(nav).getByRole('button', { name: 'Post offer' }));
    await user.click(screen.getByRole('button', { name: 'Publish offer' }));
    expect(screen.getByLabelText('Price (EUR per BTC)')).toHaveAccessibleDescription('Enter a price in EUR per BTC.');
    expect(screen.getByLabelText('Price (EUR per BTC)')).toHaveFocus();
    expect(screen.getByLabelText('Payment methods')).toHaveAccessibleDescription(/Name at least one payment method/);
    expect(backend.callsOf('postOffer')).toHaveLength(0);

    await user.type(screen.getByLabelText('Price (EUR per BTC)'), '61000');
    await user.type(screen.getByLabelText('Minimum amount (BTC)'), '0.2');
    await user.type(screen.getByLabelText('Maximum amount (BTC)'), '0.1');
    expect(screen.getByLabelText('Maximum amount (BTC)')).toHaveAccessibleDescription(
      'The maximum must not be below the minimum.',
    );
    await user.clear(screen.getByLabelText('Maximum amount (BTC)'));
    await user.type(screen.getByLabelText('Maximum amount (BTC)'), '0.5');
    await user.type(screen.getByLabelText('Payment methods'), 'sepa');
    await user.type(screen.getByLabelText('Terms'), '<b>no html</b>');
    const preview = screen.getByTestId('offer-preview');
    expect(preview).toHaveTextContent('Selling BTC for EUR');
    expect(preview).toHaveTextContent('61000 EUR per BTC');
    expect(preview).toHaveTextContent('0.2 – 0.5 BTC');
    expect(within(preview).getByTestId('offer-terms').textContent).toBe('<b>no html</b>');

    await user.click(screen.getByRole('button', { name: 'Publish offer' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'My offers' })).toBeInTheDocument();
    expect(backend.callsOf('postOffer')[0]?.[0]).toMatchObject({
      price: { fixed: '61000' },
      min_amount: 20_000_000,
      max_amount: 50_000_000,
      payment_methods: ['SEPA'],
    });
    expect(await screen.findByText('Live')).toBeInTheDocument();
  });

  it('switches to a premium and multisig escrow with arbitrators', async () => {
    const { user, nav } = await openApp();
    await user.click(within(nav).getByRole('button', { name: 'Post offer' }));
    await user.click(screen.getByRole('radio', { name: 'Relative to the market price' }));
    await user.type(screen.getByLabelText('Premium over market (%)'), '-1.5');
    await user.click(screen.getByRole('radio', { name: '2-of-3 multisig with an arbitrator' }));
    const arbitrators = screen.getByLabelText('Arbitrators you accept');
    await user.type(arbitrators, 'nobody');
    await user.tab();
    expect(arbitrators).toHaveAccessibleDescription(/not a Peer ID/);
    expect(screen.getByTestId('offer-preview')).toHaveTextContent('market price -1.5 %');
  });

  it('reports a refusal from the core', async () => {
    const backend = new FakeBackend({ state: 'unlocked', failNext: { postOffer: 'offline' } });
    const { user, nav } = await openApp(backend);
    await user.click(within(nav).getByRole('button', { name: 'Post offer' }));
    await user.type(screen.getByLabelText('Price (EUR per BTC)'), '1');
    await user.type(screen.getByLabelText('Minimum amount (BTC)'), '1');
    await user.type(screen.getByLabelText('Maximum amount (BTC)'), '1');
    await user.type(screen.getByLabelText('Payment methods'), 'SEPA');
    await user.click(screen.getByRole('button', { name: 'Publish offer' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('not connected to the network');
  });
});

describe('My offers', () => {
  it('lists live, expired and withdrawn offers and withdraws after confirmation', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const mine = (id: string, terms: string) => fakeOffer({ id, maker: FAKE_PEER_ID, terms });
    backend.myOfferList = [
      { offer: mine('live', 'live one'), state: { state: 'live' } },
      { offer: mine('old', 'old one'), state: { state: 'expired' } },
      { offer: mine('gone', 'gone one'), state: { state: 'withdrawn', at: 1_700_000_000_000 } },
    ];
    const { user, nav } = await openApp(backend);
    await user.click(within(nav).getByRole('button', { name: 'My offers' }));
    const list = await screen.findByRole('list', { name: 'Your offers' });
    const cards = within(list).getAllByRole('listitem');
    expect(cards.map((c) => c.getAttribute('data-state'))).toEqual(['live', 'expired', 'withdrawn']);
    // Only the live one can be withdrawn.
    expect(within(list).getAllByRole('button', { name: 'Withdraw' })).toHaveLength(1);

    await user.click(within(cards[0] as HTMLElement).getByRole('button', { name: 'Withdraw' }));
    expect(within(cards[0] as HTMLElement).getByRole('button', { name: 'Yes, withdraw' })).toHaveFocus();
    await user.click(within(cards[0] as HTMLElement).getByRole('button', { name: 'Keep it' }));
    expect(backend.callsOf('withdrawOffer')).toHaveLength(0);

    await user.click(within(cards[0] as HTMLElement).getByRole('button', { name: 'Withdraw' }));
    await user.keyboard('{Enter}');
    await waitFor(() => expect(backend.callsOf('withdrawOffer')).toEqual([['live']]));
    await waitFor(() =>
      expect(within(list).getAllByRole('listitem').map((c) => c.getAttribute('data-state'))).toEqual([
        'withdrawn',
        'expired',
        'withdrawn',
      ]),
    );
  });
});

describe('Market: only my payment methods, and the maker’s history with you', () => {
  it('is off with a way to Settings until there is a payment account', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [fakeEntry({ id: 'sepa', payment_methods: ['SEPA'] })];
    const { user, nav } = await openApp(backend);
    const only = await screen.findByRole('checkbox', { name: 'Only my payment methods' });
    await waitFor(() => expect(only).toHaveAccessibleDescription(/No payment accounts yet/));
    expect(only).toBeDisabled();
    await user.click(screen.getByRole('button', { name: 'Add one in Settings' }));
    expect(screen.getByRole('heading', { level: 1, name: 'Settings' })).toBeInTheDocument();
    expect(within(nav).getByRole('button', { name: 'Settings' })).toHaveAttribute('aria-current', 'page');
  });

  it('reads a long side of the book a page at a time, and more when asked', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      ...Array.from({ length: 130 }, (_, i) => fakeEntry({ id: `s${i.toString()}`, price: { fixed: (60_000 + i).toString() } })),
      fakeEntry({ id: 'b1', side: 'buy', price: { fixed: '57000' } }),
    ];
    const { user } = await openApp(backend);
    await screen.findByText('60,000 EUR');
    // The first page of each side only, best first: the dearest sells are not read yet.
    expect(within(sellTable()).getAllByRole('row')).toHaveLength(1 + 100);
    expect(within(sellTable()).queryByText('60,129 EUR')).toBeNull();
    expect(screen.getByText('101 of 131 offers shown · 101 read so far')).toBeInTheDocument();
    const pages = backend.calls.filter((c) => c.method === 'bookPage').map((c) => c.args);
    expect(pages).toContainEqual([
      { base: 'BTC', quote: 'EUR', side: 'sell', method: null, amount: null, include_mine: true },
      { after: null, limit: 100 },
    ]);
    // The buy side is read on its own, so a long sell side never hides it.
    expect(within(screen.getByRole('table', { name: /Buy offers/ })).getByText('57,000 EUR')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Show more buy offers' })).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Show more sell offers' }));
    expect(await within(sellTable()).findByText('60,129 EUR')).toBeInTheDocument();
    expect(within(sellTable()).getAllByRole('row')).toHaveLength(1 + 130);
    expect(screen.getByText('131 of 131 offers shown')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Show more sell offers' })).toBeNull();
  }, 20_000);

  it('hides offers paid by methods I have no account for', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.prefs.payment_accounts = [{ id: 'a1', method: 'SEPA', label: 'Main bank', details: 'DE00' }];
    backend.book = [
      fakeEntry({ id: 'sepa', payment_methods: ['SEPA'], price: { fixed: '60000' } }),
      fakeEntry({ id: 'zelle', payment_methods: ['ZELLE'], price: { fixed: '60001' } }),
    ];
    const { user } = await openApp(backend);
    await screen.findByText('60,001 EUR');
    const only = screen.getByRole('checkbox', { name: 'Only my payment methods' });
    await waitFor(() => expect(only).toBeEnabled());
    expect(only).toHaveAccessibleDescription('SEPA');
    await user.click(only);
    expect(within(sellTable()).queryByText('60,001 EUR')).toBeNull();
    expect(within(sellTable()).getByText('60,000 EUR')).toBeInTheDocument();
    expect(screen.getByText('1 of 2 offers shown')).toBeInTheDocument();
    await user.click(only);
    expect(within(sellTable()).getByText('60,001 EUR')).toBeInTheDocument();
  });

  it('shows how many trades I completed with each maker, labelled as my own history', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 'known', price: { fixed: '60000' } }, { completed_with_maker: 2 }),
      fakeEntry({ id: 'stranger', maker: '12D3KooWStrangerMakerPeerIdForTests7aBcDeFgHiJk', price: { fixed: '60001' } }),
    ];
    await openApp(backend);
    await screen.findByText('60,001 EUR');
    const rows = within(sellTable()).getAllByRole('row').slice(1);
    expect(within(rows[0] as HTMLElement).getByTestId('maker-history')).toHaveTextContent('2 trades with you');
    expect(within(rows[1] as HTMLElement).getByTestId('maker-history')).toHaveTextContent('New to you');
    expect(within(sellTable()).getByRole('columnheader', { name: /history with you/ })).toBeInTheDocument();
    expect(screen.getByText(/It is not a reputation/)).toBeInTheDocument();
  });
});

describe('Maker reach', () => {
  it('marks makers reachable over Tor, and only them', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [
      fakeEntry({ id: 'onion', price: { fixed: '60000' } }, { maker_reach: 'tor' }),
      fakeEntry(
        { id: 'clear', maker: '12D3KooWStrangerMakerPeerIdForTests7aBcDeFgHiJk', price: { fixed: '60001' } },
        { maker_reach: 'clearnet' },
      ),
    ];
    await openApp(backend);
    await screen.findByText('60,001 EUR');
    const rows = within(sellTable()).getAllByRole('row').slice(1);
    const tor = within(rows[0] as HTMLElement).getByTestId('maker-tor');
    expect(tor).toHaveTextContent('Tor');
    expect(tor).toHaveAttribute('title', expect.stringMatching(/over Tor only/));
    expect(within(rows[1] as HTMLElement).queryByTestId('maker-tor')).toBeNull();
  });
});

describe('Network', () => {
  it('shows peers, addresses and DHT numbers', async () => {
    const { user, nav } = await openApp();
    await user.click(within(nav).getByRole('button', { name: 'Network' }));
    expect(await screen.findByTestId('connected-peers')).toHaveTextContent('1');
    expect(screen.getByText(OTHER_PEER_ID)).toBeInTheDocument();
    expect(screen.getByText(`/ip4/127.0.0.1/tcp/4001/p2p/${FAKE_PEER_ID}`)).toBeInTheDocument();
    expect(screen.getByText('2')).toBeInTheDocument();
  });

  it('says it is connecting while the network is not up', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.network = null;
    const { user, nav } = await openApp(backend);
    await user.click(within(nav).getByRole('button', { name: 'Network' }));
    expect(await screen.findByText('Connecting to the network…')).toBeInTheDocument();
  });
});

describe('Saved searches', () => {
  it('saves the filters set now by name, applies them again and removes them', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [fakeEntry({ id: 's1' }), fakeEntry({ id: 's2', payment_methods: ['REVOLUT'] })];
    const { user } = await openApp(backend);
    await screen.findAllByTestId('peer-id');
    await user.selectOptions(screen.getByLabelText('Payment method'), 'SEPA');
    await user.type(screen.getByLabelText(/Amount I want to trade/), '0.05');
    await user.type(screen.getByLabelText('Save these filters as'), 'BTC by SEPA');
    await user.click(screen.getByRole('button', { name: 'Save search' }));
    expect(await screen.findByText(/Saved “BTC by SEPA”/)).toBeInTheDocument();
    expect(backend.prefs.saved_searches).toEqual([
      {
        id: expect.any(String) as string,
        name: 'BTC by SEPA',
        query: { base: 'BTC', quote: 'EUR', side: null, method: 'SEPA', amount: 5_000_000, include_mine: null },
      },
    ]);
    const list = screen.getByRole('list', { name: 'Saved searches' });
    expect(list).toHaveTextContent('BTC/EUR · SEPA · 0.05 BTC');

    // Cleared filters come back from the saved search.
    await user.selectOptions(screen.getByLabelText('Payment method'), '');
    await user.clear(screen.getByLabelText(/Amount I want to trade/));
    await user.click(within(list).getByRole('button', { name: 'BTC by SEPA' }));
    expect(screen.getByLabelText('Payment method')).toHaveValue('SEPA');
    expect(screen.getByLabelText(/Amount I want to trade/)).toHaveValue('0.05');

    await user.click(within(list).getByRole('button', { name: 'Remove saved search BTC by SEPA' }));
    await waitFor(() => expect(backend.prefs.saved_searches).toEqual([]));
    expect(screen.queryByRole('list', { name: 'Saved searches' })).not.toBeInTheDocument();
  });

  it('lists a new offer that matched a saved search until it is dismissed', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [];
    const { user } = await openApp(backend);
    await screen.findByLabelText('Save these filters as');
    const offer = fakeOffer({ id: 'matched' });
    act(() => backend.emit({ kind: 'offer_matched', search_id: 'x', search_name: 'BTC by SEPA', offer }));
    const match = await screen.findByTestId('offer-match');
    expect(match).toHaveTextContent(`New offer for “BTC by SEPA”: ${peerName(offer.maker)} sells 0.01–0.1 BTC for EUR.`);
    await user.click(within(match).getByRole('button', { name: 'Dismiss the new offer for BTC by SEPA' }));
    expect(screen.queryByTestId('offer-match')).not.toBeInTheDocument();
  });

  it('shows every peer with the name and avatar all nodes give it', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.book = [fakeEntry({ id: 's1' })];
    await openApp(backend);
    await screen.findByRole('table', { name: /Sell offers/ });
    const row = within(sellTable()).getAllByRole('row')[1] as HTMLElement;
    expect(within(row).getByTestId('peer-name')).toHaveTextContent(peerName(OTHER_PEER_ID));
    expect(within(row).getByTestId('peer-avatar')).toBeInTheDocument();
  });
});
