import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../app/App';
import type { Backend } from '../backend/types';
import { createQueryClient } from '../state/queryClient';

/** Renders the whole app against a backend with a fresh query cache. */
export function renderApp(backend: Backend | null) {
  const user = userEvent.setup();
  const queryClient = createQueryClient();
  const result = render(<App backend={backend} queryClient={queryClient} />);
  return { user, queryClient, ...result };
}
