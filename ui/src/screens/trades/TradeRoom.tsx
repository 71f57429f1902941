import { useEffect, useRef } from 'react';
import type { TradeInfo } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import { PeerNickname } from '../../components/PeerNickname';
import { formatEscrow } from '../market/format';
import { OfferTerms } from '../market/OfferTerms';
import { canRate } from '../../logic/reputation';
import { isMyTurn, isOver, roleLabel, stateLabel } from '../../logic/trades';
import { useTrade } from '../../state/trades';
import { Chat } from './Chat';
import { EscrowTimeline } from './EscrowTimeline';
import { formatTermsPrice, formatTime, formatTotal, formatTradeAmount, tradeHeadline } from './format';
import { Negotiation } from './Negotiation';
import { RateCounterparty } from './RateCounterparty';
import { TradeActions } from './TradeActions';

/** One trade: its terms, the answer or step due now (a rating once it ended), its timeline, and the chat. */
export function TradeRoom({ tradeId, onBack }: { tradeId: string; onBack: () => void }) {
  const trade = useTrade(tradeId);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [tradeId]);

  return (
    <section className="section-page trade-room-page" aria-labelledby="section-title">
      <div className="trade-room-head">
        <button type="button" className="button button--small button--ghost" onClick={onBack}>
          ← All trades
        </button>
        <h1 id="section-title" ref={heading} tabIndex={-1}>
          {trade.data ? tradeHeadline(trade.data) : 'Trade'}
        </h1>
        {trade.data ? (
          <span className={`badge badge--trade badge--${trade.data.state.toLowerCase()}`} data-testid="trade-state">
            {stateLabel(trade.data.state)}
          </span>
        ) : null}
      </div>
      {trade.isError ? (
        <ErrorAlert error={trade.error}>
          <button type="button" className="button button--small" onClick={() => void trade.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : trade.isPending ? (
        <p role="status" className="muted">
          Loading the trade…
        </p>
      ) : (
        <TradeBody trade={trade.data} />
      )}
    </section>
  );
}

function TradeBody({ trade }: { trade: TradeInfo }) {
  const total = formatTotal(trade);
  return (
    <div className="trade-room" data-trade-id={trade.id}>
      <div className="trade-main">
        <p className={`trade-status${isMyTurn(trade) ? ' trade-status--turn' : ''}`} aria-live="polite" data-testid="trade-next">
          {isMyTurn(trade) ? <strong>Your turn: </strong> : isOver(trade) ? <strong>Over: </strong> : <strong>Next: </strong>}
          {trade.next_step}
        </p>
        {trade.reject_reason ? (
          <p className="alert alert-text" data-testid="reject-reason">
            Rejected: <span className="plain-text">{trade.reject_reason}</span>
          </p>
        ) : null}
        <Negotiation key={`${trade.id}-${trade.state}`} trade={trade} />
        <TradeActions key={`${trade.id}-actions-${trade.state}`} trade={trade} />
        {canRate(trade.state) ? <RateCounterparty key={`${trade.id}-rating`} trade={trade} /> : null}
        <EscrowTimeline trade={trade} />
        <section className="panel" aria-label="Terms">
          <h2>Terms</h2>
          <dl className="details details--compact">
            <div>
              <dt>Amount</dt>
              <dd className="num" data-testid="terms-amount">
                {formatTradeAmount(trade)}
              </dd>
            </div>
            <div>
              <dt>Price</dt>
              <dd className="num">{formatTermsPrice(trade.terms.price, trade.offer.quote)}</dd>
            </div>
            {total ? (
              <div>
                <dt>Total</dt>
                <dd className="num">{total}</dd>
              </div>
            ) : null}
            <div>
              <dt>Payment</dt>
              <dd>{trade.terms.method}</dd>
            </div>
            <div>
              <dt>You are</dt>
              <dd>{roleLabel(trade.role)}</dd>
            </div>
            <div>
              <dt>Counterparty</dt>
              <dd>
                <PeerId peerId={trade.counterparty} />
                <PeerNickname peer={trade.counterparty} />
              </dd>
            </div>
            <div>
              <dt>Escrow</dt>
              <dd>{formatEscrow(trade.offer.escrow)}</dd>
            </div>
            <div>
              <dt>Payout details</dt>
              <dd className="plain-text">{trade.terms.payout || <span className="muted">—</span>}</dd>
            </div>
            <div>
              <dt>Offer terms</dt>
              <dd>
                <OfferTerms terms={trade.offer.terms} />
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{formatTime(trade.created_at)}</dd>
            </div>
          </dl>
        </section>
      </div>
      <Chat tradeId={trade.id} unread={trade.unread} counterparty={trade.counterparty} />
    </div>
  );
}
