import type { Offer } from '../bindings';
import type { TakeRequest } from '../backend/types';
import { formatAmount, parseAmount } from './amount';

/** The core refuses longer payout details. */
export const MAX_PAYOUT_CHARS = 256;

/** The take form as typed. */
export interface TakeForm {
  amount: string;
  method: string;
  payout: string;
}

export type TakeField = keyof TakeForm;
export type TakeErrors = Partial<Record<TakeField, string>>;

/** A fresh form: the only method preselected when there is one. */
export function emptyTakeForm(offer: Offer): TakeForm {
  const only = offer.payment_methods.length === 1 ? (offer.payment_methods[0] ?? '') : '';
  return { amount: '', method: only, payout: '' };
}

/** Checks the form against the offer; `take` is set only when nothing is wrong. */
export function validateTakeForm(form: TakeForm, offer: Offer): { errors: TakeErrors; take: TakeRequest | null } {
  const errors: TakeErrors = {};
  const range = `${formatAmount(offer.min_amount, offer.base)} and ${formatAmount(offer.max_amount, offer.base)} ${offer.base}`;
  const amount = parseAmount(form.amount, offer.base);
  if (!amount.ok) {
    errors.amount = form.amount.trim() === '' ? `Enter an amount between ${range}.` : amount.error;
  } else if (amount.value < offer.min_amount || amount.value > offer.max_amount) {
    errors.amount = `The offer takes between ${range}.`;
  }
  if (form.method === '') errors.method = 'Choose how you will pay or be paid.';
  else if (!offer.payment_methods.includes(form.method)) errors.method = `The offer does not accept ${form.method}.`;
  const payoutChars = [...form.payout.trim()].length;
  if (payoutChars > MAX_PAYOUT_CHARS) {
    errors.payout = `At most ${MAX_PAYOUT_CHARS.toString()} characters (now ${payoutChars.toString()}).`;
  }
  if (Object.keys(errors).length > 0 || !amount.ok) return { errors, take: null };
  return {
    errors,
    take: { offerId: offer.id, base: offer.base, amount: amount.value, method: form.method, payout: form.payout.trim() },
  };
}

/** What the taker's payout details are for: they are paid in the quote currency when they sell. */
export function payoutHint(offer: Offer): string {
  if (offer.side === 'buy') return `Where the maker pays you the ${offer.quote}, e.g. your IBAN or account name. Shared only with the maker.`;
  if (offer.escrow.kind === 'multisig') return `Optional: a note for the maker. Your ${offer.base} address is given once the terms are agreed.`;
  return `Where the maker sends your ${offer.base}: your ${offer.base} address. Shared only with the maker.`;
}
