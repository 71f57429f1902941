import { describe, expect, it } from 'vitest';
import { describeError } from './errorMessages';

describe('describeError', () => {
  it('uses fixed wording for well-known kinds', () => {
    expect(describeError('wrong_passphrase', 'argon2 mismatch')).toBe(
      'Wrong passphrase. Check it and try again.',
    );
    expect(describeError('invalid_seed_phrase', 'checksum')).toMatch(/seed words are not valid/);
  });

  it('appends the backend detail for generic kinds', () => {
    expect(describeError('storage', 'disk full')).toBe('Souk could not read or write its data. disk full');
    expect(describeError('internal', '  ')).toBe('Something went wrong.');
  });
});
