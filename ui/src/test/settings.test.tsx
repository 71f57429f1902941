import { screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { THEME_KEY } from '../app/theme';
import css from '../styles/app.css?raw';
import { DEFAULT_PREFERENCES, FakeBackend, fakeConnection } from './fakeBackend';
import { renderApp } from './renderApp';

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';

async function openSettings(backend = new FakeBackend({ state: 'unlocked' })) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  await rendered.user.click(within(nav).getByRole('button', { name: 'Settings' }));
  await screen.findByRole('heading', { level: 2, name: 'Appearance' });
  return { backend, ...rendered };
}

function section(name: string): HTMLElement {
  return screen.getByRole('region', { name });
}

afterEach(() => {
  delete document.documentElement.dataset.theme;
  localStorage.clear();
});

describe('Settings: theme and notifications', () => {
  it('applies a theme at once, remembers it, and follows the system again when asked', async () => {
    const { user, backend } = await openSettings();
    const appearance = section('Appearance');
    await user.click(within(appearance).getByRole('radio', { name: /Dark/ }));
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(await within(appearance).findByText('Theme saved.')).toBeInTheDocument();
    expect(backend.prefs.theme).toBe('dark');
    expect(localStorage.getItem(THEME_KEY)).toBe('dark');

    await user.click(within(appearance).getByRole('radio', { name: /System/ }));
    await waitFor(() => expect(document.documentElement.dataset.theme).toBeUndefined());
    expect(backend.prefs.theme).toBe('system');
  });

  it('puts the theme back when the save is refused', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const { user } = await openSettings(backend);
    backend.refusePreferences = 'the database is read-only';
    await user.click(within(section('Appearance')).getByRole('radio', { name: /Light/ }));
    expect(await within(section('Appearance')).findByRole('alert')).toHaveTextContent(/the database is read-only/i);
    expect(within(section('Appearance')).getByRole('radio', { name: /System/ })).toBeChecked();
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });

  it('saves each notification choice', async () => {
    const { user, backend } = await openSettings();
    const notifications = section('Notifications');
    const messages = within(notifications).getByRole('checkbox', { name: /New chat messages/ });
    expect(messages).toBeChecked();
    expect(messages).toHaveAccessibleDescription('From the counterparty of a trade.');
    await user.click(messages);
    expect(await within(notifications).findByText('Notification choices saved.')).toBeInTheDocument();
    expect(backend.prefs.notifications).toEqual({ offer_taken: true, message: false, escrow: true, deadline: true, matching_offer: true });
  });

  it('keeps both dark palettes in app.css identical', () => {
    const chosen = /:root\[data-theme='dark'\] \{([^}]*)\}/.exec(css)?.[1];
    const system = /:root:not\(\[data-theme\]\) \{([^}]*)\}/.exec(css)?.[1];
    const vars = (block: string | undefined) =>
      (block ?? '')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('--'));
    expect(vars(chosen).length).toBeGreaterThan(15);
    expect(vars(system)).toEqual(vars(chosen));
  });
});

