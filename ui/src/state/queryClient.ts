import { QueryClient } from '@tanstack/react-query';
import type { BackendError } from '../backend/errors';

declare module '@tanstack/react-query' {
  interface Register {
    defaultError: BackendError;
  }
}

/**
 * The app status only changes through our own mutations, so it is never
 * refetched behind the user's back (which could skip the seed-word backup).
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: Infinity,
        refetchOnWindowFocus: false,
        refetchOnReconnect: false,
        retry: false,
      },
      mutations: {
        retry: false,
      },
    },
  });
}
