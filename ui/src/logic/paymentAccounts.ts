import type { PaymentAccount } from '../bindings';
import { splitMethods } from './offerForm';

/** The core's limits (crates/core/src/preferences.rs). */
export const ACCOUNT_LIMITS = {
  maxAccounts: 50,
  maxLabelChars: 64,
  maxDetailsChars: 1000,
} as const;

const PAYMENT_METHOD = /^[A-Z0-9_]{2,32}$/;
const CONTROL = /\p{Cc}/u;

/** What the account form holds while a person types. */
export interface AccountDraft {
  method: string;
  label: string;
  details: string;
}

export type AccountErrors = Partial<Record<keyof AccountDraft, string>>;

export const EMPTY_DRAFT: AccountDraft = { method: '', label: '', details: '' };

/** Characters as the core counts them (Unicode scalar values, not UTF-16 units). */
function chars(text: string): number {
  return [...text].length;
}

/** "sepa instant" → "SEPA_INSTANT", as offers name methods. */
export function normalizeMethod(text: string): string {
  return splitMethods(text)[0] ?? '';
}

/**
 * The same checks the core makes on save, field by field, so a person sees them next to the field
 * before anything is sent. `others` are the accounts kept beside this one.
 */
export function validateAccount(draft: AccountDraft, others: readonly PaymentAccount[]): AccountErrors {
  const errors: AccountErrors = {};
  const method = normalizeMethod(draft.method);
  if (!method) errors.method = 'Name the payment method, e.g. SEPA.';
  else if (!PAYMENT_METHOD.test(method)) errors.method = `“${method}” is not a method name: 2–32 letters, digits or _.`;

  const label = draft.label.trim();
  if (!label) errors.label = 'Give the account a name you recognise, e.g. “Main bank”.';
  else if (chars(label) > ACCOUNT_LIMITS.maxLabelChars) {
    errors.label = `At most ${ACCOUNT_LIMITS.maxLabelChars.toString()} characters.`;
  } else if (CONTROL.test(label)) errors.label = 'The name cannot contain control characters.';
  else if (others.some((a) => a.method === method && a.label.trim().toLowerCase() === label.toLowerCase())) {
    errors.label = `You already have a ${method} account with this name.`;
  }

  if (!draft.details.trim()) errors.details = 'Enter the details you give a counterparty (IBAN, phone number, …).';
  else if (chars(draft.details) > ACCOUNT_LIMITS.maxDetailsChars) {
    errors.details = `At most ${ACCOUNT_LIMITS.maxDetailsChars.toString()} characters.`;
  }
  return errors;
}

export function hasErrors(errors: object): boolean {
  return Object.values(errors).some(Boolean);
}

/** The account a valid draft stands for. */
export function accountFrom(draft: AccountDraft, id: string): PaymentAccount {
  return { id, method: normalizeMethod(draft.method), label: draft.label.trim(), details: draft.details };
}

/** The payment methods the person has an account for, each once, in the order first listed. */
export function myPaymentMethods(accounts: readonly PaymentAccount[]): string[] {
  return [...new Set(accounts.map((a) => a.method))];
}

/** A fresh account id (a UUID, as the core expects). */
export function newAccountId(): string {
  return crypto.randomUUID();
}
