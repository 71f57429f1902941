import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MARKET_EVENT, TRADE_EVENT } from '../bindings';
import { BackendError } from './errors';
import { selectBackend } from './select';
import { call, hasTauriBridge, tauriBackend } from './tauri';

afterEach(() => {
  clearMocks();
  // clearMocks keeps an empty object; remove it so detection tests start clean.
  delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
});

describe('tauriBackend', () => {
  it('invokes each command by name with its arguments', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, payload) => {
      seen.push([cmd, payload]);
      switch (cmd) {
        case 'app_status':
          return { state: 'needs_setup', data_dir: '/d' };
        case 'create_identity':
          return { identity: { peer_id: 'p', data_dir: '/d', schema_version: 1 }, words: ['a'] };
        default:
          return { peer_id: 'p', data_dir: '/d', schema_version: 1 };
      }
    });

    await expect(tauriBackend.appStatus()).resolves.toEqual({ state: 'needs_setup', data_dir: '/d' });
    await expect(tauriBackend.createIdentity('secret12', false)).resolves.toMatchObject({ words: ['a'] });
    await tauriBackend.restoreIdentity('a b c', 'secret12', true);
    await tauriBackend.importBackup('/media/usb/souk.soukbackup', 'secret12');
    await tauriBackend.unlock('secret12');

    expect(seen).toEqual([
      ['app_status', {}],
      ['create_identity', { passphrase: 'secret12', tor: false }],
      ['restore_identity', { words: 'a b c', passphrase: 'secret12', tor: true }],
      ['import_backup', { source: '/media/usb/souk.soukbackup', passphrase: 'secret12' }],
      ['unlock', { passphrase: 'secret12' }],
    ]);
  });

  it('turns a rejected ErrorPayload into a BackendError with its kind', async () => {
    // Tauri commands reject with a plain { kind, message } object, not an Error.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    mockIPC(() => Promise.reject({ kind: 'wrong_passphrase', message: 'nope' }));
    const error: unknown = await tauriBackend.unlock('x').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ kind: 'wrong_passphrase', message: 'nope' });
  });

  it('turns any other rejection into kind "internal"', async () => {
    mockIPC(() => Promise.reject(new Error('command app_status not found')));
    await expect(call('app_status', {})).rejects.toMatchObject({
      kind: 'internal',
      message: 'command app_status not found',
    });
  });
});

describe('tauriBackend market commands', () => {
  it('passes each market call to its command with camelCase arguments', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, payload) => {
      seen.push([cmd, payload]);
      if (cmd === 'refresh_market') return 2;
      if (cmd === 'withdraw_offer' || cmd === 'market_price') return null;
      return [];
    });
    const query = { base: 'BTC', quote: 'EUR', side: null, method: null, amount: null, include_mine: true } as const;
    await tauriBackend.offers(query);
    await tauriBackend.myOffers();
    await expect(tauriBackend.refreshMarket('LTC', 'USD')).resolves.toBe(2);
    await expect(tauriBackend.marketPrice('BTC', 'EUR')).resolves.toBeNull();
    await expect(tauriBackend.withdrawOffer('id-1')).resolves.toBeUndefined();
    expect(seen).toEqual([
      ['offers', { query }],
      ['my_offers', {}],
      ['refresh_market', { base: 'LTC', quote: 'USD' }],
      ['market_price', { base: 'BTC', quote: 'EUR' }],
      ['withdraw_offer', { id: 'id-1' }],
    ]);
  });
});

