import { hasTauriBridge, tauriBackend } from './tauri';
import type { Backend } from './types';

/**
 * The one place that decides which Backend the app talks to.
 * Returns null when no backend is reachable (plain browser without `souk serve`).
 */
export function selectBackend(): Backend | null {
  if (hasTauriBridge()) return tauriBackend;
  return null;
}
