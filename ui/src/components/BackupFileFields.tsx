import { Field } from './Field';

interface BackupFileFieldsProps {
  /** The path field: its label, hint, form name and value. */
  path: { label: string; hint: string; name: string; value: string; error?: string | undefined };
  passphrase: { value: string; hint?: string | undefined; error?: string | undefined };
  /** While the backup is written or read, the fields stay readable but do not change. */
  busy: boolean;
  onPathChange: (value: string) => void;
  onPassphraseChange: (value: string) => void;
}

/** A backup file's path on the node's computer and the passphrase it is sealed with (export and import). */
export function BackupFileFields({ path, passphrase, busy, onPathChange, onPassphraseChange }: BackupFileFieldsProps) {
  return (
    <>
      <Field label={path.label} hint={path.hint} error={path.error}>
        {(control) => (
          <input
            {...control}
            name={path.name}
            autoComplete="off"
            spellCheck={false}
            value={path.value}
            readOnly={busy}
            onChange={(e) => onPathChange(e.target.value)}
          />
        )}
      </Field>
      <Field label="Passphrase" hint={passphrase.hint} error={passphrase.error}>
        {(control) => (
          <input
            {...control}
            name="passphrase"
            type="password"
            autoComplete="current-password"
            value={passphrase.value}
            readOnly={busy}
            onChange={(e) => onPassphraseChange(e.target.value)}
          />
        )}
      </Field>
    </>
  );
}
