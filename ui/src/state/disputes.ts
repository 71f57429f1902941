import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import { useBackend } from '../backend/context';
import { BackendError } from '../backend/errors';
import type { TradeSignal } from '../backend/types';
import type { Decision, DisputeInfo } from '../bindings';
import { orderDisputes, upsertDispute } from '../logic/disputes';

export const disputeKeys = {
  all: ['disputes'] as const,
  list: ['disputes', 'list'] as const,
  details: ['disputes', 'detail'] as const,
  detail: (id: string) => ['disputes', 'detail', id] as const,
};

async function asBackendCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

// Disputes live in the trade desk, which starts with the network: ask again until it is up.
const whileOffline = {
  retry: (failures: number, error: BackendError) => error.kind === 'offline' && failures < 30,
  retryDelay: 1_000,
};

/** The disputes sent to this node (as an arbitrator), open ones first, newest first; not asked when `enabled` is false. */
export function useDisputes(enabled = true) {
  const backend = useBackend();
  return useQuery({
    queryKey: disputeKeys.list,
    enabled,
    queryFn: async () => orderDisputes(await asBackendCall(backend.disputes())),
    ...whileOffline,
  });
}

export function useDispute(id: string) {
  const backend = useBackend();
  return useQuery({
    queryKey: disputeKeys.detail(id),
    queryFn: () => asBackendCall(backend.disputeInfo(id)),
    ...whileOffline,
  });
}

/** Stores a dispute the core returned, in the list (when loaded) and as its own entry. */
export function storeDispute(queryClient: QueryClient, dispute: DisputeInfo): void {
  queryClient.setQueryData<DisputeInfo[]>(disputeKeys.list, (list) => (list ? upsertDispute(list, dispute) : list));
  queryClient.setQueryData(disputeKeys.detail(dispute.trade_id), dispute);
}

/**
 * Applies one trade signal to the dispute cache: a case arrived or a decision was made (here, or from
 * another window or the CLI), so that dispute and the list are read again; a resync reads everything
 * again. Other trade signals do not concern disputes.
 */
export function applyDisputeSignal(queryClient: QueryClient, signal: TradeSignal): void {
  switch (signal.kind) {
    case 'dispute_opened':
    case 'dispute_resolved':
      void queryClient.invalidateQueries({ queryKey: disputeKeys.list });
      void queryClient.invalidateQueries({ queryKey: disputeKeys.detail(signal.trade_id) });
      return;
    case 'resync':
      void queryClient.invalidateQueries({ queryKey: disputeKeys.all });
      return;
    default:
      return;
  }
}

/**
 * The arbitrator's decision. A refusal (e.g. decided already, in another window) re-reads the dispute, so
 * the screen shows the decision that stands next to the refusal.
 */
export function useResolveDispute() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<DisputeInfo, BackendError, { tradeId: string; decision: Decision }>({
    mutationFn: ({ tradeId, decision }) => asBackendCall(backend.resolveDispute(tradeId, decision)),
    onSuccess: (dispute) => storeDispute(queryClient, dispute),
    onError: (_error, { tradeId }) => {
      void queryClient.invalidateQueries({ queryKey: disputeKeys.list });
      void queryClient.invalidateQueries({ queryKey: disputeKeys.detail(tradeId) });
    },
  });
}
