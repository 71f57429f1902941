import { QueryClientProvider } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import { act, render, screen, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { describe, expect, it } from 'vitest';
import { BackendProvider } from '../backend/BackendProvider';
import { createQueryClient } from '../state/queryClient';
import { reputationKeys } from '../state/reputation';
import { FakeBackend, OTHER_PEER_ID, fakeReputation } from '../test/fakeBackend';
import { PeerNickname } from './PeerNickname';

const CAVEAT = 'Nickname chosen by the peer, not checked by anyone';

function renderWith(backend: FakeBackend | null, ui: ReactNode) {
  const client = createQueryClient();
  const wrapped = backend ? <BackendProvider backend={backend}>{ui}</BackendProvider> : ui;
  const result = render(
    <QueryClientProvider client={client}>
      <p data-testid="line">Amber Falcon 07{wrapped}</p>
    </QueryClientProvider>,
  );
  return { client, ...result };
}

/** Waits until the peer's lookup is over, however it ended. */
async function settled(client: QueryClient, peer = OTHER_PEER_ID) {
  await waitFor(() => {
    const state = client.getQueryState(reputationKeys.peer(peer));
    expect(state?.fetchStatus).toBe('idle');
    expect(state?.status).not.toBe('pending');
  });
}

describe('PeerNickname', () => {
  it('shows the nickname from the peer’s reputation, in quotes, as text inside <bdi>, with its caveat', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ nickname: "<b>Ahmed</b>'s LTC" });
    const { container } = renderWith(backend, <PeerNickname peer={OTHER_PEER_ID} />);
    const nickname = await screen.findByTestId('peer-nickname');
    expect(nickname).toHaveAttribute('title', CAVEAT);
    const bdi = nickname.querySelector('bdi');
    expect(bdi?.textContent).toBe("“<b>Ahmed</b>'s LTC”");
    expect(bdi?.childElementCount).toBe(0);
    expect(container.querySelector('b')).toBeNull();
    // Screen readers hear the caveat too; the nickname follows the derived name after a space.
    expect(screen.getByTestId('line').textContent).toBe(`Amber Falcon 07 “<b>Ahmed</b>'s LTC” (${CAVEAT})`);
    expect(backend.callsOf('reputation')).toEqual([[OTHER_PEER_ID]]);
  });

  it('shows nothing while the lookup runs, then the nickname', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ nickname: 'Ahmed' });
    let release = () => {};
    backend.reputationHold = new Promise<void>((resolve) => {
      release = resolve;
    });
    renderWith(backend, <PeerNickname peer={OTHER_PEER_ID} />);
    await waitFor(() => expect(backend.callsOf('reputation')).toHaveLength(1));
    expect(screen.queryByTestId('peer-nickname')).toBeNull();
    expect(screen.getByTestId('line').textContent).toBe('Amber Falcon 07');
    act(() => release());
    expect(await screen.findByTestId('peer-nickname')).toHaveTextContent('“Ahmed”');
  });

  it('shows nothing when the peer chose no nickname', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ settled: 3, nickname: null });
    const { client } = renderWith(backend, <PeerNickname peer={OTHER_PEER_ID} />);
    await settled(client);
    expect(client.getQueryState(reputationKeys.peer(OTHER_PEER_ID))?.status).toBe('success');
    expect(screen.queryByTestId('peer-nickname')).toBeNull();
    expect(screen.getByTestId('line').textContent).toBe('Amber Falcon 07');
  });

  it('shows nothing, and no error, when the lookup fails', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[OTHER_PEER_ID] = 'the network is not up';
    const { client } = renderWith(backend, <PeerNickname peer={OTHER_PEER_ID} />);
    await settled(client);
    expect(client.getQueryState(reputationKeys.peer(OTHER_PEER_ID))?.status).toBe('error');
    expect(screen.queryByTestId('peer-nickname')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('line').textContent).toBe('Amber Falcon 07');
  });

  it('looks a peer up once however often it is shown', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ nickname: 'Ahmed' });
    renderWith(
      backend,
      <>
        <PeerNickname peer={OTHER_PEER_ID} />
        <PeerNickname peer={OTHER_PEER_ID} />
      </>,
    );
    await waitFor(() => expect(screen.getAllByTestId('peer-nickname')).toHaveLength(2));
    expect(backend.callsOf('reputation')).toEqual([[OTHER_PEER_ID]]);
  });

  it('asks nothing and shows nothing without a backend', async () => {
    const { client } = renderWith(null, <PeerNickname peer={OTHER_PEER_ID} />);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.getQueryState(reputationKeys.peer(OTHER_PEER_ID))?.fetchStatus ?? 'idle').toBe('idle');
    expect(client.getQueryState(reputationKeys.peer(OTHER_PEER_ID))?.status ?? 'pending').toBe('pending');
    expect(screen.queryByTestId('peer-nickname')).toBeNull();
  });
});
