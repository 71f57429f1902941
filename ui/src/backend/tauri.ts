import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { MARKET_EVENT, TRADE_EVENT } from '../bindings';
import type { Commands } from '../bindings';
import { BackendError } from './errors';
import { signalOf } from './types';
import type { Backend, NodeSignal } from './types';

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

/**
 * Market and trade events arrive as window events; `resync` once both are listened to (earlier ones
 * were missed) and whenever the shell says the window fell behind (`lagged`).
 */
function subscribeEvents(listener: (signal: NodeSignal) => void): () => void {
  let stopped = false;
  const unlisten: (() => void)[] = [];
  const forward = (event: { payload: unknown }) => {
    const signal = signalOf(event.payload);
    if (signal && !stopped) listener(signal);
  };
  Promise.all([listen(MARKET_EVENT, forward), listen(TRADE_EVENT, forward)])
    .then((stops) => {
      unlisten.push(...stops);
      if (stopped) {
        for (const stop of stops) stop();
        return;
      }
      listener({ kind: 'resync' });
    })
    .catch((thrown: unknown) => {
      console.error('cannot listen to node events', thrown);
    });
  return () => {
    stopped = true;
    for (const stop of unlisten) stop();
  };
}

export const tauriBackend: Backend = {
  appStatus: () => call('app_status', {}),
  createIdentity: (passphrase, tor) => call('create_identity', { passphrase, tor }),
  restoreIdentity: (words, passphrase, tor) => call('restore_identity', { words, passphrase, tor }),
  importBackup: (source, passphrase) => call('import_backup', { source, passphrase }),
  unlock: (passphrase) => call('unlock', { passphrase }),
  networkStatus: () => call('network_status', {}),
  chainStatus: () => call('chain_status', {}),
  offers: (query) => call('offers', { query }),
  bookPage: (query, page) => call('book_page', { query, page }),
  myOffers: () => call('my_offers', {}),
  postOffer: (offer) => call('post_offer', { offer }),
  withdrawOffer: async (id) => {
    await call('withdraw_offer', { id });
  },
  refreshMarket: (base, quote) => call('refresh_market', { base, quote }),
  marketPrice: (base, quote) => call('market_price', { base, quote }),
  takeOffer: ({ offerId, amount, method, payout }) => call('take_offer', { offerId, amount, method, payout }),
  answerTrade: (tradeId, answer) => call('answer_trade', { tradeId, answer }),
  trades: () => call('trades', {}),
  trade: (tradeId) => call('trade', { tradeId }),
  chatLog: (tradeId) => call('chat_log', { tradeId }),
  sendChat: (tradeId, text) => call('send_chat', { tradeId, text }),
  markRead: (tradeId) => call('mark_read', { tradeId }),
  setEscrowAddress: (tradeId, address) => call('set_escrow_address', { tradeId, address }),
  fundFromWallet: (tradeId, wallet, broadcast) => call('fund_from_wallet', { tradeId, wallet, broadcast }),
  markPaid: (tradeId) => call('mark_paid', { tradeId }),
  markReceived: (tradeId) => call('mark_received', { tradeId }),
  cancelTrade: (tradeId, reason) => call('cancel_trade', { tradeId, reason }),
  disputeTrade: (tradeId, reason) => call('dispute_trade', { tradeId, reason }),
  disputes: () => call('disputes', {}),
  disputeInfo: (tradeId) => call('dispute_info', { tradeId }),
  resolveDispute: (tradeId, decision) => call('resolve_dispute', { tradeId, decision }),
  preferences: () => call('preferences', {}),
  savePreferences: (preferences) => call('save_preferences', { preferences }),
  startupProgress: () => call('startup_progress', {}),
  retryStartup: () => call('retry_startup', {}),
  connectionSettings: () => call('connection_settings', {}),
  saveConnectionSettings: (edit) => call('save_connection_settings', { edit }),
  testChainConnection: (edit) => call('test_chain_connection', { edit }),
  exportBackup: (target, passphrase) => call('export_backup', { target, passphrase }),
  backupSettings: () => call('backup_settings', {}),
  saveBackupSettings: (folder, keep, passphrase) => call('save_backup_settings', { folder, keep, passphrase }),
  reputation: (peer) => call('reputation', { peer }),
  rateTrade: async (tradeId, stars, comment) => {
    await call('rate_trade', { tradeId, stars, comment });
  },
  subscribeEvents,
};
