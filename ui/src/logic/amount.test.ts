import { describe, expect, it } from 'vitest';
import { bpsToPercent, formatAmount, parseAmount, parsePercent } from './amount';

describe('amounts', () => {
  it('parses whole-coin text into base units exactly', () => {
    expect(parseAmount('0.05', 'BTC')).toEqual({ ok: true, value: 5_000_000 });
    expect(parseAmount(' 1 ', 'LTC')).toEqual({ ok: true, value: 100_000_000 });
    expect(parseAmount('.5', 'BTC')).toEqual({ ok: true, value: 50_000_000 });
    expect(parseAmount('0.00000001', 'BTC')).toEqual({ ok: true, value: 1 });
    // 0.1 + 0.2 style float errors cannot happen: no floats on the way.
    expect(parseAmount('20999999.99999999', 'BTC')).toEqual({ ok: true, value: 2_099_999_999_999_999 });
  });

  it('says why text is not an amount', () => {
    const error = (text: string) => {
      const parsed = parseAmount(text, 'BTC');
      return parsed.ok ? null : parsed.error;
    };
    expect(error('')).toBe('Enter an amount.');
    expect(error('-1')).toBe('Amounts cannot be negative.');
    expect(error('1,5')).toMatch(/not a number/);
    expect(error('0.000000001')).toBe('At most 8 decimal places for BTC.');
    expect(error('0')).toBe('The amount must be greater than zero.');
    expect(error('21000001')).toBe('At most 21,000,000 BTC.');
  });

  it('formats base units without trailing zeros', () => {
    expect(formatAmount(5_000_000, 'BTC')).toBe('0.05');
    expect(formatAmount(100_000_000, 'BTC')).toBe('1');
    expect(formatAmount(1, 'LTC')).toBe('0.00000001');
    expect(formatAmount(2_100_000_000_000_000, 'BTC')).toBe('21000000');
  });

  it('converts percentages and durations', () => {
    expect(parsePercent('1.5', { allowNegative: true })).toEqual({ ok: true, value: 150 });
    expect(parsePercent('-2', { allowNegative: true })).toEqual({ ok: true, value: -200 });
    expect(parsePercent('-2').ok).toBe(false);
    expect(parsePercent('1.005').ok).toBe(false);
    expect(bpsToPercent(1500)).toBe('15');
    expect(bpsToPercent(-150)).toBe('-1.5');
    expect(bpsToPercent(1025)).toBe('10.25');
  });
});
