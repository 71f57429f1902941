import { describe, expect, it } from 'vitest';
import { BackendError, isErrorKind, isErrorPayload } from './errors';

describe('BackendError.from', () => {
  it('maps an ErrorPayload to its kind and message', () => {
    const error = BackendError.from({ kind: 'wrong_passphrase', message: 'bad key' });
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toBeInstanceOf(Error);
    expect(error.kind).toBe('wrong_passphrase');
    expect(error.message).toBe('bad key');
    expect(error.name).toBe('BackendError');
  });

  it('maps an Error to kind "internal" keeping its message', () => {
    const error = BackendError.from(new TypeError('boom'));
    expect(error.kind).toBe('internal');
    expect(error.message).toBe('boom');
  });

  it('maps a bare string to kind "internal"', () => {
    const error = BackendError.from('command unlock not found');
    expect(error.kind).toBe('internal');
    expect(error.message).toBe('command unlock not found');
  });

  it('maps an object with an unknown kind to "internal" keeping the message', () => {
    const error = BackendError.from({ kind: 'from_the_future', message: 'new thing' });
    expect(error.kind).toBe('internal');
    expect(error.message).toBe('new thing');
  });

  it('maps null, numbers and empty values to "internal" with a generic message', () => {
    for (const thrown of [null, undefined, 42, '', {}]) {
      const error = BackendError.from(thrown);
      expect(error.kind).toBe('internal');
      expect(error.message).not.toBe('');
    }
  });

  it('returns an existing BackendError unchanged', () => {
    const original = new BackendError('storage', 'disk full');
    expect(BackendError.from(original)).toBe(original);
  });
});

describe('type guards', () => {
  it('recognise error kinds and payloads', () => {
    expect(isErrorKind('invalid_seed_phrase')).toBe(true);
    expect(isErrorKind('toString')).toBe(false);
    expect(isErrorPayload({ kind: 'io', message: 'x' })).toBe(true);
    expect(isErrorPayload({ kind: 'io' })).toBe(false);
    expect(isErrorPayload('io')).toBe(false);
  });
});
