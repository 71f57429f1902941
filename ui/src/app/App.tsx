import { useState } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import { BackendProvider } from '../backend/BackendProvider';
import type { Backend } from '../backend/types';
import { createQueryClient } from '../state/queryClient';
import { NoBackend } from './NoBackend';
import { StatusGate } from './StatusGate';

interface AppProps {
  /** The backend chosen by selectBackend(); null when none is reachable. */
  backend: Backend | null;
  /** Tests pass their own client; the app creates one otherwise. */
  queryClient?: QueryClient;
}

export function App({ backend, queryClient }: AppProps) {
  const [client] = useState(() => queryClient ?? createQueryClient());

  if (!backend) return <NoBackend />;

  return (
    <BackendProvider backend={backend}>
      <QueryClientProvider client={client}>
        <StatusGate />
      </QueryClientProvider>
    </BackendProvider>
  );
}
