import { queryOptions, skipToken, useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import type { UseQueryResult } from '@tanstack/react-query';
import { useCallback, useContext } from 'react';
import { BackendContext, useBackend } from '../backend/context';
import { BackendError } from '../backend/errors';
import type { Backend } from '../backend/types';
import type { Reputation } from '../bindings';
import { LookupQueue, REPUTATION_FRESH_MS, REPUTATION_KEEP_MS, lookupFailure } from '../logic/reputation';
import type { RatingRequest, ReputationLookup } from '../logic/reputation';

export const reputationKeys = {
  all: ['reputation'] as const,
  peer: (peer: string) => ['reputation', peer] as const,
};

/** One queue per backend, so every screen's lookups share the same few places. */
const queues = new WeakMap<Backend, LookupQueue>();

function queueOf(backend: Backend): LookupQueue {
  let queue = queues.get(backend);
  if (!queue) {
    queue = new LookupQueue();
    queues.set(backend, queue);
  }
  return queue;
}

async function asBackendCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

/**
 * A peer's reputation, kept for a few minutes. The lookup waits its turn in the backend's queue; one
 * nobody shows any more (the book was left) gives its place up before it starts.
 */
export function reputationQuery(backend: Backend, peer: string) {
  return queryOptions({
    queryKey: reputationKeys.peer(peer),
    queryFn: ({ signal }) => lookUp(backend, peer, signal),
    staleTime: REPUTATION_FRESH_MS,
    gcTime: REPUTATION_KEEP_MS,
  });
}

function lookUp(backend: Backend, peer: string, signal: AbortSignal): Promise<Reputation> {
  return queueOf(backend).run(() => asBackendCall(backend.reputation(peer)), signal);
}

export function useReputation(peer: string) {
  const backend = useBackend();
  return useQuery(reputationQuery(backend, peer));
}

/**
 * The nickname a peer chose, from the same cached lookup as its reputation (the same queue, so a
 * list of many peers never asks more than a few at once); null while it is looked up, when the lookup
 * failed, when the peer chose none, or outside a backend (nothing is asked then).
 */
export function usePeerNickname(peer: string): string | null {
  const backend = useContext(BackendContext);
  const lookup = useQuery({
    queryKey: reputationKeys.peer(peer),
    queryFn: backend ? ({ signal }) => lookUp(backend, peer, signal) : skipToken,
    staleTime: REPUTATION_FRESH_MS,
    gcTime: REPUTATION_KEEP_MS,
    select: (reputation: Reputation) => reputation.nickname,
  });
  return lookup.data ?? null;
}

/** What a lookup shows: a reputation once known (even while it is checked again), else its state. */
function lookupOf(result: UseQueryResult<Reputation>): ReputationLookup {
  if (result.data) return { state: 'known', reputation: result.data };
  if (result.isError) return { state: 'failed', message: lookupFailure(result.error) };
  return { state: 'checking' };
}

/**
 * The reputation of each of `peers` (keep the array stable: it keys the answer), by PeerId. Lookups
 * run in the background; the map says which are known, still checking, or failed.
 */
export function useReputations(peers: readonly string[]): ReadonlyMap<string, ReputationLookup> {
  const backend = useBackend();
  const combine = useCallback(
    (results: UseQueryResult<Reputation>[]) =>
      new Map(peers.map((peer, i) => [peer, lookupOf(results[i] as UseQueryResult<Reputation>)] as const)),
    [peers],
  );
  return useQueries({ queries: peers.map((peer) => reputationQuery(backend, peer)), combine });
}

/** Rates an ended trade's counterparty; its reputation is looked up again next time it is shown. */
export function useRateTrade(counterparty: string) {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<RatingRequest, BackendError, RatingRequest & { tradeId: string }>({
    mutationFn: async ({ tradeId, stars, comment }) => {
      await asBackendCall(backend.rateTrade(tradeId, stars, comment));
      return { stars, comment };
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: reputationKeys.peer(counterparty) });
    },
  });
}
