import type { Asset } from '../bindings';

/** Decimal places of each asset's base unit (sats, litoshis). */
export const ASSET_DECIMALS: Record<Asset, number> = { BTC: 8, LTC: 8 };
/** The most of any asset an offer may name, in base units (21 million coins). */
export const MAX_AMOUNT_UNITS = 21_000_000 * 100_000_000;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const DECIMAL = /^\d+(?:\.\d*)?$|^\.\d+$/;

/** Whole-coin text ("0.05") → base units, with a reason when it is not an amount. */
export function parseAmount(text: string, asset: Asset): Parsed<number> {
  const t = text.trim();
  if (t === '') return { ok: false, error: 'Enter an amount.' };
  if (t.startsWith('-')) return { ok: false, error: 'Amounts cannot be negative.' };
  if (!DECIMAL.test(t)) return { ok: false, error: `“${t}” is not a number, e.g. 0.05.` };
  const decimals = ASSET_DECIMALS[asset];
  const [whole = '', fraction = ''] = t.split('.');
  if (fraction.length > decimals) {
    return { ok: false, error: `At most ${decimals} decimal places for ${asset}.` };
  }
  const units = BigInt(whole || '0') * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
  if (units === 0n) return { ok: false, error: 'The amount must be greater than zero.' };
  if (units > BigInt(MAX_AMOUNT_UNITS)) return { ok: false, error: `At most 21,000,000 ${asset}.` };
  return { ok: true, value: Number(units) };
}

/** Base units → whole-coin text without trailing zeros ("0.05"). */
export function formatAmount(units: number, asset: Asset): string {
  const decimals = ASSET_DECIMALS[asset];
  const scale = 10n ** BigInt(decimals);
  const value = BigInt(Math.trunc(units));
  const whole = value / scale;
  const fraction = (value % scale).toString().padStart(decimals, '0').replace(/0+$/, '');
  return fraction ? `${whole.toString()}.${fraction}` : whole.toString();
}

/** Basis points → percent text ("150" → "1.5"). */
export function bpsToPercent(bps: number): string {
  const sign = bps < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(bps));
  const fraction = (abs % 100).toString().padStart(2, '0').replace(/0+$/, '');
  return `${sign}${Math.floor(abs / 100).toString()}${fraction ? `.${fraction}` : ''}`;
}

/** Percent text with at most two decimals → basis points. */
export function parsePercent(text: string, { allowNegative = false } = {}): Parsed<number> {
  const t = text.trim();
  if (t === '') return { ok: false, error: 'Enter a percentage.' };
  const pattern = allowNegative ? /^[-+]?\d+(?:\.\d+)?$/ : /^\+?\d+(?:\.\d+)?$/;
  if (!pattern.test(t)) {
    return { ok: false, error: allowNegative ? `“${t}” is not a percentage, e.g. 1.5 or -2.` : `“${t}” is not a percentage, e.g. 15.` };
  }
  const negative = t.startsWith('-');
  const [whole = '0', fraction = ''] = t.replace(/^[-+]/, '').split('.');
  if (fraction.length > 2) return { ok: false, error: 'At most 2 decimal places (0.01 %).' };
  const bps = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return { ok: true, value: negative ? -bps : bps };
}
