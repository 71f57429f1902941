import type { ErrorKind, ErrorPayload } from '../bindings';

/**
 * Every kind the Rust core can report. Typed as a Record so that adding a
 * kind to the generated bindings fails compilation here until it is listed.
 */
const KNOWN_KINDS: Record<ErrorKind, true> = {
  wrong_passphrase: true,
  keystore_corrupt: true,
  backup_corrupt: true,
  already_initialized: true,
  not_initialized: true,
  invalid_seed_phrase: true,
  invalid_input: true,
  newer_schema: true,
  offline: true,
  peer_misbehaved: true,
  storage: true,
  io: true,
  internal: true,
};

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && Object.hasOwn(KNOWN_KINDS, value);
}

/** True for the `{ kind, message }` object that Tauri commands reject with. */
export function isErrorPayload(value: unknown): value is ErrorPayload {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return isErrorKind(record.kind) && typeof record.message === 'string';
}

/** The single error type every Backend implementation rejects with. */
export class BackendError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = 'BackendError';
    this.kind = kind;
  }

  /** Converts anything thrown into a BackendError (unknown shapes become "internal"). */
  static from(thrown: unknown): BackendError {
    if (thrown instanceof BackendError) return thrown;
    if (isErrorPayload(thrown)) return new BackendError(thrown.kind, thrown.message);
    if (thrown instanceof Error) return new BackendError('internal', thrown.message);
    if (typeof thrown === 'string' && thrown.length > 0) return new BackendError('internal', thrown);
    if (typeof thrown === 'object' && thrown !== null) {
      const message = (thrown as Record<string, unknown>).message;
      if (typeof message === 'string' && message.length > 0) {
        return new BackendError('internal', message);
      }
    }
    return new BackendError('internal', 'Unexpected error from the backend');
  }
}
