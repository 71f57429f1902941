import { useEffect, useRef } from 'react';
import type { StartupProgress } from '../../bindings';
import { CardScreen } from '../../components/CardScreen';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PHASE_LABELS, failedPhase } from '../../logic/startup';
import { StartupPhases } from './StartupPhases';

interface StartupViewProps {
  progress: StartupProgress;
  /** Runs the network phases again. */
  onRetry: () => void;
  retrying: boolean;
  /** Why the retry itself could not be asked for (not a phase's failure). */
  retryError: unknown;
  /** Goes on to the app with what works offline. */
  onContinue: () => void;
}

/** What the status line says: the phase under way, or that one failed. */
function statusText(progress: StartupProgress): string {
  const failed = failedPhase(progress);
  if (failed) return `${PHASE_LABELS[failed.phase]} failed.`;
  const running = progress.phases.find((p) => p.state === 'running' || p.state === 'pending');
  return running ? `${PHASE_LABELS[running.phase]}…` : 'Souk is ready.';
}

/**
 * The start after the passphrase, phase by phase. A failed phase shows its error with Retry and
 * Continue offline (the book and trades work offline).
 */
export function StartupView({ progress, onRetry, retrying, retryError, onContinue }: StartupViewProps) {
  const failed = retrying ? undefined : failedPhase(progress);
  const retryRef = useRef<HTMLButtonElement>(null);
  const failedPhaseName = failed?.phase;
  useEffect(() => {
    // A failure takes the focus to what can be done about it.
    if (failedPhaseName) retryRef.current?.focus();
  }, [failedPhaseName]);

  return (
    <CardScreen testId="startup-view">
      <h1>Starting Souk</h1>
      <p className="muted" role="status">
        {retrying ? 'Trying again…' : statusText(progress)}
      </p>
      <StartupPhases phases={progress.phases} />
      {failed ? (
        <div className="startup-failure" role="group" aria-label="Start could not finish">
          <p className="alert-text">{PHASE_LABELS[failed.phase]} failed: the reason is shown above.</p>
          <p className="muted">
            You can try again, or continue offline: your order book and trades work offline, and
            Souk keeps looking for peers.
          </p>
          <div className="form-actions">
            <button type="button" className="button" onClick={onContinue}>
              Continue offline
            </button>
            <button ref={retryRef} type="button" className="button button--primary" onClick={onRetry}>
              Retry
            </button>
          </div>
        </div>
      ) : null}
      {retryError ? <ErrorAlert error={retryError} /> : null}
    </CardScreen>
  );
}
