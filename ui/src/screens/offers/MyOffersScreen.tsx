import { useEffect, useRef, useState } from 'react';
import type { MyOffer, OfferState, TradeInfo } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useNow } from '../../components/useNow';
import { PeerId } from '../../components/PeerId';
import { stateLabel as tradeStateLabel, tradesByOffer } from '../../logic/trades';
import { useMyOffers, useWithdrawOffer } from '../../state/market';
import { useTrades } from '../../state/trades';
import { formatTradeAmount } from '../trades/format';
import { EmptyState } from '../frame/EmptyState';
import { SectionPage } from '../frame/SectionPage';
import { formatEscrow, formatOfferPrice, formatRange, sideLabel } from '../market/format';
import { OfferTerms } from '../market/OfferTerms';

function stateLabel(state: OfferState): string {
  switch (state.state) {
    case 'live':
      return 'Live';
    case 'expired':
      return 'Expired';
    case 'withdrawn':
      return 'Withdrawn';
  }
}

function formatTime(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

/** Withdraw, then an inline "are you sure" that takes the focus, so it works from the keyboard. */
function WithdrawControl({ offer }: { offer: MyOffer }) {
  const [confirming, setConfirming] = useState(false);
  const withdraw = useWithdrawOffer();
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);

  if (offer.state.state !== 'live') return null;
  if (!confirming) {
    return (
      <button type="button" className="button button--small" onClick={() => setConfirming(true)}>
        Withdraw
      </button>
    );
  }
  return (
    <div className="confirm" role="group" aria-label="Confirm withdrawal">
      <p>Withdraw this offer everywhere? Takers will no longer see it.</p>
      <button
        ref={confirmRef}
        type="button"
        className="button button--small button--danger"
        disabled={withdraw.isPending}
        onClick={() => withdraw.mutate(offer.offer.id, { onSuccess: () => setConfirming(false) })}
      >
        {withdraw.isPending ? 'Withdrawing…' : 'Yes, withdraw'}
      </button>
      <button type="button" className="button button--small button--ghost" onClick={() => setConfirming(false)}>
        Keep it
      </button>
      {withdraw.isError ? <ErrorAlert error={withdraw.error} /> : null}
    </div>
  );
}

/** Who is taking an offer: each trade on it, its state, and a way into its trade room. */
function Takers({ trades, onOpenTrade }: { trades: TradeInfo[] | undefined; onOpenTrade: (id: string) => void }) {
  if (!trades || trades.length === 0) return <span className="muted">None yet</span>;
  return (
    <ul className="takers" aria-label="Takers">
      {trades.map((trade) => (
        <li key={trade.id} className="taker" data-trade-id={trade.id}>
          <PeerId peerId={trade.counterparty} /> · {formatTradeAmount(trade)} ·{' '}
          <span className="badge badge--trade">{tradeStateLabel(trade.state)}</span>
          {trade.waiting_for === 'maker' ? <span className="badge badge--turn">Your turn</span> : null}
          <button
            type="button"
            className="button button--small"
            aria-label={`Open trade with ${trade.counterparty}`}
            onClick={() => onOpenTrade(trade.id)}
          >
            Open
          </button>
        </li>
      ))}
    </ul>
  );
}

export function MyOffersScreen({ onOpenTrade }: { onOpenTrade: (id: string) => void }) {
  const offers = useMyOffers();
  const trades = useTrades();
  const byOffer = tradesByOffer(trades.data ?? []);
  const now = useNow();

  return (
    <SectionPage title="My offers">
      {offers.isError ? (
        <ErrorAlert error={offers.error}>
          <button type="button" className="button button--small" onClick={() => void offers.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : offers.isPending ? (
        <p role="status" className="muted">
          Loading your offers…
        </p>
      ) : offers.data.length === 0 ? (
        <EmptyState title="You have no offers">
          Offers you publish will be listed here, together with their status.
        </EmptyState>
      ) : (
        <ul className="offer-list" aria-label="Your offers">
          {offers.data.map((mine) => {
            const { offer, state } = mine;
            return (
              <li key={offer.id} className="offer-card" data-offer-id={offer.id} data-state={state.state}>
                <div className="offer-card-head">
                  <p className="offer-card-title">
                    {sideLabel(offer)} for {offer.quote} · {formatOfferPrice(offer)}
                  </p>
                  <span className={`badge badge--${state.state}`}>{stateLabel(state)}</span>
                </div>
                <dl className="details details--compact">
                  <div>
                    <dt>Amount</dt>
                    <dd>{formatRange(offer)}</dd>
                  </div>
                  <div>
                    <dt>Payment</dt>
                    <dd>{offer.payment_methods.join(', ')}</dd>
                  </div>
                  <div>
                    <dt>Escrow</dt>
                    <dd>{formatEscrow(offer.escrow)}</dd>
                  </div>
                  <div>
                    <dt>{state.state === 'withdrawn' ? 'Withdrawn' : offer.expires_at <= now ? 'Expired' : 'Expires'}</dt>
                    <dd>{formatTime(state.state === 'withdrawn' ? state.at : offer.expires_at)}</dd>
                  </div>
                  <div className="takers-cell">
                    <dt>Takers</dt>
                    <dd>
                      <Takers trades={byOffer.get(offer.id)} onOpenTrade={onOpenTrade} />
                    </dd>
                  </div>
                  <div>
                    <dt>Terms</dt>
                    <dd>
                      <OfferTerms terms={offer.terms} />
                    </dd>
                  </div>
                </dl>
                <WithdrawControl offer={mine} />
              </li>
            );
          })}
        </ul>
      )}
    </SectionPage>
  );
}
