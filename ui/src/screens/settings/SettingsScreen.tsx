import type { IdentityInfo } from '../../bindings';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import { usePreferences } from '../../state/settings';
import { SectionPage } from '../frame/SectionPage';
import { AppearanceSection } from './AppearanceSection';
import { AutoBackupSection } from './AutoBackupSection';
import { ArbitratorsSection } from './ArbitratorsSection';
import { BackupSection } from './BackupSection';
import { ConnectionSections } from './ConnectionSections';
import { NicknameSection } from './NicknameSection';
import { PaymentAccountsSection } from './PaymentAccountsSection';
import { SettingsSection } from './SettingsSection';

function PreferenceSections() {
  const preferences = usePreferences();
  if (preferences.isPending) {
    return (
      <p role="status" className="muted">
        Loading your preferences…
      </p>
    );
  }
  if (preferences.isError) {
    return (
      <ErrorAlert error={preferences.error}>
        <button type="button" className="button button--small" onClick={() => void preferences.refetch()}>
          Try again
        </button>
      </ErrorAlert>
    );
  }
  return (
    <>
      <AppearanceSection preferences={preferences.data} />
      <NicknameSection preferences={preferences.data} />
      <PaymentAccountsSection preferences={preferences.data} />
      <ArbitratorsSection preferences={preferences.data} />
    </>
  );
}

export function SettingsScreen({ identity }: { identity: IdentityInfo }) {
  return (
    <SectionPage title="Settings">
      <PreferenceSections />
      <ConnectionSections />
      <BackupSection />
      <AutoBackupSection />
      <SettingsSection title="Identity" testId="settings-identity">
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
      </SettingsSection>
    </SectionPage>
  );
}
