import type { Asset, NewOffer, Quote, Side } from '../bindings';
import { parseAmount, parsePercent } from './amount';

export const ASSETS: readonly Asset[] = ['BTC', 'LTC'];
export const FIATS = [
  'EUR', 'USD', 'GBP', 'CHF', 'JPY', 'CAD', 'AUD', 'BRL', 'ARS', 'NGN', 'KES', 'INR', 'CNY', 'MXN', 'ZAR',
  'TRY', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK', 'NZD', 'SGD', 'HKD', 'KRW', 'IDR', 'PHP', 'VND', 'AED', 'UAH',
] as const satisfies readonly Quote[];
/** What an asset can be priced in: every fiat currency, and the other assets. */
export function quotesFor(base: Asset): Quote[] {
  return [...FIATS, ...ASSETS.filter((a) => a !== base)];
}

/** Limits the core enforces; checked here first so the form can say what is wrong, and where. */
export const LIMITS = {
  maxFixedPrice: 1_000_000_000_000,
  maxPriceDecimals: 8,
  maxPremiumBps: 5_000,
  maxDepositBps: 5_000,
  maxPaymentMethods: 8,
  maxArbitrators: 5,
  maxTermsChars: 2_000,
  maxExpiryHours: 7 * 24,
} as const;

/** The form as typed: everything is text until it validates. */
export interface OfferForm {
  side: Side;
  base: Asset;
  quote: Quote;
  priceMode: 'fixed' | 'premium';
  price: string;
  premium: string;
  min: string;
  max: string;
  /** Comma- or space-separated, e.g. "SEPA, REVOLUT". */
  methods: string;
  escrow: 'none' | 'multisig';
  /** One PeerId per line (or comma-separated). */
  arbitrators: string;
  deposit: string;
  expiryHours: string;
  terms: string;
}

export type OfferField = Exclude<keyof OfferForm, 'priceMode'>;
export type OfferErrors = Partial<Record<OfferField, string>>;

export const EMPTY_OFFER_FORM: OfferForm = {
  side: 'sell',
  base: 'BTC',
  quote: 'EUR',
  priceMode: 'fixed',
  price: '',
  premium: '',
  min: '',
  max: '',
  methods: '',
  escrow: 'none',
  arbitrators: '',
  deposit: '15',
  expiryHours: '24',
  terms: '',
};

const PAYMENT_METHOD = /^[A-Z0-9_]{2,32}$/;
/** A base58 libp2p PeerId (ed25519 ids start with 12D3KooW, older RSA ones with Qm). */
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{46,60}$/;
const FIXED_PRICE = /^\d+(?:\.\d+)?$/;

/** "sepa, Revolut faster-payments" → ["SEPA", "REVOLUT", "FASTER_PAYMENTS"]. */
export function splitMethods(text: string): string[] {
  return text
    .split(/[,;\n]+/)
    .map((m) => m.trim().toUpperCase().replace(/[\s-]+/g, '_'))
    .filter(Boolean);
}

export function splitList(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((a) => a.trim())
    .filter(Boolean);
}

export interface Validated {
  errors: OfferErrors;
  /** The offer to post, when there are no errors. */
  offer: NewOffer | null;
}

