import { useEffect, useRef, useState } from 'react';
import type { MyOffer, OfferState } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useNow } from '../../components/useNow';
import { useMyOffers, useWithdrawOffer } from '../../state/market';
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

export function MyOffersScreen() {
  const offers = useMyOffers();
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
                  <div>
                    <dt>Takers</dt>
                    <dd className="muted">None yet</dd>
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