describe('tauriBackend trade commands', () => {
  it('passes each trade call to its command with camelCase arguments', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, payload) => {
      seen.push([cmd, payload]);
      if (cmd === 'mark_read') return 2;
      if (cmd === 'trades' || cmd === 'chat_log' || cmd === 'disputes') return [];
      return { id: 't' };
    });
    await tauriBackend.takeOffer({ offerId: 'o', base: 'BTC', amount: 5, method: 'SEPA', payout: 'p' });
    await tauriBackend.answerTrade('t', { kind: 'counter', amount: 4, price: null });
    await tauriBackend.trades();
    await tauriBackend.trade('t');
    await tauriBackend.chatLog('t');
    await tauriBackend.sendChat('t', 'hi');
    await expect(tauriBackend.markRead('t')).resolves.toBe(2);
    await tauriBackend.setEscrowAddress('t', 'addr');
    await tauriBackend.fundFromWallet('t', 'main', false);
    await tauriBackend.markPaid('t');
    await tauriBackend.markReceived('t');
    await tauriBackend.cancelTrade('t', 'r1');
    await tauriBackend.disputeTrade('t', 'r2');
    await tauriBackend.disputes();
    await tauriBackend.disputeInfo('t');
    await tauriBackend.resolveDispute('t', { to: 'split', buyer_gets: 5, reason: 'half' });
    await tauriBackend.chainStatus();
    expect(seen).toEqual([
      ['take_offer', { offerId: 'o', amount: 5, method: 'SEPA', payout: 'p' }],
      ['answer_trade', { tradeId: 't', answer: { kind: 'counter', amount: 4, price: null } }],
      ['trades', {}],
      ['trade', { tradeId: 't' }],
      ['chat_log', { tradeId: 't' }],
      ['send_chat', { tradeId: 't', text: 'hi' }],
      ['mark_read', { tradeId: 't' }],
      ['set_escrow_address', { tradeId: 't', address: 'addr' }],
      ['fund_from_wallet', { tradeId: 't', wallet: 'main', broadcast: false }],
      ['mark_paid', { tradeId: 't' }],
      ['mark_received', { tradeId: 't' }],
      ['cancel_trade', { tradeId: 't', reason: 'r1' }],
      ['dispute_trade', { tradeId: 't', reason: 'r2' }],
      ['disputes', {}],
      ['dispute_info', { tradeId: 't' }],
      ['resolve_dispute', { tradeId: 't', decision: { to: 'split', buyer_gets: 5, reason: 'half' } }],
      ['chain_status', {}],
    ]);
  });

  it('passes settings, startup and backup calls to their commands', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, payload) => {
      seen.push([cmd, payload]);
      return {};
    });
    const prefs = {
      theme: 'light' as const,
      notifications: { offer_taken: true, message: true, escrow: false, deadline: true, matching_offer: false },
      payment_accounts: [],
      accepted_arbitrators: [],
      excluded_arbitrators: ['12D3KooWNope'],
      saved_searches: [],
      nickname: '',
    };
    const edit = {
      chain: 'btc' as const,
      network: 'main' as const,
      rpc_url: '',
      rpc_user: '',
      rpc_password: null,
      rpc_cookie_file: '',
      electrum_url: '',
      electrum_cert_sha256: '',
      bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/x'],
      tor: false,
    };
    await tauriBackend.preferences();
    await tauriBackend.savePreferences(prefs);
    await tauriBackend.startupProgress();
    await tauriBackend.retryStartup();
    await tauriBackend.connectionSettings();
    await tauriBackend.saveConnectionSettings(edit);
    await tauriBackend.testChainConnection(edit);
    await tauriBackend.exportBackup('/media/usb', 'secret12');
    expect(seen).toEqual([
      ['preferences', {}],
      ['save_preferences', { preferences: prefs }],
      ['startup_progress', {}],
      ['retry_startup', {}],
      ['connection_settings', {}],
      ['save_connection_settings', { edit }],
      ['test_chain_connection', { edit }],
      ['export_backup', { target: '/media/usb', passphrase: 'secret12' }],
    ]);
  });

  it('passes reputation lookups and ratings to their commands', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, payload) => {
      seen.push([cmd, payload]);
      return cmd === 'reputation' ? { peer: 'p', settled: 3 } : null;
    });
    await expect(tauriBackend.reputation('p')).resolves.toMatchObject({ peer: 'p', settled: 3 });
    await expect(tauriBackend.rateTrade('t', 4, 'quick')).resolves.toBeUndefined();
    expect(seen).toEqual([
      ['reputation', { peer: 'p' }],
      ['rate_trade', { tradeId: 't', stars: 4, comment: 'quick' }],
    ]);
  });

  it('passes the automatic backup settings to their commands', async () => {
    const seen: [string, unknown][] = [];
    const SETTINGS = { folder: '/b', keep: 3, running: true, overridden_by: [] };
    mockIPC((cmd, payload) => {
      seen.push([cmd, payload]);
      return SETTINGS;
    });
    await expect(tauriBackend.backupSettings()).resolves.toEqual(SETTINGS);
    await expect(tauriBackend.saveBackupSettings('/b', 3, 'pass')).resolves.toEqual(SETTINGS);
    expect(seen).toEqual([
      ['backup_settings', {}],
      ['save_backup_settings', { folder: '/b', keep: 3, passphrase: 'pass' }],
    ]);
  });

  it('forwards market and trade window events, and resyncs once listening and on lag', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const got: unknown[] = [];
    const stop = tauriBackend.subscribeEvents((signal) => got.push(signal));
    await vi.waitFor(() => expect(got).toEqual([{ kind: 'resync' }]));
    await emit(MARKET_EVENT, { kind: 'offer_withdrawn', id: 'x' });
    await emit(TRADE_EVENT, { kind: 'read', trade_id: 't', up_to: 1 });
    await emit(TRADE_EVENT, { kind: 'lagged', missed: 3 });
    expect(got).toEqual([
      { kind: 'resync' },
      { kind: 'offer_withdrawn', id: 'x' },
      { kind: 'read', trade_id: 't', up_to: 1 },
      { kind: 'resync' },
    ]);
    stop();
    await emit(TRADE_EVENT, { kind: 'read', trade_id: 't', up_to: 2 });
    expect(got).toHaveLength(4);
  });
});

describe('backend selection', () => {
  it('finds no backend in a plain browser', () => {
    expect(hasTauriBridge()).toBe(false);
    expect(selectBackend()).toBeNull();
  });

  it('uses the Tauri backend inside the Tauri webview', () => {
    mockIPC(() => null);
    expect(hasTauriBridge()).toBe(true);
    expect(selectBackend()).toBe(tauriBackend);
  });
});
