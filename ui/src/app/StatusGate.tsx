import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { CreatedIdentity } from '../bindings';
import { CardScreen } from '../components/CardScreen';
import { ErrorAlert } from '../components/ErrorAlert';
import { BackupFlow } from '../screens/onboarding/BackupFlow';
import { FirstRun } from '../screens/onboarding/FirstRun';
import { Unlock } from '../screens/unlock/Unlock';
import { markUnlocked, useAppStatus } from '../state/identity';
import { StartupGate } from './StartupGate';

/** Picks the screen from the backend's status. */
export function StatusGate() {
  const status = useAppStatus();
  const queryClient = useQueryClient();
  // A freshly created identity whose seed words are not yet confirmed. While
  // set, the backup flow stays on screen whatever the status says.
  const [pendingBackup, setPendingBackup] = useState<CreatedIdentity | null>(null);

  if (pendingBackup) {
    return (
      <BackupFlow
        words={pendingBackup.words}
        onComplete={() => {
          markUnlocked(queryClient, pendingBackup.identity);
          setPendingBackup(null);
        }}
      />
    );
  }

  if (status.isPending) {
    return (
      <CardScreen>
        <p role="status" className="lead">
          Starting Souk…
        </p>
      </CardScreen>
    );
  }

  if (status.isError) {
    return (
      <CardScreen>
        <h1>Souk could not start</h1>
        <ErrorAlert error={status.error}>
          <button
            type="button"
            className="button button--small"
            disabled={status.isFetching}
            onClick={() => void status.refetch()}
          >
            Try again
          </button>
        </ErrorAlert>
      </CardScreen>
    );
  }

  const appStatus = status.data;
  switch (appStatus.state) {
    case 'needs_setup':
      return <FirstRun onCreated={setPendingBackup} />;
    case 'locked':
      return <Unlock peerId={appStatus.peer_id} dataDir={appStatus.data_dir} />;
    case 'unlocked':
      return <StartupGate identity={appStatus.identity} />;
  }
}
