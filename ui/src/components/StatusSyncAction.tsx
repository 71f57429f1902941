import type { BackendError } from '../backend/errors';
import { useRefreshStatus } from '../state/identity';

/**
 * When the backend says the identity state differs from what this screen
 * assumed (e.g. it already exists), offer to reload the status, which moves
 * the app to the right screen.
 */
export function StatusSyncAction({ error }: { error: BackendError }) {
  const refreshStatus = useRefreshStatus();
  if (error.kind !== 'already_initialized' && error.kind !== 'not_initialized') return null;
  return (
    <button type="button" className="button button--small" onClick={() => void refreshStatus()}>
      {error.kind === 'already_initialized' ? 'Go to unlock' : 'Start setup'}
    </button>
  );
}
