import type { ReactNode } from 'react';
import { BackendError } from '../backend/errors';
import { describeError } from '../logic/errorMessages';

interface ErrorAlertProps {
  error: unknown;
  /** Optional follow-up control, e.g. a retry button. */
  children?: ReactNode;
}

/** A backend error in plain words, announced to assistive technology. */
export function ErrorAlert({ error, children }: ErrorAlertProps) {
  const backendError = BackendError.from(error);
  return (
    <div className="alert" role="alert">
      <p className="alert-text">{describeError(backendError.kind, backendError.message)}</p>
      {children}
    </div>
  );
}
