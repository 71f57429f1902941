import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { BackupSummary } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { BackupFileFields } from '../../components/BackupFileFields';
import { useFocusFirstInvalid } from '../../components/focus';
import { formatMadeAt, formatSize, tradesText } from '../../logic/backup';
import { useExportBackup } from '../../state/settings';
import { SettingsSection } from './SettingsSection';

/** What an export wrote: where, how big, what it holds, when. */
function Written({ summary }: { summary: BackupSummary }) {
  return (
    <div data-testid="backup-written">
      <p className="success-note">Backup written.</p>
      <dl className="details">
        <div>
          <dt>File</dt>
          <dd className="path">{summary.path}</dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd>{formatSize(summary.bytes)}</dd>
        </div>
        <div>
          <dt>Trades</dt>
          <dd>{tradesText(summary.trades, summary.open_trades)}</dd>
        </div>
        <div>
          <dt>Made</dt>
          <dd>{formatMadeAt(summary.created_at_ms)}</dd>
        </div>
      </dl>
    </div>
  );
}

/** Exports an encrypted backup of the data folder to a file the person names. */
export function BackupSection() {
  const [target, setTarget] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [attempted, setAttempted] = useState(false);
  const exporting = useExportBackup();
  const formRef = useRef<HTMLFormElement>(null);
  const refused = useFocusFirstInvalid(formRef);

  const errors = {
    target: attempted && !target.trim() ? 'Name a folder or a new file.' : undefined,
    passphrase: attempted && !passphrase ? 'Enter your passphrase.' : undefined,
  };
  // A changed field makes the last answer old news.
  const change = (set: (value: string) => void, value: string) => {
    set(value);
    if (!exporting.isPending) exporting.reset();
  };

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (exporting.isPending) return;
    setAttempted(true);
    if (!target.trim() || !passphrase) {
      refused();
      return;
    }
    exporting.mutate(
      { target: target.trim(), passphrase },
      {
        // The passphrase is not kept on screen longer than it is needed.
        onSuccess: () => {
          setPassphrase('');
          setAttempted(false);
        },
      },
    );
  }

  return (
    <SettingsSection
      title="Backup"
      intro="One encrypted file with your identity, trades, chats, payment accounts and settings: everything needed to go on elsewhere if this computer is lost. It opens only with your passphrase; keep it somewhere other than this computer."
      testId="settings-backup"
    >
      <form ref={formRef} className="form" noValidate aria-label="Backup" onSubmit={submit}>
        <BackupFileFields
          path={{
            label: 'Save to (a folder or a new file)',
            hint: 'A full path on the computer Souk runs on, e.g. a USB stick. In a folder, the file is named by the time; an existing file is never replaced.',
            name: 'target',
            value: target,
            error: errors.target,
          }}
          passphrase={{
            value: passphrase,
            hint: 'The one you unlock Souk with. The backup is sealed with it.',
            error: errors.passphrase,
          }}
          busy={exporting.isPending}
          onPathChange={(value) => change(setTarget, value)}
          onPassphraseChange={(value) => change(setPassphrase, value)}
        />
        <div aria-live="polite">
          {exporting.isSuccess ? <Written summary={exporting.data} /> : null}
        </div>
        {exporting.isError ? <ActionError error={exporting.error} /> : null}
        <div className="form-actions">
          <button type="submit" className="button button--primary" disabled={exporting.isPending}>
            {exporting.isPending ? 'Exporting…' : 'Export backup'}
          </button>
        </div>
      </form>
    </SettingsSection>
  );
}
