import { describe, expect, it } from 'vitest';
import { fakeOffer } from '../test/fakeBackend';
import { MAX_PAYOUT_CHARS, emptyTakeForm, payoutHint, validateTakeForm } from './takeForm';

const offer = fakeOffer({ id: 'o', min_amount: 1_000_000, max_amount: 25_000_000, payment_methods: ['SEPA', 'REVOLUT'] });

describe('the take form', () => {
  it('asks for an amount within the offer’s range', () => {
    const form = { ...emptyTakeForm(offer), method: 'SEPA' };
    expect(validateTakeForm(form, offer).errors.amount).toBe('Enter an amount between 0.01 and 0.25 BTC.');
    expect(validateTakeForm({ ...form, amount: '0.005' }, offer).errors.amount).toBe('The offer takes between 0.01 and 0.25 BTC.');
    expect(validateTakeForm({ ...form, amount: '0.3' }, offer).errors.amount).toBe('The offer takes between 0.01 and 0.25 BTC.');
    expect(validateTakeForm({ ...form, amount: 'lots' }, offer).errors.amount).toMatch(/not a number/);
    expect(validateTakeForm({ ...form, amount: '0.123456789' }, offer).errors.amount).toMatch(/decimal places/);
    expect(validateTakeForm({ ...form, amount: '0.25' }, offer).errors).toEqual({});
  });

  it('needs one of the offer’s payment methods', () => {
    expect(emptyTakeForm(offer).method).toBe('');
    expect(emptyTakeForm(fakeOffer({ payment_methods: ['SEPA'] })).method).toBe('SEPA');
    expect(validateTakeForm({ amount: '0.1', method: '', payout: '' }, offer).errors.method).toBe('Choose how you will pay or be paid.');
    expect(validateTakeForm({ amount: '0.1', method: 'ZELLE', payout: '' }, offer).errors.method).toBe('The offer does not accept ZELLE.');
  });

  it('limits payout details to what the core accepts, and builds the take request', () => {
    const long = 'x'.repeat(MAX_PAYOUT_CHARS + 1);
    expect(validateTakeForm({ amount: '0.1', method: 'SEPA', payout: long }, offer).errors.payout).toMatch(/At most 256/);
    expect(validateTakeForm({ amount: '0.1', method: 'SEPA', payout: long }, offer).take).toBeNull();
    expect(validateTakeForm({ amount: ' 0.1 ', method: 'REVOLUT', payout: ' IBAN DE00 ' }, offer).take).toEqual({
      offerId: 'o',
      base: 'BTC',
      amount: 10_000_000,
      method: 'REVOLUT',
      payout: 'IBAN DE00',
    });
  });

  it('says what the payout details are for', () => {
    expect(payoutHint(fakeOffer({ side: 'buy' }))).toMatch(/IBAN/);
    expect(payoutHint(fakeOffer({ side: 'sell' }))).toMatch(/BTC address/);
    expect(payoutHint(fakeOffer({ side: 'sell', escrow: { kind: 'multisig', arbitrators: [] } }))).toMatch(/once the terms are agreed/);
  });
});
