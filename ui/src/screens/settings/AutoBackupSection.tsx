import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { BackupSettings } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { useFocusFirstInvalid } from '../../components/focus';
import { useBackupSettings, useSaveBackupSettings } from '../../state/settings';
import { SavedNote, SettingsSection } from './SettingsSection';

/** "On: a backup goes to /media/usb/souk after each trade step, the newest 5 kept", or "Off". */
export function autoBackupState(settings: BackupSettings): string {
  if (settings.folder === null) return 'Off: backups are made only when you export one.';
  const kept = settings.keep === 1 ? 'only the newest kept' : `the newest ${settings.keep.toString()} kept`;
  const when = settings.running ? '' : ' (from the next unlock)';
  return `On: a backup goes to ${settings.folder} after each trade step, ${kept}${when}.`;
}

/** Keep: a whole number from 1 to 100, or why not. */
export function keepProblem(text: string): string | undefined {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 100) return 'Keep 1 to 100 backups.';
  return undefined;
}

function AutoBackupForm({ settings }: { settings: BackupSettings }) {
  const save = useSaveBackupSettings();
  const [folder, setFolder] = useState(settings.folder ?? '');
  const [keep, setKeep] = useState(settings.keep.toString());
  const [passphrase, setPassphrase] = useState('');
  const [attempted, setAttempted] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const refused = useFocusFirstInvalid(formRef);

  const turningOn = folder.trim() !== '';
  const errors = {
    keep: attempted ? keepProblem(keep) : undefined,
    passphrase: attempted && turningOn && !passphrase ? 'Enter your passphrase: it seals the backups.' : undefined,
  };
  const change = (set: (value: string) => void, value: string) => {
    set(value);
    setNote(null);
    if (!save.isPending) save.reset();
  };

  /** Saves `target` (empty: off); the passphrase field is cleared whatever the answer. */
  function send(target: string, keepCount: number) {
    setNote(null);
    save.reset();
    save.mutate(
      { folder: target, keep: keepCount, passphrase: target === '' ? '' : passphrase },
      {
        onSuccess: (saved) => {
          setFolder(saved.folder ?? '');
          setKeep(saved.keep.toString());
          setAttempted(false);
          setNote(saved.folder === null ? 'Automatic backups turned off.' : 'Automatic backups on.');
        },
        // The passphrase is not kept on screen longer than it is needed, refused or not.
        onSettled: () => setPassphrase(''),
      },
    );
  }

  /** Turns them off at once, keeping the number kept (the saved one if the field's is not valid). */
  function turnOff() {
    if (save.isPending) return;
    setAttempted(false);
    send('', keepProblem(keep) === undefined ? Number(keep.trim()) : settings.keep);
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (save.isPending) return;
    setAttempted(true);
    setNote(null);
    save.reset();
    if (keepProblem(keep) !== undefined || (turningOn && !passphrase)) {
      refused();
      return;
    }
    send(folder.trim(), Number(keep.trim()));
  }

  return (
    <form ref={formRef} className="form" noValidate onSubmit={submit} aria-label="Automatic backups">
      <Field
        label="Folder"
        hint="An absolute folder on this computer, best on another disk; empty turns automatic backups off."
      >
        {(control) => (
          <input
            {...control}
            name="folder"
            autoComplete="off"
            spellCheck={false}
            value={folder}
            readOnly={save.isPending}
            onChange={(e) => change(setFolder, e.target.value)}
          />
        )}
      </Field>
      <Field label="Backups to keep" hint="The newest are kept; older ones of yours are removed." error={errors.keep}>
        {(control) => (
          <input
            {...control}
            name="keep"
            inputMode="numeric"
            value={keep}
            readOnly={save.isPending}
            onChange={(e) => change(setKeep, e.target.value)}
          />
        )}
      </Field>
      <Field
        label="Passphrase"
        hint="Your passphrase seals the backups; they open only with it. Needed to turn them on."
        error={errors.passphrase}
      >
        {(control) => (
          <input
            {...control}
            name="passphrase"
            type="password"
            autoComplete="current-password"
            value={passphrase}
            readOnly={save.isPending}
            onChange={(e) => change(setPassphrase, e.target.value)}
          />
        )}
      </Field>
      {save.isError ? <ActionError error={save.error} /> : null}
      <div className="form-actions">
        <button type="submit" className="button button--primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save'}
        </button>
        {settings.folder !== null ? (
          <button type="button" className="button" disabled={save.isPending} onClick={turnOff}>
            Turn off
          </button>
        ) : null}
      </div>
      <SavedNote text={note} />
    </form>
  );
}

/** Automatic backups after each trade step: where, how many are kept; on and off at once. */
export function AutoBackupSection() {
  const settings = useBackupSettings();
  return (
    <SettingsSection
      title="Automatic backups"
      testId="settings-auto-backup"
      intro="A fresh encrypted backup a moment after each trade step, so a lost computer costs nothing since the last step."
    >
      {settings.isPending ? <p>Loading…</p> : null}
      {settings.isError ? <ActionError error={settings.error} /> : null}
      {settings.data ? (
        <>
          <p data-testid="auto-backup-state">{autoBackupState(settings.data)}</p>
          {settings.data.overridden_by.length > 0 ? (
            <p className="hint" data-testid="auto-backup-override">
              {settings.data.overridden_by.join(' and ')} {settings.data.overridden_by.length === 1 ? 'is' : 'are'} set
              in the environment: {settings.data.overridden_by.length === 1 ? 'it overrides' : 'they override'} this at
              the next start.
            </p>
          ) : null}
          <AutoBackupForm settings={settings.data} />
        </>
      ) : null}
    </SettingsSection>
  );
}
