import { HttpBackend } from './http';
import { hasTauriBridge, tauriBackend } from './tauri';
import type { Backend } from './types';

export const TOKEN_KEY = 'souk.api-token';

/**
 * The API token `souk serve` hands over in the address (`/#token=…`): kept in sessionStorage (this
 * tab only) and removed from the address bar and history, so it is not bookmarked or shared.
 */
export function takeToken(win: Window): string | null {
  const match = /(?:^#|&)token=([0-9A-Za-z_-]+)/.exec(win.location.hash);
  if (match?.[1]) {
    win.sessionStorage.setItem(TOKEN_KEY, match[1]);
    win.history.replaceState(null, '', `${win.location.pathname}${win.location.search}`);
    return match[1];
  }
  return win.sessionStorage.getItem(TOKEN_KEY);
}

/**
 * The one place that decides which Backend the app talks to: Tauri IPC inside the desktop window,
 * the node's HTTP API when served by `souk serve` with a token, else none.
 */
export function selectBackend(): Backend | null {
  if (hasTauriBridge()) return tauriBackend;
  if (typeof window === 'undefined' || !/^https?:$/.test(window.location.protocol)) return null;
  const token = takeToken(window);
  return token ? new HttpBackend(window.location.origin, token) : null;
}
