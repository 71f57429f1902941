import type { NetworkStatus } from '../../bindings';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import { NAT_LABELS, REACH_TEXT, refusalsText } from '../../logic/network';
import { useNetworkStatus } from '../../state/market';
import { EmptyState } from '../frame/EmptyState';
import { SectionPage } from '../frame/SectionPage';
import { ChainPanel } from './ChainPanel';

/** Peers and DHT, whether others can reach this node, and the chain backend (shown even while offline). */
export function NetworkScreen() {
  const status = useNetworkStatus();
  const connecting = status.isPending || (status.isError && status.error.kind === 'offline' && !status.data);
  const net = status.data;
  return (
    <SectionPage title="Network">
      {connecting ? (
        <p role="status" className="lead">
          Connecting to the network…
        </p>
      ) : status.isError && !net ? (
        <ErrorAlert error={status.error} />
      ) : net ? (
        <Stats net={net} />
      ) : null}
      <div className="network-panels">
        {net ? <ReachabilityPanel net={net} /> : null}
        <ChainPanel />
      </div>
      {net ? <Addresses net={net} /> : null}
    </SectionPage>
  );
}

function Stats({ net }: { net: NetworkStatus }) {
  return (
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
      <div>
        <dt>Refused from peers</dt>
        <dd data-testid="refusals">{refusalsText(net.refusals)}</dd>
      </div>
    </dl>
  );
}

function ReachabilityPanel({ net }: { net: NetworkStatus }) {
  return (
    <section className="panel" aria-labelledby="reach-title">
      <h2 id="reach-title">Reachability</h2>
      <p className="reach-summary" data-testid="reach">
        <span className={`reach--${net.reach}`}>{REACH_TEXT[net.reach].title}</span> {REACH_TEXT[net.reach].text}
      </p>
      <dl className="details details--compact" aria-label="Reachability">
        <div>
          <dt>NAT (AutoNAT)</dt>
          <dd data-testid="nat-status">{NAT_LABELS[net.nat_status]}</dd>
        </div>
        <div>
          <dt>Relay for others</dt>
          <dd>{net.relay_server ? 'Yes: peers behind NAT can reserve a circuit here' : 'No'}</dd>
        </div>
      </dl>
      <h3>Confirmed external addresses</h3>
      {net.external_addrs.length === 0 ? (
        <p className="muted">None confirmed: no peer has reached this node at an address it could tell.</p>
      ) : (
        <ul className="address-list" aria-label="Confirmed external addresses">
          {net.external_addrs.map((addr) => (
            <li key={addr} className="details-row">
              <code className="path">{addr}</code>
              <CopyButton text={addr} label="Copy external address" />
            </li>
          ))}
        </ul>
      )}
      <h3>Relay reservations</h3>
      {net.relays.length === 0 ? (
        <p className="muted">
          No relays. Behind a NAT this node picks relays among its peers by itself; you can also name one (a{' '}
          <code>…/p2p/RELAY/p2p-circuit</code> address in <code>[net] listen</code>).
        </p>
      ) : (
        <ul className="address-list" aria-label="Relay reservations" data-testid="relays">
          {net.relays.map((relay) => (
            <li key={relay.relay} className="details-row">
              <span>
                Relay <PeerId peerId={relay.relay} />
                <span className="muted">{relay.automatic ? ' · picked behind the NAT' : ' · from your settings'}</span>
              </span>
              {relay.reservation ? (
                <>
                  <code className="path">{relay.reservation}</code>
                  <CopyButton text={relay.reservation} label="Copy relayed address" />
                </>
              ) : (
                <span className="muted">waiting for a reservation (connecting to the relay)</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Addresses({ net }: { net: NetworkStatus }) {
  return (
    <>
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
    </>
  );
}

