import type { EscrowKind, Offer } from '../../bindings';
import { bpsToPercent, formatAmount } from '../../logic/amount';

export function formatPrice(price: string | null, quote: string): string {
  if (price === null) return 'no market price';
  const value = Number(price);
  if (!Number.isFinite(value)) return `${price} ${quote}`;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: 8 })} ${quote}`;
}

export function formatOfferPrice(offer: Offer): string {
  if ('fixed' in offer.price) return formatPrice(offer.price.fixed, offer.quote);
  const bps = offer.price.market_relative.premium_bps;
  return `market ${bps >= 0 ? '+' : ''}${bpsToPercent(bps)} %`;
}

export function formatRange(offer: Offer): string {
  return `${formatAmount(offer.min_amount, offer.base)} – ${formatAmount(offer.max_amount, offer.base)} ${offer.base}`;
}

export function formatEscrow(escrow: EscrowKind): string {
  if (escrow.kind === 'none') return 'No escrow';
  const n = escrow.arbitrators.length;
  return `Multisig 2-of-3 (${n.toString()} arbitrator${n === 1 ? '' : 's'})`;
}

export function sideLabel(offer: Offer): string {
  return offer.side === 'sell' ? `Sells ${offer.base}` : `Buys ${offer.base}`;
}
