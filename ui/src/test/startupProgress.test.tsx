import { act, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FakeBackend, TOR_PHASES, fakeProgress } from './fakeBackend';
import { renderApp } from './renderApp';

function phaseRow(name: string): HTMLElement {
  const list = screen.getByRole('list', { name: 'Startup progress' });
  const row = within(list).getByText(name).closest('li');
  if (!row) throw new Error(`no phase ${name}`);
  return row;
}

describe('startup progress', () => {
  it('lists the phases while the keystore opens, then while the network comes up, then opens the market', async () => {
    const backend = new FakeBackend({ state: 'locked', passphrase: 'the right one' });
    let release = () => {};
    backend.unlockHold = new Promise((resolve) => {
      release = resolve;
    });
    backend.progress = fakeProgress({
      keystore: { state: 'running', detail: null, elapsed_ms: 300 },
      database: { state: 'pending', detail: null, elapsed_ms: null },
      network: { state: 'pending', detail: null, elapsed_ms: null },
      bootstrap: { state: 'pending', detail: null, elapsed_ms: null },
      book: { state: 'pending', detail: null, elapsed_ms: null },
    });
    const { user } = renderApp(backend);
    await user.type(await screen.findByLabelText('Passphrase'), 'the right one{Enter}');

    // The unlock is still running: its phase shows as in progress, the rest waiting.
    expect(await screen.findByRole('list', { name: 'Startup progress' })).toBeInTheDocument();
    expect(phaseRow('Unlock keystore')).toHaveAttribute('data-state', 'running');
    expect(phaseRow('Unlock keystore')).toHaveTextContent('In progress');
    expect(phaseRow('Load order book')).toHaveTextContent('Waiting');

    // Unlocked; the network phases run.
    backend.progress = fakeProgress({
      bootstrap: { state: 'running', detail: null, elapsed_ms: 40 },
      book: { state: 'pending', detail: null, elapsed_ms: null },
    });
    await act(async () => {
      release();
      await backend.unlockHold;
    });
    expect(await screen.findByRole('heading', { name: 'Starting Souk' })).toBeInTheDocument();
    expect(phaseRow('Reach bootstrap peers')).toHaveAttribute('data-state', 'running');
    expect(screen.getByRole('status')).toHaveTextContent('Reach bootstrap peers…');
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();

    // The book is loaded: on to the market, without anyone clicking.
    backend.progress = fakeProgress({
      bootstrap: { detail: '1 of 1 bootstrap peers connected; 3 peers' },
      book: { detail: '42 offers in the book, 2 new' },
    });
    expect(await screen.findByRole('navigation', { name: 'Main' }, { timeout: 3000 })).toBeInTheDocument();
    expect(screen.getByRole('heading', { level: 1, name: 'Market' })).toBeInTheDocument();
  });

  it('shows a failed phase with its error, retries, and moves on once it works', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const refused =
      'cannot dial /ip4/203.0.113.7/tcp/4001/p2p/12D3KooWPeer: connection refused: nothing listens at that address (is the peer running?)';
    backend.progress = fakeProgress({
      bootstrap: { state: 'failed', detail: null, error: { kind: 'io', message: refused } },
      book: { detail: '3 offers from this computer’s cache; no peer to ask yet' },
    });
    backend.progressAfterRetry = fakeProgress();
    const { user } = renderApp(backend);

    const failure = await screen.findByRole('group', { name: 'Start could not finish' });
    expect(failure).toHaveTextContent('Reach bootstrap peers failed');
    expect(phaseRow('Reach bootstrap peers')).toHaveTextContent(`C${refused.slice(1)}`);
    expect(phaseRow('Reach bootstrap peers')).toHaveAttribute('data-state', 'failed');
    expect(phaseRow('Load order book')).toHaveTextContent('3 offers from this computer’s cache');
    // The way out is focused.
    expect(within(failure).getByRole('button', { name: 'Retry' })).toHaveFocus();

    await user.click(within(failure).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(backend.callsOf('retryStartup')).toHaveLength(1);
  });

  it('shows Tor’s bootstrap as its own phase in tor’s words, then a stall with tor’s reason and a retry', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const waiting = { state: 'pending' as const, detail: null, elapsed_ms: null };
    backend.progress = fakeProgress(
      {
        tor: { state: 'running', detail: '45%: Asking for relay descriptors', elapsed_ms: 2100 },
        network: waiting,
        bootstrap: waiting,
        book: waiting,
      },
      TOR_PHASES,
    );
    const { user } = renderApp(backend);
    expect(await screen.findByRole('list', { name: 'Startup progress' })).toBeInTheDocument();
    expect(phaseRow('Start Tor')).toHaveAttribute('data-state', 'running');
    expect(phaseRow('Start Tor')).toHaveTextContent('45%: Asking for relay descriptors');
    expect(phaseRow('Start network')).toHaveTextContent('Waiting');

    const stalled =
      "Tor: tor's bootstrap stalled at 5%: Connecting to a relay (tor warns: Connection refused (CONNECTREFUSED)) for 60 s; see /home/a/.local/share/souk/tor/tor.log";
    backend.progress = fakeProgress(
      {
        tor: { state: 'failed', detail: null, error: { kind: 'io', message: stalled } },
        network: waiting,
        bootstrap: waiting,
        book: waiting,
      },
      TOR_PHASES,
    );
    const failure = await screen.findByRole('group', { name: 'Start could not finish' }, { timeout: 3000 });
    expect(failure).toHaveTextContent('Start Tor failed');
    expect(phaseRow('Start Tor')).toHaveTextContent('Connection refused (CONNECTREFUSED)');
    expect(phaseRow('Start Tor')).toHaveAttribute('data-state', 'failed');

    backend.progressAfterRetry = fakeProgress({}, TOR_PHASES);
    await user.click(within(failure).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(backend.callsOf('retryStartup')).toHaveLength(1);
  });

  it('continues offline to the app when asked', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.progress = fakeProgress({
      network: { state: 'failed', detail: null, error: { kind: 'io', message: 'cannot listen on /ip4/0.0.0.0/tcp/4001: address in use' } },
      bootstrap: { state: 'pending', detail: null, elapsed_ms: null },
      book: { state: 'pending', detail: null, elapsed_ms: null },
    });
    const { user } = renderApp(backend);
    await user.click(await screen.findByRole('button', { name: 'Continue offline' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(backend.callsOf('retryStartup')).toHaveLength(0);
  });

  it('goes straight to the app when the node is already up (souk serve)', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    renderApp(backend);
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(screen.queryByTestId('startup-view')).toBeNull();
    expect(backend.callsOf('startupProgress')).toHaveLength(1);
  });

  it('lets a node without startup reports into the app', async () => {
    const backend = new FakeBackend({ state: 'unlocked', failNext: { startupProgress: 'internal' } });
    renderApp(backend);
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
  });
});
