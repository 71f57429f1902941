import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useBackend } from '../backend/context';
import { BackendError } from '../backend/errors';
import type { StartupProgress } from '../bindings';
import { startupSettled } from '../logic/startup';

export const startupKey = ['startup'] as const;

/** How often the progress is read while a phase is still to come. */
export const STARTUP_POLL_MS = 250;

async function asBackendCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

/**
 * The startup progress, read again every {@link STARTUP_POLL_MS} until every phase has finished
 * (done or failed). `watch` is false when nobody is looking.
 */
export function useStartupProgress(watch = true) {
  const backend = useBackend();
  return useQuery({
    queryKey: startupKey,
    queryFn: () => asBackendCall(backend.startupProgress()),
    enabled: watch,
    // Read fresh whenever someone starts watching: an unlock or a retry changes it behind the cache.
    staleTime: 0,
    refetchInterval: (query) => {
      const progress = query.state.data;
      return progress && startupSettled(progress) ? false : STARTUP_POLL_MS;
    },
  });
}

export function useRetryStartup() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<StartupProgress, BackendError, void>({
    mutationFn: () => asBackendCall(backend.retryStartup()),
    onMutate: () => {
      // The retry runs Tor (in Tor mode) and the network phases again: show them as pending, not as
      // the old failure.
      queryClient.setQueryData<StartupProgress>(startupKey, (previous) =>
        previous
          ? {
              phases: previous.phases.map((p) =>
                ['tor', 'network', 'bootstrap', 'book'].includes(p.phase)
                  ? { ...p, state: 'pending', detail: null, error: null, elapsed_ms: null }
                  : p,
              ),
            }
          : previous,
      );
    },
    onSettled: (progress) => {
      if (progress) queryClient.setQueryData(startupKey, progress);
      else void queryClient.invalidateQueries({ queryKey: startupKey });
    },
  });
}
