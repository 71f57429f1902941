import { useState } from 'react';
import type { FormEvent } from 'react';
import { CardScreen } from '../../components/CardScreen';
import { ErrorAlert } from '../../components/ErrorAlert';
import { Field } from '../../components/Field';
import { PassphraseFields } from '../../components/PassphraseFields';
import { focusField } from '../../components/focus';
import { usePassphraseForm } from '../../components/usePassphraseForm';
import { normaliseSeedWords, splitSeedWords } from '../../logic/seedWords';
import { useRestoreIdentity } from '../../state/identity';
import { StatusSyncAction } from '../../components/StatusSyncAction';
import { TorChoice } from './TorChoice';

interface RestoreIdentityProps {
  onBack: () => void;
}

export function RestoreIdentity({ onBack }: RestoreIdentityProps) {
  const [words, setWords] = useState('');
  const form = usePassphraseForm();
  const restore = useRestoreIdentity();
  const [tor, setTor] = useState(false);

  const [wordsAttempted, setWordsAttempted] = useState(false);

  const wordCount = splitSeedWords(words).length;
  const wordsError = wordsAttempted && wordCount === 0 ? 'Enter your seed words.' : undefined;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (restore.isPending) return;
    setWordsAttempted(true);
    const passphraseOk = form.attemptSubmit();
    if (wordCount === 0) {
      focusField(event.currentTarget, 'words');
      return;
    }
    if (!passphraseOk) {
      const invalid = form.firstInvalidField();
      if (invalid) focusField(event.currentTarget, invalid);
      return;
    }
    restore.mutate({ words: normaliseSeedWords(words), passphrase: form.passphrase, tor });
  }

  return (
    <CardScreen>
      <h1>Restore from seed words</h1>
      <p className="lead">
        Enter the seed words of your identity in order, then choose a passphrase for this device.
      </p>
      <p className="muted" data-testid="restore-trades-note">
        Open escrow trades come back by themselves once you are online: your counterparties and arbitrators keep sealed
        copies only your seed words open. Finished trades and settings come back only from a backup file.
      </p>
      <form className="form" noValidate onSubmit={submit}>
        <Field
          label="Seed words"
          hint={`Usually 12 or 24 words, separated by spaces or new lines. ${wordCount} ${
            wordCount === 1 ? 'word' : 'words'
          } entered.`}
          error={wordsError}
        >
          {(control) => (
            <textarea
              {...control}
              name="words"
              rows={4}
              autoComplete="off"
              autoCapitalize="none"
              autoCorrect="off"
              spellCheck={false}
              value={words}
              disabled={restore.isPending}
              onChange={(event) => setWords(event.target.value)}
            />
          )}
        </Field>
        <PassphraseFields
          passphrase={form.passphrase}
          confirm={form.confirm}
          onPassphraseChange={form.setPassphrase}
          onConfirmChange={form.setConfirm}
          errors={form.visibleErrors}
          disabled={restore.isPending}
        />
        <TorChoice checked={tor} onChange={setTor} disabled={restore.isPending} />
        {restore.isError ? (
          <ErrorAlert error={restore.error}>
            <StatusSyncAction error={restore.error} />
          </ErrorAlert>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button button--ghost" onClick={onBack}>
            Back
          </button>
          <button type="submit" className="button button--primary" disabled={restore.isPending}>
            {restore.isPending ? 'Restoring…' : 'Restore identity'}
          </button>
        </div>
      </form>
    </CardScreen>
  );
}
