import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { ImportedBackup } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { CardScreen } from '../../components/CardScreen';
import { BackupFileFields } from '../../components/BackupFileFields';
import { PeerId } from '../../components/PeerId';
import { useFocusFirstInvalid } from '../../components/focus';
import { formatMadeAt, tradesText } from '../../logic/backup';
import { markUnlocked, useImportBackup } from '../../state/identity';

interface RestoreBackupProps {
  onBack: () => void;
}

/** What came back from the backup, before the app opens with it. */
function Restored({ imported }: { imported: ImportedBackup }) {
  const queryClient = useQueryClient();
  const { backup } = imported;
  return (
    <CardScreen>
      <h1>Backup restored</h1>
      <p className="lead">
        Your identity is back on this device, as it was when the backup was made; anything after that
        is not in it. A trade step you took after the backup (say, marking a payment sent) must be taken
        again: each trade shows what to do next. It unlocks with the passphrase you just entered.
      </p>
      <dl className="details" data-testid="backup-restored">
        <div>
          <dt>Identity</dt>
          <dd>
            <PeerId peerId={imported.identity.peer_id} full />
          </dd>
        </div>
        <div>
          <dt>Backup made</dt>
          <dd>{formatMadeAt(backup.created_at_ms)}</dd>
        </div>
        <div>
          <dt>Trades</dt>
          <dd>{tradesText(backup.trades, backup.open_trades)}</dd>
        </div>
      </dl>
      {imported.config_restored ? (
        <p className="warning" role="status" data-testid="settings-after-restart">
          The backup’s settings (souk.toml: chain backend, bootstrap peers, trade settings) were restored.
          They apply after Souk restarts; until then it runs with the settings it started with.
        </p>
      ) : null}
      <div className="form-actions">
        <button
          type="button"
          className="button button--primary"
          autoFocus
          onClick={() => markUnlocked(queryClient, imported.identity)}
        >
          Continue
        </button>
      </div>
    </CardScreen>
  );
}

/** Restores a backup file made by Souk (Settings → Backup, or `souk backup export`) into this empty device. */
export function RestoreBackup({ onBack }: RestoreBackupProps) {
  const [source, setSource] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [attempted, setAttempted] = useState(false);
  const importing = useImportBackup();
  const formRef = useRef<HTMLFormElement>(null);
  const refused = useFocusFirstInvalid(formRef);

  if (importing.isSuccess) return <Restored imported={importing.data} />;

  const errors = {
    source: attempted && !source.trim() ? 'Enter the path of the backup file.' : undefined,
    passphrase: attempted && !passphrase ? 'Enter the passphrase of the backup.' : undefined,
  };
  // A changed field makes the last refusal old news.
  const change = (set: (value: string) => void, value: string) => {
    set(value);
    if (importing.isError) importing.reset();
  };

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (importing.isPending) return;
    setAttempted(true);
    if (!source.trim() || !passphrase) {
      refused();
      return;
    }
    importing.mutate({ source: source.trim(), passphrase });
  }

  return (
    <CardScreen>
      <h1>Restore from a backup file</h1>
      <p className="lead">
        A backup file brings back your identity with its trades, chats, payment accounts and settings. It
        opens with the passphrase your identity had when the backup was made, which stays its passphrase
        here.
      </p>
      <form ref={formRef} className="form" noValidate onSubmit={submit}>
        <BackupFileFields
          path={{
            label: 'Backup file',
            hint: 'The full path of the file, e.g. /media/usb/souk-backup-20261204-153000.soukbackup.',
            name: 'source',
            value: source,
            error: errors.source,
          }}
          passphrase={{ value: passphrase, error: errors.passphrase }}
          busy={importing.isPending}
          onPathChange={(value) => change(setSource, value)}
          onPassphraseChange={(value) => change(setPassphrase, value)}
        />
        {importing.isError ? <ActionError error={importing.error} /> : null}
        <div className="form-actions">
          <button type="button" className="button button--ghost" onClick={onBack} disabled={importing.isPending}>
            Back
          </button>
          <button type="submit" className="button button--primary" disabled={importing.isPending}>
            {importing.isPending ? 'Restoring…' : 'Restore backup'}
          </button>
        </div>
      </form>
    </CardScreen>
  );
}
