import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { MARKET_EVENT } from '../bindings';
import type { Commands, MarketEvent } from '../bindings';
import { BackendError } from './errors';
import type { Backend, MarketSignal } from './types';

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

/** Market events arrive as a window event; `resync` once listening, since earlier ones were missed. */
function subscribeMarketEvents(listener: (signal: MarketSignal) => void): () => void {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  listen<MarketEvent>(MARKET_EVENT, (event) => listener(event.payload))
    .then((stop) => {
      if (stopped) {
        stop();
        return;
      }
      unlisten = stop;
      listener({ kind: 'resync' });
    })
    .catch((thrown: unknown) => {
      console.error('cannot listen to market events', thrown);
    });
  return () => {
    stopped = true;
    unlisten?.();
  };
}

export const tauriBackend: Backend = {
  appStatus: () => call('app_status', {}),
  createIdentity: (passphrase) => call('create_identity', { passphrase }),
  restoreIdentity: (words, passphrase) => call('restore_identity', { words, passphrase }),
  unlock: (passphrase) => call('unlock', { passphrase }),
  networkStatus: () => call('network_status', {}),
  offers: (query) => call('offers', { query }),
  myOffers: () => call('my_offers', {}),
  postOffer: (offer) => call('post_offer', { offer }),
  withdrawOffer: async (id) => {
    await call('withdraw_offer', { id });
  },
  refreshMarket: (base, quote) => call('refresh_market', { base, quote }),
  marketPrice: (base, quote) => call('market_price', { base, quote }),
  subscribeMarketEvents,
};
