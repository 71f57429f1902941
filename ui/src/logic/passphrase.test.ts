import { describe, expect, it } from 'vitest';
import { hasErrors, passphraseLength, validateNewPassphrase } from './passphrase';

describe('validateNewPassphrase', () => {
  it('accepts a matching passphrase of 8 characters', () => {
    expect(validateNewPassphrase('12345678', '12345678')).toEqual({});
  });

  it('rejects a passphrase that is too short', () => {
    const errors = validateNewPassphrase('short', 'short');
    expect(errors.passphrase).toMatch(/at least 8 characters/);
    expect(errors.confirm).toBeUndefined();
  });

  it('rejects an empty passphrase', () => {
    expect(validateNewPassphrase('', '').passphrase).toBeDefined();
  });

  it('rejects a mismatched confirmation', () => {
    const errors = validateNewPassphrase('long enough', 'long enougH');
    expect(errors.passphrase).toBeUndefined();
    expect(errors.confirm).toMatch(/do not match/);
  });

  it('reports both problems at once', () => {
    const errors = validateNewPassphrase('abc', 'abd');
    expect(errors.passphrase).toBeDefined();
    expect(errors.confirm).toBeDefined();
  });

  it('counts code points, not UTF-16 units', () => {
    // Four emoji are 8 UTF-16 units but only 4 characters.
    expect(passphraseLength('😀😀😀😀')).toBe(4);
    expect(validateNewPassphrase('😀😀😀😀', '😀😀😀😀').passphrase).toBeDefined();
  });
});

describe('hasErrors', () => {
  it('is false for an empty object and true otherwise', () => {
    expect(hasErrors({})).toBe(false);
    expect(hasErrors({ passphrase: undefined })).toBe(false);
    expect(hasErrors({ confirm: 'x' })).toBe(true);
  });
});
