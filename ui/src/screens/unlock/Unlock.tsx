import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { CardScreen } from '../../components/CardScreen';
import { ErrorAlert } from '../../components/ErrorAlert';
import { Field } from '../../components/Field';
import { PeerId } from '../../components/PeerId';
import { StatusSyncAction } from '../../components/StatusSyncAction';
import { useUnlock } from '../../state/identity';
import { useStartupProgress } from '../../state/startup';
import { StartupPhases } from '../startup/StartupPhases';

interface UnlockProps {
  peerId: string;
  dataDir: string;
}

export function Unlock({ peerId, dataDir }: UnlockProps) {
  const [passphrase, setPassphrase] = useState('');
  const [attempted, setAttempted] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const unlock = useUnlock();
  // While the keystore opens (seconds of key derivation), show how far it has come.
  const progress = useStartupProgress(unlock.isPending);

  const emptyError = attempted && passphrase.length === 0 ? 'Enter your passphrase.' : undefined;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (unlock.isPending) return;
    setAttempted(true);
    if (passphrase.length === 0) {
      inputRef.current?.focus();
      return;
    }
    unlock.mutate(
      { passphrase },
      {
        onError: () => {
          inputRef.current?.focus();
          inputRef.current?.select();
        },
      },
    );
  }

  return (
    <CardScreen>
      <h1>Unlock Souk</h1>
      <dl className="details">
        <div>
          <dt>Identity</dt>
          <dd>
            <PeerId peerId={peerId} full />
          </dd>
        </div>
        <div>
          <dt>Data folder</dt>
          <dd className="path">{dataDir}</dd>
        </div>
      </dl>
      <form className="form" noValidate onSubmit={submit}>
        <Field label="Passphrase" error={emptyError}>
          {(control) => (
            <input
              {...control}
              ref={inputRef}
              name="passphrase"
              type="password"
              autoComplete="current-password"
              autoFocus
              value={passphrase}
              readOnly={unlock.isPending}
              onChange={(event) => {
                setPassphrase(event.target.value);
                if (unlock.isError) unlock.reset();
              }}
            />
          )}
        </Field>
        {unlock.isError ? (
          <ErrorAlert error={unlock.error}>
            <StatusSyncAction error={unlock.error} />
          </ErrorAlert>
        ) : null}
        <div className="form-actions">
          <button type="submit" className="button button--primary" disabled={unlock.isPending}>
            {unlock.isPending ? 'Unlocking…' : 'Unlock'}
          </button>
        </div>
      </form>
      {unlock.isPending && progress.data ? <StartupPhases phases={progress.data.phases} /> : null}
    </CardScreen>
  );
}
