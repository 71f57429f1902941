import { Field } from './Field';
import { MIN_PASSPHRASE_LENGTH } from '../logic/passphrase';
import type { PassphraseErrors } from '../logic/passphrase';

interface PassphraseFieldsProps {
  passphrase: string;
  confirm: string;
  onPassphraseChange: (value: string) => void;
  onConfirmChange: (value: string) => void;
  /** Errors to display (the caller decides when they become visible). */
  errors: PassphraseErrors;
  disabled?: boolean;
}

/** New passphrase + confirmation, used by both create and restore. */
export function PassphraseFields({
  passphrase,
  confirm,
  onPassphraseChange,
  onConfirmChange,
  errors,
  disabled = false,
}: PassphraseFieldsProps) {
  return (
    <>
      <Field
        label="Passphrase"
        hint={`At least ${MIN_PASSPHRASE_LENGTH} characters. It encrypts your keys on this device.`}
        error={errors.passphrase}
      >
        {(control) => (
          <input
            {...control}
            name="passphrase"
            type="password"
            autoComplete="new-password"
            value={passphrase}
            disabled={disabled}
            onChange={(event) => onPassphraseChange(event.target.value)}
          />
        )}
      </Field>
      <Field label="Confirm passphrase" error={errors.confirm}>
        {(control) => (
          <input
            {...control}
            name="confirm"
            type="password"
            autoComplete="new-password"
            value={confirm}
            disabled={disabled}
            onChange={(event) => onConfirmChange(event.target.value)}
          />
        )}
      </Field>
    </>
  );
}
