import { useState } from 'react';
import type { IdentityInfo } from '../bindings';
import { CardScreen } from '../components/CardScreen';
import { startupStep } from '../logic/startup';
import { AppFrame } from '../screens/frame/AppFrame';
import { StartupView } from '../screens/startup/StartupView';
import { useRetryStartup, useStartupProgress } from '../state/startup';

/**
 * Between the unlock and the app: the startup progress until the book is loaded, then the app. A
 * node that is already up (`souk serve`) goes straight through; a failed phase waits for Retry or
 * Continue offline.
 */
export function StartupGate({ identity }: { identity: IdentityInfo }) {
  // Once in the app, stay there whatever a later retry reports.
  const [entered, setEntered] = useState(false);
  const progress = useStartupProgress(!entered);
  const retry = useRetryStartup();
  const step = progress.data ? startupStep(progress.data) : null;

  // Latched while rendering (React's "adjust state when a prop changes"), not in an effect.
  if (step === 'ready' && !entered) setEntered(true);

  // A backend that cannot tell its progress is not a reason to keep anyone out of the app.
  if (entered || step === 'ready' || progress.isError) return <AppFrame identity={identity} />;
  if (!progress.data) {
    return (
      <CardScreen>
        <p role="status" className="lead">
          Starting Souk…
        </p>
      </CardScreen>
    );
  }
  return (
    <StartupView
      progress={progress.data}
      onRetry={() => retry.mutate()}
      retrying={retry.isPending}
      retryError={retry.isError ? retry.error : null}
      onContinue={() => setEntered(true)}
    />
  );
}
