import { BackendError } from '../backend/errors';
import { describeError } from '../logic/errorMessages';

/** The core's own words for a refused trade step, as a sentence ("The maker refused the take: …"). */
export function refusalText(error: unknown): string {
  const e = BackendError.from(error);
  const message = e.message.trim();
  if (e.kind === 'invalid_input' && message) return `${message.charAt(0).toUpperCase()}${message.slice(1)}`;
  return describeError(e.kind, e.message);
}

/** A refused trade action, announced at once. */
export function ActionError({ error }: { error: unknown }) {
  return (
    <div className="alert" role="alert">
      <p className="alert-text">{refusalText(error)}</p>
    </div>
  );
}
