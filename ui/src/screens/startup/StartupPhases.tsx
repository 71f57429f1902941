import type { ErrorPayload, PhaseProgress } from '../../bindings';
import { inCoreWords } from '../../logic/errorMessages';
import { PHASE_LABELS, formatElapsed } from '../../logic/startup';

const STATE_TEXT: Record<PhaseProgress['state'], string> = {
  pending: 'Waiting',
  running: 'In progress',
  done: 'Done',
  failed: 'Failed',
};

/** A phase's error in the core's own words (they name the address, the file, the reason). */
export function phaseErrorText(error: ErrorPayload): string {
  return inCoreWords(error);
}

/**
 * The startup phases in order, each with its state and what it found. Rows keep their height as
 * states change, so nothing jumps while the list updates.
 */
export function StartupPhases({ phases }: { phases: readonly PhaseProgress[] }) {
  return (
    <ol className="startup-phases" aria-label="Startup progress">
      {phases.map((p) => (
        <li key={p.phase} className={`startup-phase startup-phase--${p.state}`} data-phase={p.phase} data-state={p.state}>
          <span className="startup-icon" aria-hidden="true" />
          <span className="startup-label">{PHASE_LABELS[p.phase]}</span>
          <span className="startup-state">
            {STATE_TEXT[p.state]}
            {p.state === 'done' || p.state === 'failed' ? (
              <span className="startup-time"> · {formatElapsed(p.elapsed_ms)}</span>
            ) : null}
          </span>
          {p.detail ? <span className="startup-detail">{p.detail}</span> : null}
          {p.error ? <span className="startup-detail startup-detail--error">{phaseErrorText(p.error)}</span> : null}
        </li>
      ))}
    </ol>
  );
}
