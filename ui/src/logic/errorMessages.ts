import type { ErrorKind } from '../bindings';

/** User-facing wording for each error kind; the backend message is appended where useful. */
const MESSAGES: Record<ErrorKind, (detail: string) => string> = {
  wrong_passphrase: () => 'Wrong passphrase. Check it and try again.',
  keystore_corrupt: () =>
    'The key store on this device is damaged and cannot be opened. You can restore your identity from its seed words.',
  backup_corrupt: (detail) =>
    withDetail('This backup file is damaged or is not a Souk backup; nothing was changed.', detail),
  already_initialized: () =>
    'An identity already exists on this device. Unlock it instead of creating or restoring another one.',
  not_initialized: () => 'There is no identity on this device yet. Create or restore one first.',
  invalid_seed_phrase: () =>
    'These seed words are not valid. Check that every word is spelled correctly and in the right order.',
  invalid_input: (detail) => withDetail('The input was not accepted.', detail),
  newer_schema: () =>
    'This data was written by a newer version of Souk. Update Souk to open it.',
  offline: () => 'Souk is not connected to the network yet. Wait for it to connect and try again.',
  peer_misbehaved: (detail) =>
    withDetail('The other side sent something invalid (nothing you did wrong).', detail),
  storage: (detail) => withDetail('Souk could not read or write its data.', detail),
  io: (detail) => withDetail('A file operation failed.', detail),
  internal: (detail) => withDetail('Something went wrong.', detail),
};

function withDetail(summary: string, detail: string): string {
  const trimmed = detail.trim();
  return trimmed ? `${summary} ${trimmed}` : summary;
}

export function describeError(kind: ErrorKind, detail: string): string {
  return MESSAGES[kind](detail);
}

/**
 * The core's own message as a sentence, whatever its kind: for errors whose message already says
 * exactly what is wrong (a chain node that cannot be reached, a peer that refused the dial).
 */
export function inCoreWords(error: { kind: ErrorKind; message: string }): string {
  const message = error.message.trim();
  if (!message) return describeError(error.kind, '');
  return `${message.charAt(0).toUpperCase()}${message.slice(1)}`;
}