describe('Settings: nickname', () => {
  const HINT =
    'Shown to others in quotes after the name Souk derives from your key. Anyone can pick any nickname: it proves nothing. Up to 24 characters.';

  it('saves a trimmed nickname with the other preferences, and removes it when emptied', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.prefs.accepted_arbitrators = [PEER];
    backend.prefs.nickname = 'Old name';
    const { user } = await openSettings(backend);
    const nickname = section('Nickname');
    const field = within(nickname).getByLabelText('Nickname (optional)');
    expect(field).toHaveValue('Old name');
    expect(field).toHaveAccessibleDescription(HINT);

    await user.clear(field);
    await user.type(field, "  Ahmed's LTC  ");
    await user.click(within(nickname).getByRole('button', { name: 'Save nickname' }));
    expect(await within(nickname).findByText('Nickname saved.')).toBeInTheDocument();
    expect(backend.callsOf('savePreferences')).toEqual([
      [{ ...DEFAULT_PREFERENCES, accepted_arbitrators: [PEER], nickname: "Ahmed's LTC" }],
    ]);
    expect(backend.prefs.nickname).toBe("Ahmed's LTC");
    expect(field).toHaveValue("Ahmed's LTC");

    await user.clear(field);
    await user.click(within(nickname).getByRole('button', { name: 'Save nickname' }));
    expect(await within(nickname).findByText('Nickname removed.')).toBeInTheDocument();
    expect(backend.callsOf('savePreferences')[1]?.[0]).toMatchObject({ nickname: '', accepted_arbitrators: [PEER] });
    expect(backend.prefs.nickname).toBe('');
  });

  it('refuses 25 characters and control characters before saving, counting characters as the core does', async () => {
    const { user, backend } = await openSettings();
    const nickname = section('Nickname');
    const field = within(nickname).getByLabelText('Nickname (optional)');
    const save = within(nickname).getByRole('button', { name: 'Save nickname' });

    await user.type(field, 'a'.repeat(25));
    await user.click(save);
    expect(field).toHaveAccessibleDescription(`${HINT} At most 24 characters; this is 25.`);
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field).toHaveFocus();
    expect(backend.callsOf('savePreferences')).toHaveLength(0);

    await user.clear(field);
    await user.click(field);
    await user.paste('Ahmed\u0007LTC');
    expect(field).toHaveValue('Ahmed\u0007LTC');
    await user.click(save);
    expect(field).toHaveAccessibleDescription(/control characters/);
    expect(backend.callsOf('savePreferences')).toHaveLength(0);

    // 24 emoji are 48 UTF-16 units but 24 characters: accepted, as the core accepts them.
    await user.clear(field);
    await user.click(field);
    await user.paste('🙂'.repeat(24));
    await user.click(save);
    expect(await within(nickname).findByText('Nickname saved.')).toBeInTheDocument();
    expect(backend.prefs.nickname).toBe('🙂'.repeat(24));
  });

  it('shows the core’s refusal as it comes, and keeps the stored nickname', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const { user } = await openSettings(backend);
    const nickname = section('Nickname');
    backend.refusePreferences = 'a nickname of 25 characters; at most 24';
    await user.type(within(nickname).getByLabelText('Nickname (optional)'), 'Ahmed');
    await user.click(within(nickname).getByRole('button', { name: 'Save nickname' }));
    expect(await within(nickname).findByRole('alert')).toHaveTextContent('A nickname of 25 characters; at most 24');
    expect(backend.callsOf('savePreferences')[0]?.[0]).toMatchObject({ nickname: 'Ahmed' });
    expect(backend.prefs.nickname).toBe('');
    expect(within(nickname).queryByText('Nickname saved.')).toBeNull();
  });
});

