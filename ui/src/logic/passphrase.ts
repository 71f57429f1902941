export const MIN_PASSPHRASE_LENGTH = 8;

export interface PassphraseErrors {
  passphrase?: string;
  confirm?: string;
}

/** Length in user-perceived characters (code points), not UTF-16 units. */
export function passphraseLength(passphrase: string): number {
  return [...passphrase].length;
}

/** Validates a new passphrase and its confirmation. An empty object means valid. */
export function validateNewPassphrase(passphrase: string, confirm: string): PassphraseErrors {
  const errors: PassphraseErrors = {};
  if (passphraseLength(passphrase) < MIN_PASSPHRASE_LENGTH) {
    errors.passphrase = `Use at least ${MIN_PASSPHRASE_LENGTH} characters.`;
  }
  if (confirm !== passphrase) {
    errors.confirm = 'The passphrases do not match.';
  }
  return errors;
}

export function hasErrors(errors: object): boolean {
  return Object.values(errors).some((value) => value !== undefined);
}
