import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { peerName } from '../logic/peerName';
import { REPUTATION_LOOKUPS_AT_ONCE } from '../logic/reputation';
import { BUYER_PEER_ID, FakeBackend, OTHER_PEER_ID, SELLER_PEER_ID, fakeDispute, fakeMessage, fakeReputation, fakeTrade } from './fakeBackend';
import { reputationKeys } from '../state/reputation';
import { renderApp } from './renderApp';

const CAVEAT = 'Nickname chosen by the peer, not checked by anyone';

async function openApp(backend: FakeBackend) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  return { nav, backend, ...rendered };
}

async function openTrades(backend: FakeBackend) {
  const app = await openApp(backend);
  await app.user.click(within(app.nav).getByRole('button', { name: /^Trades/ }));
  await screen.findByTestId('trade-list');
  return app;
}

async function openRoom(backend: FakeBackend) {
  const app = await openTrades(backend);
  await app.user.click(await screen.findByRole('button', { name: /^Open trade/ }));
  await screen.findByRole('heading', { level: 1, name: /You (buy|sell)/ });
  return app;
}

async function openDisputes(backend: FakeBackend) {
  const app = await openApp(backend);
  await app.user.click(within(app.nav).getByRole('button', { name: /^Disputes/ }));
  await screen.findByTestId('dispute-list');
  return app;
}

/** The Terms panel's value for a term. */
function termValue(term: string): HTMLElement {
  const terms = screen.getByRole('region', { name: 'Terms' });
  const value = within(terms).getByText(term).nextElementSibling;
  if (!(value instanceof HTMLElement)) throw new Error(`no value for ${term}`);
  return value;
}

describe('Nicknames: the trade room', () => {
  it('shows the counterparty’s nickname beside its name, in the terms and once above the chat', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [fakeTrade({ id: 't1', counterparty: OTHER_PEER_ID })];
    backend.chats.t1 = [fakeMessage({ trade_id: 't1', body: 'hi' }), fakeMessage({ trade_id: 't1', body: 'are you there?' })];
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ nickname: "Ahmed's <i>LTC</i>" });
    await openRoom(backend);

    const counterparty = termValue('Counterparty');
    const nickname = await within(counterparty).findByTestId('peer-nickname');
    expect(nickname.querySelector('bdi')?.textContent).toBe("“Ahmed's <i>LTC</i>”");
    expect(nickname).toHaveAttribute('title', CAVEAT);
    expect(counterparty).toHaveTextContent(new RegExp(`^${peerName(OTHER_PEER_ID)} .+ “Ahmed's <i>LTC</i>” \\(${CAVEAT}\\)$`));

    const chat = screen.getByRole('region', { name: 'Chat' });
    const chatWith = within(chat).getByTestId('chat-with');
    expect(chatWith).toHaveTextContent(`with ${peerName(OTHER_PEER_ID)} “Ahmed's <i>LTC</i>” (${CAVEAT})`);
    await waitFor(() => expect(within(chat).getAllByTestId('chat-message')).toHaveLength(2));
    // Once for the chat, not on each message.
    expect(within(chat).getAllByTestId('peer-nickname')).toHaveLength(1);
    expect(within(within(chat).getByTestId('chat-log')).queryByTestId('peer-nickname')).toBeNull();
    expect(document.querySelector('i')).toBeNull();
    // The list, the room and its chat share one lookup.
    expect(backend.callsOf('reputation')).toEqual([[OTHER_PEER_ID]]);
  });

  it('shows only the derived name when the counterparty chose no nickname or the lookup failed', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.tradeList = [fakeTrade({ id: 't1', counterparty: OTHER_PEER_ID })];
    backend.reputations[OTHER_PEER_ID] = 'the network is not up';
    const { queryClient } = await openRoom(backend);
    await waitFor(() => {
      const state = queryClient.getQueryState(reputationKeys.peer(OTHER_PEER_ID));
      expect(state?.status).toBe('error');
      expect(state?.fetchStatus).toBe('idle');
    });
    expect(screen.queryByTestId('peer-nickname')).toBeNull();
    expect(screen.queryByText(/Could not check reputation/)).toBeNull();
    expect(screen.getByTestId('chat-with')).toHaveTextContent(new RegExp(`^with ${peerName(OTHER_PEER_ID)}$`));
  });
});

