import { useEffect, useRef, useState } from 'react';
import type { DisputeWinner } from '../../backend/types';
import type { DisputeInfo, PartyCase } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import {
  coins,
  disputeMarket,
  disputeStateLabel,
  escrowTotal,
  isOpen,
  openedByLabel,
  otherSide,
  parseTranscriptLine,
  payoutAddress,
  payoutSummary,
} from '../../logic/disputes';
import { useDispute, useResolveDispute } from '../../state/disputes';
import { formatOfferPrice } from '../market/format';
import { OfferTerms } from '../market/OfferTerms';
import { formatTime } from '../trades/format';

/** One dispute: the decision (or the buttons to make it), the escrow, and both parties' cases. */
export function DisputeRoom({ tradeId, onBack }: { tradeId: string; onBack: () => void }) {
  const dispute = useDispute(tradeId);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [tradeId]);
  return (
    <section className="section-page trade-room-page" aria-labelledby="section-title">
      <div className="trade-room-head">
        <button type="button" className="button button--small button--ghost" onClick={onBack}>
          ← All disputes
        </button>
        <h1 id="section-title" ref={heading} tabIndex={-1}>
          {dispute.data ? `Dispute: ${disputeMarket(dispute.data)}, ${coins(dispute.data.amount, dispute.data)}` : 'Dispute'}
        </h1>
        {dispute.data ? (
          <span
            className={`badge badge--trade ${isOpen(dispute.data) ? 'badge--disputed' : 'badge--resolved'}`}
            data-testid="dispute-state"
          >
            {disputeStateLabel(dispute.data)}
          </span>
        ) : null}
      </div>
      {dispute.isError ? (
        <ErrorAlert error={dispute.error}>
          <button type="button" className="button button--small" onClick={() => void dispute.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : dispute.isPending ? (
        <p role="status" className="muted">
          Loading the dispute…
        </p>
      ) : (
        <DisputeBody dispute={dispute.data} />
      )}
    </section>
  );
}

function DisputeBody({ dispute }: { dispute: DisputeInfo }) {
  return (
    <div className="dispute-room" data-trade-id={dispute.trade_id}>
      <div className="trade-main">
        <Decision dispute={dispute} />
        <EscrowPanel dispute={dispute} />
      </div>
      <div className="dispute-cases">
        {(['buyer', 'seller'] as const).map((side) => (
          <CasePanel key={side} side={side} dispute={dispute} found={dispute.cases.find((c) => c.side === side)} />
        ))}
      </div>
    </div>
  );
}

/** The decision: two buttons behind a confirmation while open; what was decided, once decided. */
function Decision({ dispute }: { dispute: DisputeInfo }) {
  const [asking, setAsking] = useState<DisputeWinner | null>(null);
  const resolve = useResolveDispute();
  const status = useRef<HTMLParagraphElement>(null);
  const decided = dispute.resolved_to;
  const [justDecided, setJustDecided] = useState(false);
  useEffect(() => {
    // The buttons are gone: focus moves to what now stands.
    if (justDecided) status.current?.focus();
  }, [justDecided]);

  const confirm = () => {
    if (!asking) return;
    resolve.mutate(
      { tradeId: dispute.trade_id, to: asking },
      {
        onSuccess: () => setJustDecided(true),
        onSettled: () => setAsking(null),
      },
    );
  };

  return (
    <section className="panel" aria-labelledby="decision-title">
      <h2 id="decision-title">Decision</h2>
      <p
        ref={status}
        tabIndex={-1}
        className={`trade-status${decided ? '' : ' trade-status--turn'}`}
        aria-live="polite"
        data-testid="dispute-decision"
      >
        {decided ? (
          <>
            <strong>Resolved to the {decided}</strong>
            {dispute.resolved_at !== null ? ` on ${formatTime(dispute.resolved_at)}` : ''}: the escrow is paid to the{' '}
            {decided}’s address <code className="mono-wrap">{payoutAddress(dispute, decided === 'seller' ? 'seller' : 'buyer')}</code>.
            The {decided}’s node co-signs and broadcasts the payout.
          </>
        ) : (
          <>
            <strong>Your decision: </strong>
            read both cases, then pay the whole escrow to the buyer or to the seller.
            {dispute.cases.length < 2 ? ` The ${missingSide(dispute)}’s case has not arrived yet.` : ''}
          </>
        )}
      </p>
      {decided ? null : (
        <div className="button-row">
          {(['buyer', 'seller'] as const).map((to) => (
            <button
              key={to}
              type="button"
              className="button button--primary"
              onClick={() => {
                resolve.reset();
                setAsking(to);
              }}
            >
              Resolve to {to}…
            </button>
          ))}
        </div>
      )}
      {resolve.isError ? <ActionError error={resolve.error} /> : null}
      {asking ? (
        <ConfirmDialog
          title={`Resolve to the ${asking}?`}
          confirmLabel={`Pay the escrow to the ${asking}`}
          busy={resolve.isPending}
          onConfirm={confirm}
          onCancel={() => setAsking(null)}
        >
          <p data-testid="resolve-summary">{payoutSummary(dispute, asking)}</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function missingSide(dispute: DisputeInfo): string {
  const first = dispute.cases[0]?.side;
  return first ? otherSide(first) : 'other party';
}

function EscrowPanel({ dispute }: { dispute: DisputeInfo }) {
  const offer = dispute.offer;
  return (
    <section className="panel" aria-labelledby="escrow-title">
      <h2 id="escrow-title">Escrow and parties</h2>
      <dl className="details details--compact dispute-details">
        <div>
          <dt>Chain</dt>
          <dd>
            {dispute.chain.toUpperCase()} · {dispute.network}
          </dd>
        </div>
        <div>
          <dt>Amount traded</dt>
          <dd className="num">{coins(dispute.amount, dispute)}</dd>
        </div>
        <div>
          <dt>Deposits</dt>
          <dd className="num">
            {coins(dispute.buyer_deposit, dispute)} buyer, {coins(dispute.seller_deposit, dispute)} seller
          </dd>
        </div>
        <div>
          <dt>Escrow holds</dt>
          <dd className="num" data-testid="dispute-escrow-total">
            {coins(escrowTotal(dispute), dispute)}
          </dd>
        </div>
        <div className="details-wide">
          <dt>Seller’s escrow output (amount and seller’s deposit)</dt>
          <dd className="details-row">
            <code className="mono-wrap" data-testid="dispute-escrow-address">
              {dispute.escrow_address}
            </code>
            <CopyButton text={dispute.escrow_address} label="Copy the seller’s escrow address" />
          </dd>
        </div>
        <div className="details-wide">
          <dt>Buyer</dt>
          <dd>
            <PeerId peerId={dispute.buyer} /> · paid to <code className="mono-wrap">{dispute.buyer_address}</code>
          </dd>
        </div>
        <div className="details-wide">
          <dt>Seller</dt>
          <dd>
            <PeerId peerId={dispute.seller} /> · refunded to <code className="mono-wrap">{dispute.seller_address}</code>
          </dd>
        </div>
        <div>
          <dt>Opened by</dt>
          <dd data-testid="dispute-opened-by">{openedByLabel(dispute)}</dd>
        </div>
        <div>
          <dt>Case arrived</dt>
          <dd>{formatTime(dispute.opened_at)}</dd>
        </div>
        <div>
          <dt>Offer price</dt>
          <dd className="num">{formatOfferPrice(offer)}</dd>
        </div>
        <div>
          <dt>Payment methods</dt>
          <dd>{offer.payment_methods.join(', ')}</dd>
        </div>
        <div className="details-wide">
          <dt>Offer terms</dt>
          <dd>
            <OfferTerms terms={offer.terms} />
          </dd>
        </div>
      </dl>
    </section>
  );
}

const WHO: Record<DisputeWinner, string> = { buyer: 'Buyer', seller: 'Seller' };

/** One party's case: its reason and its chat, all shown as text, never as markup. */
function CasePanel({ side, dispute, found }: { side: DisputeWinner; dispute: DisputeInfo; found: PartyCase | undefined }) {
  const title = `The ${side}’s case`;
  return (
    <section className="panel dispute-case" aria-label={title} data-side={side} data-testid={`case-${side}`}>
      <h2>{title}</h2>
      {!found ? (
        <p className="muted">
          Not arrived yet. The {side}’s node sends it as soon as it sees the trade disputed
          {isOpen(dispute) ? '; it shows up here by itself.' : '.'}
        </p>
      ) : (
        <>
          <p className="case-reason">
            <span className="muted">Reason: </span>
            <span className="plain-text" data-testid={`reason-${side}`}>
              {found.reason || '—'}
            </span>
          </p>
          <h3 className="case-transcript-title">Chat, as the {side} sent it</h3>
          {found.transcript.length === 0 ? (
            <p className="muted">No chat messages.</p>
          ) : (
            <ol className="transcript" data-testid={`transcript-${side}`}>
              {found.transcript.map((raw, index) => {
                const line = parseTranscriptLine(raw, side);
                return (
                  <li key={index} className={`transcript-line${line.from ? ` transcript-line--${line.from}` : ''}`}>
                    <span className="transcript-meta">
                      {line.from ? WHO[line.from] : 'Line'}
                      {line.at !== null ? ` · ${formatTime(line.at)}` : ''}
                    </span>
                    <span className="plain-text transcript-text">{line.text}</span>
                  </li>
                );
              })}
            </ol>
          )}
        </>
      )}
    </section>
  );
}
