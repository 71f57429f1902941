import type { PhaseProgress, StartupPhase, StartupProgress } from '../bindings';

/** What each phase is called on screen. */
export const PHASE_LABELS: Record<StartupPhase, string> = {
  keystore: 'Unlock keystore',
  database: 'Open database',
  tor: 'Start Tor',
  network: 'Start network',
  bootstrap: 'Reach bootstrap peers',
  book: 'Load order book',
};

/** Every phase done: the node is fully up. */
export function startupComplete(progress: StartupProgress): boolean {
  return progress.phases.every((p) => p.state === 'done');
}

/** The first failed phase, if any. */
export function failedPhase(progress: StartupProgress): PhaseProgress | undefined {
  return progress.phases.find((p) => p.state === 'failed');
}

/** Nothing is running or still to come: every phase is done or failed. */
export function startupSettled(progress: StartupProgress): boolean {
  return progress.phases.every((p) => p.state === 'done' || p.state === 'failed');
}

/** "0.4 s", "12 ms": how long a phase took. */
export function formatElapsed(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${ms.toString()} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** What the start's state means for the app: keep showing the progress, or go on. */
export type StartupStep = 'waiting' | 'failed' | 'ready';

export function startupStep(progress: StartupProgress): StartupStep {
  if (failedPhase(progress)) return 'failed';
  return startupComplete(progress) ? 'ready' : 'waiting';
}