/** Checks every field; errors are sentences shown next to their field. */
export function validateOfferForm(form: OfferForm, myPeerId?: string): Validated {
  const errors: OfferErrors = {};

  let price: NewOffer['price'] | null = null;
  if (form.priceMode === 'fixed') {
    const p = form.price.trim();
    if (p === '') errors.price = `Enter a price in ${form.quote} per ${form.base}.`;
    else if (!FIXED_PRICE.test(p)) errors.price = `“${p}” is not a price, e.g. 60000 or 61250.50.`;
    else if ((p.split('.')[1] ?? '').length > LIMITS.maxPriceDecimals) {
      errors.price = `At most ${LIMITS.maxPriceDecimals.toString()} decimal places.`;
    } else if (Number(p) <= 0) errors.price = 'The price must be greater than zero.';
    else if (Number(p) > LIMITS.maxFixedPrice) errors.price = 'That price is too high.';
    else price = { fixed: p.replace(/^0+(?=\d)/, '') };
  } else {
    const premium = parsePercent(form.premium, { allowNegative: true });
    if (!premium.ok) errors.premium = premium.error;
    else if (Math.abs(premium.value) > LIMITS.maxPremiumBps) {
      errors.premium = `Between −${(LIMITS.maxPremiumBps / 100).toString()} % and +${(LIMITS.maxPremiumBps / 100).toString()} %.`;
    } else price = { market_relative: { premium_bps: premium.value } };
  }

  const min = parseAmount(form.min, form.base);
  const max = parseAmount(form.max, form.base);
  if (!min.ok) errors.min = min.error;
  if (!max.ok) errors.max = max.error;
  if (min.ok && max.ok && min.value > max.value) {
    errors.max = 'The maximum must not be below the minimum.';
  }

  const methods = splitMethods(form.methods);
  const badMethod = methods.find((m) => !PAYMENT_METHOD.test(m));
  if (methods.length === 0) errors.methods = 'Name at least one payment method, e.g. SEPA.';
  else if (badMethod) errors.methods = `“${badMethod}” is not a method name: 2–32 letters, digits or _.`;
  else if (methods.length > LIMITS.maxPaymentMethods) {
    errors.methods = `At most ${LIMITS.maxPaymentMethods.toString()} payment methods.`;
  } else if (new Set(methods).size !== methods.length) errors.methods = 'Each method only once.';

  const arbitrators = form.escrow === 'multisig' ? splitList(form.arbitrators) : [];
  if (form.escrow === 'multisig') {
    const bad = arbitrators.find((a) => !PEER_ID.test(a));
    if (arbitrators.length === 0) errors.arbitrators = 'A multisig escrow needs at least one arbitrator you accept.';
    else if (bad) errors.arbitrators = `“${bad}” is not a Peer ID (they start with 12D3KooW).`;
    else if (arbitrators.length > LIMITS.maxArbitrators) {
      errors.arbitrators = `At most ${LIMITS.maxArbitrators.toString()} arbitrators.`;
    } else if (new Set(arbitrators).size !== arbitrators.length) errors.arbitrators = 'Each arbitrator only once.';
    else if (myPeerId && arbitrators.includes(myPeerId)) errors.arbitrators = 'You cannot be your own arbitrator.';
  }

  const deposit = parsePercent(form.deposit);
  if (!deposit.ok) errors.deposit = deposit.error;
  else if (deposit.value > LIMITS.maxDepositBps) {
    errors.deposit = `At most ${(LIMITS.maxDepositBps / 100).toString()} %.`;
  }

  const hoursText = form.expiryHours.trim();
  const hours = Number(hoursText);
  if (!/^\d+$/.test(hoursText) || hours < 1 || hours > LIMITS.maxExpiryHours) {
    errors.expiryHours = `Whole hours from 1 to ${LIMITS.maxExpiryHours.toString()} (7 days).`;
  }

  if ([...form.terms].length > LIMITS.maxTermsChars) {
    errors.terms = `At most ${LIMITS.maxTermsChars.toString()} characters (now ${[...form.terms].length.toString()}).`;
  }

  if (Object.keys(errors).length > 0 || !price || !min.ok || !max.ok || !deposit.ok) {
    return { errors, offer: null };
  }
  return {
    errors,
    offer: {
      side: form.side,
      base: form.base,
      quote: form.quote,
      price,
      min_amount: min.value,
      max_amount: max.value,
      payment_methods: methods,
      escrow: form.escrow === 'multisig' ? { kind: 'multisig', arbitrators } : { kind: 'none' },
      deposit_bps: deposit.value,
      // The node puts its own channel key in when it signs.
      maker_x25519: '0'.repeat(64),
      ttl_ms: hours * 3_600_000,
      terms: form.terms.trim(),
    },
  };
}
