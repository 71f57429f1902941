import type { Price, TradeInfo } from '../../bindings';
import { bpsToPercent, formatAmount } from '../../logic/amount';
import { mySide } from '../../logic/trades';
import { formatPrice } from '../market/format';

export function formatTermsPrice(price: Price, quote: string): string {
  if ('fixed' in price) return `${formatPrice(price.fixed, quote)} per coin`;
  const bps = price.market_relative.premium_bps;
  return `market ${bps >= 0 ? '+' : ''}${bpsToPercent(bps)} %`;
}

export function formatTradeAmount(trade: TradeInfo, units: number = trade.terms.amount): string {
  return `${formatAmount(units, trade.offer.base)} ${trade.offer.base}`;
}

/** "You buy BTC for EUR" from this node's side. */
export function tradeHeadline(trade: TradeInfo): string {
  const verb = mySide(trade) === 'buyer' ? 'buy' : 'sell';
  return `You ${verb} ${trade.offer.base} for ${trade.offer.quote}`;
}

/** The total in the quote currency, when the price is fixed. */
export function formatTotal(trade: TradeInfo): string | null {
  const price = trade.terms.price;
  if (!('fixed' in price)) return null;
  const total = (Number(price.fixed) * trade.terms.amount) / 100_000_000;
  if (!Number.isFinite(total)) return null;
  return `${total.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${trade.offer.quote}`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

/** Compact, for a timeline row: "24 Nov, 01:15" (a trade may span days, so the day stays). */
export function formatStepTime(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}
