import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeBackend, OTHER_PEER_ID, fakeReputation } from '../test/fakeBackend';
import { REPUTATION_FRESH_MS, REPUTATION_LOOKUPS_AT_ONCE } from '../logic/reputation';
import { createQueryClient } from './queryClient';
import { reputationQuery } from './reputation';

afterEach(() => {
  vi.useRealTimers();
});

describe('reputation lookups', () => {
  it('keep a peer’s reputation for a few minutes, then look it up again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_796_398_200_000);
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ settled: 3 });
    const client = createQueryClient();
    await expect(client.fetchQuery(reputationQuery(backend, OTHER_PEER_ID))).resolves.toMatchObject({ settled: 3 });
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ settled: 4 });
    vi.setSystemTime(1_796_398_200_000 + REPUTATION_FRESH_MS - 1_000);
    await expect(client.fetchQuery(reputationQuery(backend, OTHER_PEER_ID))).resolves.toMatchObject({ settled: 3 });
    expect(backend.callsOf('reputation')).toEqual([[OTHER_PEER_ID]]);
    vi.setSystemTime(1_796_398_200_000 + REPUTATION_FRESH_MS + 1_000);
    await expect(client.fetchQuery(reputationQuery(backend, OTHER_PEER_ID))).resolves.toMatchObject({ settled: 4 });
    expect(backend.callsOf('reputation')).toHaveLength(2);
  });

  it('run a few at a time per backend; the others wait their turn', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    let release = () => {};
    backend.reputationHold = new Promise((resolve) => {
      release = resolve;
    });
    const client = createQueryClient();
    const peers = [1, 2, 3, 4, 5, 6].map((n) => `12D3KooWQueuedPeer${n.toString()}ForLookupTests${'x'.repeat(20)}`);
    const all = Promise.all(peers.map((peer) => client.fetchQuery(reputationQuery(backend, peer))));
    await vi.waitFor(() => expect(backend.callsOf('reputation')).toHaveLength(REPUTATION_LOOKUPS_AT_ONCE));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(backend.callsOf('reputation')).toHaveLength(REPUTATION_LOOKUPS_AT_ONCE);
    release();
    const answers = await all;
    expect(answers.map((r) => r.peer)).toEqual(peers);
    expect(backend.callsOf('reputation').map(([peer]) => peer)).toEqual(peers);
  });

  it('pass a failed lookup on with its kind, and do not keep it', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.reputations[OTHER_PEER_ID] = 'the network is not up';
    const client = createQueryClient();
    await expect(client.fetchQuery(reputationQuery(backend, OTHER_PEER_ID))).rejects.toMatchObject({
      kind: 'offline',
      message: 'the network is not up',
    });
    backend.reputations[OTHER_PEER_ID] = fakeReputation({ settled: 1 });
    await expect(client.fetchQuery(reputationQuery(backend, OTHER_PEER_ID))).resolves.toMatchObject({ settled: 1 });
  });
});
