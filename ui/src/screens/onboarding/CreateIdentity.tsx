import { useState } from 'react';
import type { FormEvent } from 'react';
import type { CreatedIdentity } from '../../bindings';
import { CardScreen } from '../../components/CardScreen';
import { ErrorAlert } from '../../components/ErrorAlert';
import { StatusSyncAction } from '../../components/StatusSyncAction';
import { PassphraseFields } from '../../components/PassphraseFields';
import { focusField } from '../../components/focus';
import { usePassphraseForm } from '../../components/usePassphraseForm';
import { useCreateIdentity } from '../../state/identity';
import { TorChoice } from './TorChoice';

interface CreateIdentityProps {
  onCreated: (created: CreatedIdentity) => void;
  onBack: () => void;
}

export function CreateIdentity({ onCreated, onBack }: CreateIdentityProps) {
  const form = usePassphraseForm();
  const create = useCreateIdentity();
  const [tor, setTor] = useState(false);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (create.isPending) return;
    if (!form.attemptSubmit()) {
      const invalid = form.firstInvalidField();
      if (invalid) focusField(event.currentTarget, invalid);
      return;
    }
    create.mutate({ passphrase: form.passphrase, tor }, { onSuccess: onCreated });
  }

  return (
    <CardScreen>
      <h1>Create a new identity</h1>
      <p className="lead">
        Choose a passphrase. You will need it every time you open Souk on this device.
      </p>
      <form className="form" noValidate onSubmit={submit}>
        <PassphraseFields
          passphrase={form.passphrase}
          confirm={form.confirm}
          onPassphraseChange={form.setPassphrase}
          onConfirmChange={form.setConfirm}
          errors={form.visibleErrors}
          disabled={create.isPending}
        />
        <TorChoice checked={tor} onChange={setTor} disabled={create.isPending} />
        {create.isError ? (
          <ErrorAlert error={create.error}>
            <StatusSyncAction error={create.error} />
          </ErrorAlert>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button button--ghost" onClick={onBack}>
            Back
          </button>
          <button type="submit" className="button button--primary" disabled={create.isPending}>
            {create.isPending ? 'Creating…' : 'Create identity'}
          </button>
        </div>
      </form>
    </CardScreen>
  );
}