describe('Settings: payment accounts', () => {
  it('checks the fields, adds, edits and removes accounts', async () => {
    const { user, backend } = await openSettings();
    const accounts = section('Payment accounts');
    expect(within(accounts).getByText('No payment accounts yet')).toBeInTheDocument();
    await user.click(within(accounts).getByRole('button', { name: 'Add payment account' }));
    const form = within(accounts).getByRole('form', { name: 'New payment account' });
    expect(within(form).getByLabelText('Payment method')).toHaveFocus();
    await user.click(within(form).getByRole('button', { name: 'Save account' }));
    expect(within(form).getByLabelText('Payment method')).toHaveAccessibleDescription(/Name the payment method/);
    expect(within(form).getByLabelText('Name')).toHaveAccessibleDescription(/Give the account a name/);
    expect(within(form).getByLabelText('Details')).toHaveAccessibleDescription(/Enter the details/);
    expect(within(form).getByLabelText('Payment method')).toHaveFocus();
    expect(backend.callsOf('savePreferences')).toHaveLength(0);

    await user.type(within(form).getByLabelText('Payment method'), 'sepa instant');
    await user.type(within(form).getByLabelText('Name'), 'Main bank');
    await user.type(within(form).getByLabelText('Details'), 'DE89 3704 0044 0532 0130 00');
    expect(within(form).getByLabelText('Payment method')).toHaveAccessibleDescription('Saved as SEPA_INSTANT.');
    await user.click(within(form).getByRole('button', { name: 'Save account' }));
    expect(await within(accounts).findByText('Main bank added.')).toBeInTheDocument();
    expect(backend.prefs.payment_accounts).toMatchObject([
      { method: 'SEPA_INSTANT', label: 'Main bank', details: 'DE89 3704 0044 0532 0130 00' },
    ]);
    expect(backend.prefs.payment_accounts[0]?.id).toMatch(/^[0-9a-f-]{36}$/);

    // A second account with the same name under the same method is refused before sending.
    await user.click(within(accounts).getByRole('button', { name: 'Add payment account' }));
    const second = within(accounts).getByRole('form', { name: 'New payment account' });
    await user.type(within(second).getByLabelText('Payment method'), 'SEPA_INSTANT');
    await user.type(within(second).getByLabelText('Name'), 'main BANK');
    await user.type(within(second).getByLabelText('Details'), 'x');
    await user.click(within(second).getByRole('button', { name: 'Save account' }));
    expect(within(second).getByLabelText('Name')).toHaveAccessibleDescription(
      /You already have a SEPA_INSTANT account with this name\./,
    );
    await user.click(within(second).getByRole('button', { name: 'Cancel' }));

    // Edit; the core's own refusal is shown too.
    await user.click(within(accounts).getByRole('button', { name: 'Edit Main bank (SEPA_INSTANT)' }));
    const edit = within(accounts).getByRole('form', { name: 'Edit Main bank' });
    await user.clear(within(edit).getByLabelText('Name'));
    await user.type(within(edit).getByLabelText('Name'), 'Savings');
    backend.refusePreferences = 'payment account 1 (Savings): the details are longer than 1000 characters';
    await user.click(within(edit).getByRole('button', { name: 'Save account' }));
    expect(await within(edit).findByRole('alert')).toHaveTextContent(
      'Payment account 1 (Savings): the details are longer than 1000 characters',
    );
    await user.click(within(edit).getByRole('button', { name: 'Save account' }));
    expect(await within(accounts).findByText('Savings saved.')).toBeInTheDocument();
    expect(backend.prefs.payment_accounts.map((a) => a.label)).toEqual(['Savings']);

    // Remove, after a confirmation that takes the focus.
    await user.click(within(accounts).getByRole('button', { name: 'Remove Savings (SEPA_INSTANT)' }));
    const confirm = within(accounts).getByRole('button', { name: 'Yes, remove' });
    expect(confirm).toHaveFocus();
    await user.click(confirm);
    expect(await within(accounts).findByText('Savings removed.')).toBeInTheDocument();
    expect(backend.prefs.payment_accounts).toEqual([]);
    expect(within(accounts).getByText('No payment accounts yet')).toBeInTheDocument();
  });

  it('shows account details as text, never as HTML', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const details = '<img src=x onerror="alert(1)"> IBAN <b>DE00</b>';
    backend.prefs.payment_accounts = [{ id: 'a1', method: 'SEPA', label: '<i>Bank</i>', details }];
    await openSettings(backend);
    const item = within(section('Payment accounts')).getByText(details);
    expect(item.textContent).toBe(details);
    expect(section('Payment accounts').querySelector('img, b, i')).toBeNull();
  });
});

