import type { IdentityInfo } from '../../bindings';
import { CopyButton } from '../../components/CopyButton';
import { PeerId } from '../../components/PeerId';
import { SectionPage } from './SectionPage';

export function SettingsPage({ identity }: { identity: IdentityInfo }) {
  return (
    <SectionPage title="Settings">
      <h2>Identity</h2>
      <dl className="details">
        <div>
          <dt>Peer ID</dt>
          <dd className="details-row">
            <PeerId peerId={identity.peer_id} full />
            <CopyButton text={identity.peer_id} label="Copy Peer ID" />
          </dd>
        </div>
        <div>
          <dt>Data folder</dt>
          <dd className="path">{identity.data_dir}</dd>
        </div>
        <div>
          <dt>Schema version</dt>
          <dd>{identity.schema_version}</dd>
        </div>
        <div>
          <dt>Arbitrator</dt>
          <dd>
            {identity.arbitrator
              ? 'Yes: this node decides the disputes of trades that name it'
              : 'No (set arbitrator = true in [trade] of souk.toml)'}
          </dd>
        </div>
      </dl>
    </SectionPage>
  );
}