describe('Nicknames: the Trades list', () => {
  it('shows each row’s counterparty nickname, looking each counterparty up once and a few at a time', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const peers = [1, 2, 3, 4, 5, 6].map((n) => `12D3KooWCounterpartyForNicknameTests${n.toString()}xYzAbCdEfGh`);
    backend.tradeList = [
      ...peers.map((peer, i) => fakeTrade({ id: `t${i.toString()}`, counterparty: peer, created_at: 1_700_000_000_000 + i })),
      fakeTrade({ id: 'again', counterparty: peers[0] as string }),
    ];
    peers.forEach((peer, i) => {
      backend.reputations[peer] = fakeReputation({ peer, nickname: i === 1 ? null : `Nick ${i.toString()}` });
    });
    let release = () => {};
    backend.reputationHold = new Promise<void>((resolve) => {
      release = resolve;
    });
    await openTrades(backend);
    await waitFor(() => expect(backend.callsOf('reputation')).toHaveLength(REPUTATION_LOOKUPS_AT_ONCE));
    await act(() => new Promise((resolve) => setTimeout(resolve, 20)));
    expect(backend.callsOf('reputation')).toHaveLength(REPUTATION_LOOKUPS_AT_ONCE);
    expect(screen.queryByTestId('peer-nickname')).toBeNull();
    act(() => release());

    const row = (id: string) => document.querySelector<HTMLElement>(`.trade-row[data-trade-id="${id}"]`) as HTMLElement;
    await waitFor(() => expect(within(row('t5')).getByTestId('peer-nickname')).toHaveTextContent('“Nick 5”'));
    expect(within(row('t0')).getByTestId('peer-nickname')).toHaveTextContent('“Nick 0”');
    expect(within(row('again')).getByTestId('peer-nickname')).toHaveTextContent('“Nick 0”');
    expect(within(row('t1')).queryByTestId('peer-nickname')).toBeNull();
    expect(row('t3').querySelector('.trade-with')).toHaveTextContent(`with ${peerName(peers[3] as string)}`);
    expect(backend.callsOf('reputation').map(([peer]) => peer).sort()).toEqual([...peers].sort());
  });
});

describe('Nicknames: the Disputes screens', () => {
  it('shows the buyer’s and the seller’s nicknames in the list and in the dispute', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [fakeDispute()];
    backend.reputations[BUYER_PEER_ID] = fakeReputation({ peer: BUYER_PEER_ID, nickname: 'Buyer B' });
    backend.reputations[SELLER_PEER_ID] = fakeReputation({ peer: SELLER_PEER_ID, nickname: '<u>Seller S</u>' });
    const { user } = await openDisputes(backend);

    const parties = document.querySelectorAll<HTMLElement>('.dispute-row .party-line');
    expect(parties).toHaveLength(2);
    await waitFor(() => expect(within(parties[0] as HTMLElement).getByTestId('peer-nickname')).toHaveTextContent('“Buyer B”'));
    expect(parties[0]).toHaveTextContent(new RegExp(`^Buyer ${peerName(BUYER_PEER_ID)} `));
    expect(within(parties[1] as HTMLElement).getByTestId('peer-nickname')).toHaveTextContent('“<u>Seller S</u>”');
    expect(within(parties[1] as HTMLElement).getByTestId('peer-nickname')).toHaveAttribute('title', CAVEAT);

    await user.click(screen.getByRole('button', { name: /^Open dispute/ }));
    await screen.findByRole('heading', { level: 1, name: /^Dispute: / });
    const escrow = screen.getByRole('region', { name: 'Escrow and parties' });
    const value = (term: string) => within(escrow).getByText(term, { selector: 'dt' }).nextElementSibling as HTMLElement;
    expect(within(value('Buyer')).getByTestId('peer-nickname')).toHaveTextContent('“Buyer B”');
    expect(value('Buyer')).toHaveTextContent(/“Buyer B” \(Nickname chosen by the peer, not checked by anyone\) · paid to rltc1qbuyerpayoutaddress$/);
    expect(within(value('Seller')).getByTestId('peer-nickname').querySelector('bdi')?.textContent).toBe('“<u>Seller S</u>”');
    expect(document.querySelector('u')).toBeNull();
    expect(backend.callsOf('reputation').map(([peer]) => peer).sort()).toEqual([BUYER_PEER_ID, SELLER_PEER_ID].sort());
  });

  it('shows the parties without nicknames when they chose none or the lookup failed', async () => {
    const backend = new FakeBackend({ state: 'unlocked', arbitrator: true });
    backend.disputeList = [fakeDispute()];
    backend.reputations[SELLER_PEER_ID] = 'the network is not up';
    const { queryClient } = await openDisputes(backend);
    await waitFor(() => {
      for (const [peer, status] of [[BUYER_PEER_ID, 'success'], [SELLER_PEER_ID, 'error']] as const) {
        const state = queryClient.getQueryState(reputationKeys.peer(peer));
        expect(state?.status).toBe(status);
        expect(state?.fetchStatus).toBe('idle');
      }
    });
    expect(screen.queryByTestId('peer-nickname')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
