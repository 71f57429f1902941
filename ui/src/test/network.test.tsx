import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FAKE_PEER_ID, FakeBackend, OTHER_PEER_ID } from './fakeBackend';
import { renderApp } from './renderApp';

async function openNetwork(backend: FakeBackend) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  await rendered.user.click(within(nav).getByRole('button', { name: 'Network' }));
  await screen.findByRole('heading', { level: 1, name: 'Network' });
  return rendered;
}

describe('Network: reachability', () => {
  it('says a node behind NAT is reachable through its relay reservation, and lists it', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const reservation = `/ip4/198.51.100.4/tcp/4001/p2p/${OTHER_PEER_ID}/p2p-circuit/p2p/${FAKE_PEER_ID}`;
    backend.network = {
      ...backend.network!,
      reach: 'relayed',
      nat_status: 'private',
      relays: [
        { relay: OTHER_PEER_ID, reservation, automatic: true },
        { relay: '12D3KooWSecondRelayForNetworkTests1aBcDeFgHiJkLmNo', reservation: null, automatic: false },
      ],
    };
    await openNetwork(backend);
    expect(await screen.findByTestId('reach')).toHaveTextContent('Reachable through a relay.');
    expect(screen.getByTestId('nat-status')).toHaveTextContent('Private: peers could not dial back');
    const relays = screen.getByTestId('relays');
    expect(relays).toHaveTextContent(reservation);
    expect(relays).toHaveTextContent('waiting for a reservation');
    // Which relay the node picked by itself behind the NAT, and which one the settings name.
    const [picked, named] = within(relays).getAllByRole('listitem');
    expect(picked).toHaveTextContent('picked behind the NAT');
    expect(named).toHaveTextContent('from your settings');
    expect(within(relays).getByRole('button', { name: 'Copy relayed address' })).toBeInTheDocument();
    expect(screen.getByText(/None confirmed/)).toBeInTheDocument();
  });

  it('lists confirmed external addresses of a directly reachable node, and says when it is not reachable', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const external = `/ip4/203.0.113.7/tcp/4001/p2p/${FAKE_PEER_ID}`;
    backend.network = { ...backend.network!, reach: 'public', nat_status: 'public', external_addrs: [external], relay_server: true };
    const { unmount } = await openNetwork(backend);
    expect(await screen.findByTestId('reach')).toHaveTextContent('Reachable directly.');
    expect(screen.getByRole('list', { name: 'Confirmed external addresses' })).toHaveTextContent(external);
    expect(screen.getByText(/^Yes: peers behind NAT/)).toBeInTheDocument();
    expect(screen.getByText(/picks relays among its peers by itself/)).toBeInTheDocument();
    unmount();

    const hidden = new FakeBackend({ state: 'unlocked' });
    hidden.network = { ...hidden.network!, reach: 'private', nat_status: 'private' };
    await openNetwork(hidden);
    expect(await screen.findByTestId('reach')).toHaveTextContent('Not reachable from outside.');
  });
});

describe('Network: chain backend', () => {
  it('says when no chain backend is configured', async () => {
    await openNetwork(new FakeBackend({ state: 'unlocked' }));
    const chain = await screen.findByTestId('chain-health');
    expect(chain).toHaveAttribute('data-health', 'unconfigured');
    expect(chain).toHaveTextContent('No chain backend configured');
  });

  it('shows the chain, the connection and the tip height', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.chain = {
      configured: true,
      chain: 'ltc',
      network: 'regtest',
      rpc_url: 'http://127.0.0.1:19443/',
      connected: true,
      tip_height: 104,
      confirmations: 1,
      error: null,
    };
    await openNetwork(backend);
    await waitFor(() => expect(screen.getByTestId('chain-health')).toHaveTextContent('Connected'));
    expect(screen.getByTestId('chain-tip')).toHaveTextContent('104');
    const panel = screen.getByTestId('chain-status');
    expect(panel).toHaveTextContent('Litecoin regtest');
    expect(panel).toHaveTextContent('http://127.0.0.1:19443/');
    expect(screen.queryByTestId('chain-error')).toBeNull();
  });

  it('gives the reason in words when the chain node cannot be reached, even while the network is down', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.network = null;
    const reason =
      'cannot reach the chain node at http://127.0.0.1:9/: connection failed: is the node running, and do rpc_url, rpcbind and rpcport agree?';
    backend.chain = { ...backend.chain, configured: true, rpc_url: 'http://127.0.0.1:9/', error: reason };
    await openNetwork(backend);
    expect(await screen.findByTestId('chain-error')).toHaveTextContent(reason);
    expect(screen.getByTestId('chain-health')).toHaveTextContent('Not reachable');
    expect(screen.getByTestId('chain-tip')).toHaveTextContent('—');
    expect(screen.getByText('Connecting to the network…')).toBeInTheDocument();
  });
});
