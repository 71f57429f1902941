import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import { useNetworkStatus } from '../../state/market';
import { EmptyState } from '../frame/EmptyState';
import { SectionPage } from '../frame/SectionPage';

export function NetworkScreen() {
  const status = useNetworkStatus();

  if (status.isPending || (status.isError && status.error.kind === 'offline' && !status.data)) {
    return (
      <SectionPage title="Network">
        <p role="status" className="lead">
          Connecting to the network…
        </p>
      </SectionPage>
    );
  }
  if (status.isError && !status.data) {
    return (
      <SectionPage title="Network">
        <ErrorAlert error={status.error} />
      </SectionPage>
    );
  }
  const net = status.data;
  return (
    <SectionPage title="Network">
      <dl className="stats" aria-label="Network statistics">
        <div>
          <dt>Connected peers</dt>
          <dd data-testid="connected-peers">{net.connected_peers.length}</dd>
        </div>
        <div>
          <dt>DHT routing table</dt>
          <dd>{net.routing_table_size} peers</dd>
        </div>
        <div>
          <dt>DHT records stored here</dt>
          <dd>{net.stored_records}</dd>
        </div>
      </dl>

      <h2>Listening on</h2>
      <p className="muted">Give one of these to a friend to use as a bootstrap peer.</p>
      <ul className="address-list">
        {net.listen_addrs.map((addr) => (
          <li key={addr} className="details-row">
            <code className="path">{addr}</code>
            <CopyButton text={addr} label="Copy address" />
          </li>
        ))}
      </ul>

      <h2>Peers</h2>
      {net.connected_peers.length === 0 ? (
        <EmptyState title="Not connected to any peers">
          Souk keeps looking through its bootstrap peers and the local network.
        </EmptyState>
      ) : (
        <ul className="peer-list" aria-label="Connected peers">
          {net.connected_peers.map((peer) => (
            <li key={peer}>
              <PeerId peerId={peer} full />
            </li>
          ))}
        </ul>
      )}
    </SectionPage>
  );
}