describe('Settings: chain backend and bootstrap peers', () => {
  it('tests the chain backend and reports the tip, or the exact error', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.chainAnswer = { chain: 'ltc', network: 'regtest', url: 'http://127.0.0.1:19443/', tip_height: 101, wallets: true, pruned: false, electrum: false };
    const { user } = await openSettings(backend);
    const chain = await screen.findByRole('region', { name: 'Chain backend' });
    expect(within(chain).getByRole('button', { name: 'Test connection' })).toBeDisabled();
    await user.selectOptions(within(chain).getByLabelText('Chain'), 'ltc');
    await user.selectOptions(within(chain).getByLabelText('Network'), 'regtest');
    await user.type(within(chain).getByLabelText('RPC URL'), 'http://127.0.0.1:19443/');
    await user.type(within(chain).getByLabelText('RPC user'), 'souk');
    await user.type(within(chain).getByLabelText('RPC password'), 's3cret');
    await user.click(within(chain).getByRole('button', { name: 'Test connection' }));
    expect(await within(chain).findByTestId('chain-check')).toHaveTextContent(
      'Connected to Litecoin regtest at http://127.0.0.1:19443/: block height 101 (escrows are watched in a watch-only wallet there).',
    );
    expect(backend.callsOf('testChainConnection')[0]?.[0]).toEqual({
      chain: 'ltc',
      network: 'regtest',
      rpc_url: 'http://127.0.0.1:19443/',
      rpc_user: 'souk',
      rpc_password: 's3cret',
      rpc_cookie_file: '',
      electrum_url: '',
      electrum_cert_sha256: '',
      bootstrap: [],
      tor: false,
    });
    expect(backend.callsOf('saveConnectionSettings')).toHaveLength(0);

    backend.chainAnswer = 'the chain node at http://127.0.0.1:19443/ refused the RPC credentials: check rpc_user and rpc_password, or rpc_cookie_file';
    await user.click(within(chain).getByRole('button', { name: 'Test connection' }));
    expect(await within(chain).findByRole('alert')).toHaveTextContent(/refused the RPC credentials/);
  });

  it('checks fields first, tests before saving, and offers to save anyway when the test fails', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.connection = fakeConnection({
      env_overrides: [{ key: 'chain.rpc_url', variable: 'SOUK_RPC_URL' }],
    });
    const { user } = await openSettings(backend);
    const chain = await screen.findByRole('region', { name: 'Chain backend' });
    expect(within(chain).getByText('SOUK_RPC_URL')).toBeInTheDocument();
    await user.type(within(chain).getByLabelText('RPC URL'), '127.0.0.1:9332');
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    expect(within(chain).getByLabelText('RPC URL')).toHaveAccessibleDescription(/Start with http:\/\/ or https:\/\//);
    expect(within(chain).getByLabelText('RPC URL')).toHaveFocus();
    expect(backend.callsOf('testChainConnection')).toHaveLength(0);

    await user.clear(within(chain).getByLabelText('RPC URL'));
    await user.type(within(chain).getByLabelText('RPC URL'), 'http://10.0.0.2:9332/');
    backend.chainAnswer = 'cannot reach the chain node at http://10.0.0.2:9332/: connection failed';
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    expect(await within(chain).findByRole('alert')).toHaveTextContent('Cannot reach the chain node at http://10.0.0.2:9332/: connection failed');
    expect(backend.callsOf('saveConnectionSettings')).toHaveLength(0);
    await user.click(within(chain).getByRole('button', { name: 'Save anyway' }));
    expect(await within(chain).findByText(/Saved to souk.toml/)).toBeInTheDocument();
    expect(backend.connection.saved.rpc_url).toBe('http://10.0.0.2:9332/');
    expect(await screen.findByTestId('restart-needed')).toHaveTextContent('Restart Souk');
  });

  it('takes an Electrum server instead of a node, checked before it is tested or saved', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const { user } = await openSettings(backend);
    const chain = await screen.findByRole('region', { name: 'Chain backend' });
    const field = within(chain).getByLabelText('Electrum server');
    await user.type(field, 'electrum.example.org:50002');
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    expect(field).toHaveAccessibleDescription(/Give tcp:\/\/HOST:PORT or ssl:\/\/HOST:PORT/);
    expect(backend.callsOf('saveConnectionSettings')).toHaveLength(0);
    await user.clear(field);
    await user.type(field, 'ssl://electrum.example.org:50002');
    backend.chainAnswer = { chain: 'btc', network: 'main', url: 'ssl://electrum.example.org:50002', tip_height: 870_000, wallets: false, pruned: false, electrum: true };
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    expect(await within(chain).findByText(/Saved to souk.toml/)).toBeInTheDocument();
    expect(backend.callsOf('saveConnectionSettings')[0]?.[0]).toMatchObject({ electrum_url: 'ssl://electrum.example.org:50002' });
    expect(backend.connection.saved.electrum_url).toBe('ssl://electrum.example.org:50002');
  });

  it('pins a self-signed certificate of a TLS Electrum server by its fingerprint, checked first', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const { user } = await openSettings(backend);
    const chain = await screen.findByRole('region', { name: 'Chain backend' });
    const server = within(chain).getByLabelText('Electrum server');
    const cert = within(chain).getByLabelText('Server certificate (SHA-256)');
    await user.type(server, 'tcp://electrum.example.org:50001');
    await user.type(cert, 'AB:CD');
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    expect(cert).toHaveAccessibleDescription(/64 hex digits/);
    await user.clear(cert);
    const pin = Array.from({ length: 32 }, () => 'AB').join(':');
    await user.type(cert, pin);
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    expect(cert).toHaveAccessibleDescription(/for a server over TLS/);
    expect(backend.callsOf('saveConnectionSettings')).toHaveLength(0);
    await user.clear(server);
    await user.type(server, 'ssl://electrum.example.org:50002');
    backend.chainAnswer = { chain: 'btc', network: 'main', url: 'ssl://electrum.example.org:50002', tip_height: 870_000, wallets: false, pruned: false, electrum: true };
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    expect(await within(chain).findByText(/Saved to souk.toml/)).toBeInTheDocument();
    expect(backend.callsOf('saveConnectionSettings')[0]?.[0]).toMatchObject({ electrum_cert_sha256: pin });
    expect(backend.connection.saved.electrum_cert_sha256).toBe(pin);
  });

  it('says whether a password is saved without showing it, and can remove it', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const saved = { ...fakeConnection().saved, rpc_url: 'http://127.0.0.1:8332/', rpc_user: 'me', rpc_password_set: true };
    backend.connection = fakeConnection({ saved, running: saved });
    const { user } = await openSettings(backend);
    const chain = await screen.findByRole('region', { name: 'Chain backend' });
    const password = within(chain).getByLabelText('RPC password');
    expect(password).toHaveValue('');
    expect(password).toHaveAccessibleDescription('A password is saved. Leave this empty to keep it.');
    await user.click(within(chain).getByRole('checkbox', { name: 'Remove the saved password' }));
    await user.click(within(chain).getByRole('button', { name: 'Save chain backend' }));
    await within(chain).findByText(/Saved to souk.toml/);
    expect(backend.callsOf('saveConnectionSettings')[0]?.[0]).toMatchObject({ rpc_password: '' });
  });

  it('checks bootstrap addresses line by line and reports the live dials', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const good = `/ip4/203.0.113.7/tcp/4001/p2p/${PEER}`;
    backend.dialResults = [{ addr: good, error: null }];
    const { user } = await openSettings(backend);
    const bootstrap = await screen.findByRole('region', { name: 'Bootstrap peers' });
    const field = within(bootstrap).getByRole('textbox', { name: 'Bootstrap peers' });
    await user.type(field, `${good}\n/ip4/203.0.113.8/tcp/4001`);
    await user.click(within(bootstrap).getByRole('button', { name: 'Save bootstrap peers' }));
    expect(field).toHaveAccessibleDescription(/Line 2 does not end in \/p2p\/<PeerId>\./);
    expect(backend.callsOf('saveConnectionSettings')).toHaveLength(0);

    await user.clear(field);
    await user.type(field, `  ${good}  \n\n`);
    await user.click(within(bootstrap).getByRole('button', { name: 'Save bootstrap peers' }));
    expect(await within(bootstrap).findByText(/Connected to 1 new bootstrap peer now\./)).toBeInTheDocument();
    expect(backend.callsOf('saveConnectionSettings')[0]?.[0]).toEqual({
      chain: 'btc',
      network: 'main',
      rpc_url: '',
      rpc_user: '',
      rpc_password: null,
      rpc_cookie_file: '',
      electrum_url: '',
      electrum_cert_sha256: '',
      bootstrap: [good],
      tor: false,
    });
  });

  it('switches to Tor mode only with onion bootstrap peers, for the next start', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const clear = `/ip4/203.0.113.7/tcp/4001/p2p/${PEER}`;
    const onion = `/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001/p2p/${PEER}`;
    const { user } = await openSettings(backend);
    const bootstrap = await screen.findByRole('region', { name: 'Bootstrap peers' });
    const tor = within(bootstrap).getByRole('checkbox', { name: 'Tor mode: connect only through Tor' });
    expect(tor).not.toBeChecked();
    expect(tor).toHaveAccessibleDescription(/Applies from the next start/);
    const field = within(bootstrap).getByRole('textbox', { name: 'Bootstrap peers' });
    await user.type(field, clear);
    await user.click(tor);
    await user.click(within(bootstrap).getByRole('button', { name: 'Save bootstrap peers' }));
    expect(field).toHaveAccessibleDescription(/Line 1 is not an onion address/);
    expect(backend.callsOf('saveConnectionSettings')).toHaveLength(0);

    await user.clear(field);
    await user.type(field, onion);
    await user.click(within(bootstrap).getByRole('button', { name: 'Save bootstrap peers' }));
    await within(bootstrap).findByText(/Saved/);
    expect(backend.callsOf('saveConnectionSettings')[0]?.[0]).toMatchObject({ bootstrap: [onion], tor: true });
    expect(backend.connection.saved.tor).toBe(true);
  });
});

