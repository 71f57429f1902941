import { invoke } from '@tauri-apps/api/core';
import type { Commands } from '../bindings';
import { BackendError } from './errors';
import type { Backend } from './types';

/** True when running inside the Tauri webview (its IPC bridge is injected). */
export function hasTauriBridge(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/** The one typed entry point to Tauri commands. */
export async function call<K extends keyof Commands>(
  name: K,
  args: Commands[K]['args'],
): Promise<Commands[K]['result']> {
  try {
    return await invoke<Commands[K]['result']>(name, args);
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

export const tauriBackend: Backend = {
  appStatus: () => call('app_status', {}),
  createIdentity: (passphrase) => call('create_identity', { passphrase }),
  restoreIdentity: (words, passphrase) => call('restore_identity', { words, passphrase }),
  unlock: (passphrase) => call('unlock', { passphrase }),
};
