import { describe, expect, it } from 'vitest';
import { EMPTY_OFFER_FORM, quotesFor, splitMethods, validateOfferForm } from './offerForm';
import type { OfferForm } from './offerForm';

const ARBITER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
const ME = '12D3KooWRBhwfeP2Y9CDkFRBeZ1JYyLqAcZfaWWkDk9jZJwEPJsG';
const GOOD: OfferForm = {
  ...EMPTY_OFFER_FORM,
  price: '61000',
  min: '0.01',
  max: '0.25',
  methods: 'sepa, Revolut',
  terms: '  Pay within 2 hours.  ',
};

const errorsOf = (form: Partial<OfferForm>) => validateOfferForm({ ...GOOD, ...form }, ME).errors;

describe('post-offer form validation', () => {
  it('turns a valid form into the offer to post', () => {
    const { errors, offer } = validateOfferForm(GOOD, ME);
    expect(errors).toEqual({});
    expect(offer).toEqual({
      side: 'sell',
      base: 'BTC',
      quote: 'EUR',
      price: { fixed: '61000' },
      min_amount: 1_000_000,
      max_amount: 25_000_000,
      payment_methods: ['SEPA', 'REVOLUT'],
      escrow: { kind: 'none' },
      deposit_bps: 1500,
      maker_x25519: '0'.repeat(64),
      ttl_ms: 24 * 3_600_000,
      terms: 'Pay within 2 hours.',
    });
  });

  it('names every problem of an empty form next to its field', () => {
    const { errors, offer } = validateOfferForm(EMPTY_OFFER_FORM);
    expect(offer).toBeNull();
    expect(errors).toEqual({
      price: 'Enter a price in EUR per BTC.',
      min: 'Enter an amount.',
      max: 'Enter an amount.',
      methods: 'Name at least one payment method, e.g. SEPA.',
    });
  });

  it('checks the price or the premium', () => {
    expect(errorsOf({ price: 'abc' }).price).toMatch(/not a price/);
    expect(errorsOf({ price: '0' }).price).toBe('The price must be greater than zero.');
    expect(errorsOf({ price: '1.123456789' }).price).toBe('At most 8 decimal places.');
    expect(errorsOf({ price: '2000000000000' }).price).toBe('That price is too high.');
    expect(errorsOf({ priceMode: 'premium', premium: '' }).premium).toBe('Enter a percentage.');
    expect(errorsOf({ priceMode: 'premium', premium: '51' }).premium).toMatch(/Between/);
    expect(errorsOf({ priceMode: 'premium', premium: '1.555' }).premium).toMatch(/2 decimal/);
    const premium = validateOfferForm({ ...GOOD, priceMode: 'premium', premium: '-1.5', price: 'ignored' });
    expect(premium.offer?.price).toEqual({ market_relative: { premium_bps: -150 } });
  });

  it('checks the amount range', () => {
    expect(errorsOf({ min: '0.3' }).max).toBe('The maximum must not be below the minimum.');
    expect(errorsOf({ min: '0' }).min).toBe('The amount must be greater than zero.');
    expect(errorsOf({ max: '0.000000001' }).max).toMatch(/8 decimal places/);
  });

  it('checks payment methods', () => {
    expect(splitMethods('sepa, faster payments;  revolut-eu')).toEqual(['SEPA', 'FASTER_PAYMENTS', 'REVOLUT_EU']);
    expect(errorsOf({ methods: 'SEPA, X' }).methods).toMatch(/“X” is not a method name/);
    expect(errorsOf({ methods: 'SEPA, sepa' }).methods).toBe('Each method only once.');
    expect(errorsOf({ methods: 'A1,B1,C1,D1,E1,F1,G1,H1,I1' }).methods).toBe('At most 8 payment methods.');
  });

  it('checks escrow arbitrators', () => {
    expect(errorsOf({ escrow: 'multisig' }).arbitrators).toMatch(/at least one arbitrator/);
    expect(errorsOf({ escrow: 'multisig', arbitrators: 'bob' }).arbitrators).toMatch(/not a Peer ID/);
    expect(errorsOf({ escrow: 'multisig', arbitrators: `${ARBITER}\n${ARBITER}` }).arbitrators).toBe('Each arbitrator only once.');
    expect(errorsOf({ escrow: 'multisig', arbitrators: ME }).arbitrators).toBe('You cannot be your own arbitrator.');
    // Arbitrators typed while "none" is chosen are not sent.
    expect(validateOfferForm({ ...GOOD, arbitrators: 'junk' }).offer?.escrow).toEqual({ kind: 'none' });
    const multisig = validateOfferForm({ ...GOOD, escrow: 'multisig', arbitrators: ` ${ARBITER} ` });
    expect(multisig.offer?.escrow).toEqual({ kind: 'multisig', arbitrators: [ARBITER] });
  });

  it('checks deposit, expiry and terms', () => {
    expect(errorsOf({ deposit: '51' }).deposit).toBe('At most 50 %.');
    expect(errorsOf({ deposit: '-1' }).deposit).toMatch(/not a percentage/);
    expect(errorsOf({ expiryHours: '0' }).expiryHours).toMatch(/1 to 168/);
    expect(errorsOf({ expiryHours: '169' }).expiryHours).toMatch(/1 to 168/);
    expect(errorsOf({ expiryHours: '1.5' }).expiryHours).toMatch(/Whole hours/);
    expect(errorsOf({ terms: 'x'.repeat(2001) }).terms).toBe('At most 2000 characters (now 2001).');
    // Characters, not UTF-16 units: 2000 emoji are fine.
    expect(errorsOf({ terms: '🙂'.repeat(2000) }).terms).toBeUndefined();
  });

  it('never offers an asset priced in itself', () => {
    expect(quotesFor('BTC')).toContain('LTC');
    expect(quotesFor('BTC')).not.toContain('BTC');
  });
});