describe('Settings: arbitrators', () => {
  const OTHER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK';

  it('adds and removes accepted and excluded arbitrators, never one in both, and keeps them', async () => {
    const { user, backend } = await openSettings();
    const arbitrators = section('Arbitrators');
    const accepted = within(arbitrators).getByTestId('arbitrators-accepted_arbitrators');
    const excluded = within(arbitrators).getByTestId('arbitrators-excluded_arbitrators');
    expect(accepted).toHaveTextContent('any announced arbitrator that is neither party and not excluded');

    const acceptInput = within(accepted).getByRole('textbox', { name: 'Add an accepted arbitrator (peer id)' });
    await user.type(acceptInput, 'bob');
    await user.click(within(accepted).getByRole('button', { name: 'Add' }));
    expect(accepted).toHaveTextContent('“bob” is not a peer id');
    expect(backend.callsOf('savePreferences')).toHaveLength(0);

    await user.clear(acceptInput);
    await user.type(acceptInput, ` ${PEER} `);
    await user.click(within(accepted).getByRole('button', { name: 'Add' }));
    expect(await within(arbitrators).findByText('Added to the accepted arbitrators.')).toBeInTheDocument();
    expect(backend.prefs.accepted_arbitrators).toEqual([PEER]);

    // The same id cannot be excluded while accepted.
    const excludeInput = within(excluded).getByRole('textbox', { name: 'Add an excluded arbitrator (peer id)' });
    await user.type(excludeInput, PEER);
    await user.click(within(excluded).getByRole('button', { name: 'Add' }));
    expect(excluded).toHaveTextContent('This arbitrator is accepted: remove it there first.');
    expect(backend.prefs.excluded_arbitrators).toEqual([]);

    await user.clear(excludeInput);
    await user.type(excludeInput, OTHER);
    await user.click(within(excluded).getByRole('button', { name: 'Add' }));
    await waitFor(() => expect(backend.prefs.excluded_arbitrators).toEqual([OTHER]));

    await user.click(within(accepted).getByRole('button', { name: 'Remove' }));
    expect(await within(arbitrators).findByText('Removed from the accepted arbitrators.')).toBeInTheDocument();
    expect(backend.prefs.accepted_arbitrators).toEqual([]);
    expect(backend.prefs.excluded_arbitrators).toEqual([OTHER]);
  });

  it('shows the core’s refusal and keeps what was stored', async () => {
    const { user, backend } = await openSettings();
    backend.refusePreferences = 'at most 100 accepted arbitrators, not 101';
    const accepted = within(section('Arbitrators')).getByTestId('arbitrators-accepted_arbitrators');
    await user.type(within(accepted).getByRole('textbox', { name: 'Add an accepted arbitrator (peer id)' }), PEER);
    await user.click(within(accepted).getByRole('button', { name: 'Add' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('At most 100 accepted arbitrators, not 101');
    expect(backend.prefs.accepted_arbitrators).toEqual([]);
    await waitFor(() => expect(within(accepted).queryByRole('list')).toBeNull());
  });
});
