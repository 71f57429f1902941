import { useState } from 'react';
import { hasErrors, validateNewPassphrase } from '../logic/passphrase';
import type { PassphraseErrors } from '../logic/passphrase';

/**
 * State for a new-passphrase form. Errors are computed on every render but
 * only shown once the user has tried to submit.
 */
export function usePassphraseForm() {
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [attempted, setAttempted] = useState(false);

  const errors = validateNewPassphrase(passphrase, confirm);
  const visibleErrors: PassphraseErrors = attempted ? errors : {};

  return {
    passphrase,
    confirm,
    setPassphrase,
    setConfirm,
    visibleErrors,
    /** Marks the form as submitted; returns true when the passphrase is acceptable. */
    attemptSubmit(): boolean {
      setAttempted(true);
      return !hasErrors(errors);
    },
    /** Name of the first invalid input, for moving focus to it. */
    firstInvalidField(): 'passphrase' | 'confirm' | null {
      if (errors.passphrase) return 'passphrase';
      if (errors.confirm) return 'confirm';
      return null;
    },
  };
}
