import { useEffect, useRef, useState } from 'react';
import type { DisputeInfo, Party, PartyCase, Winner } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import { PeerNickname } from '../../components/PeerNickname';
import { Field } from '../../components/Field';
import {
  answerLabel,
  coins,
  decisionLabel,
  disputeMarket,
  disputeStateLabel,
  escrowTotal,
  isOpen,
  MAX_DECISION_REASON,
  onChainTotal,
  openedByLabel,
  otherSide,
  parseBuyerShare,
  parseTranscriptLine,
  payoutAddress,
  payoutSummary,
  shareableTotal,
  splitSummary,
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

type Choice = Winner;

/**
 * The decision: buttons behind a confirmation while open (buyer, seller, or a split with a share), each
 * with a reason shown to both parties; once decided, what was decided, why, and each party's answer; the
 * buttons come back when a party refused the decision.
 */
function Decision({ dispute }: { dispute: DisputeInfo }) {
  const [asking, setAsking] = useState<Choice | null>(null);
  const [reason, setReason] = useState('');
  const [share, setShare] = useState('');
  const [shareError, setShareError] = useState<string | null>(null);
  const resolve = useResolveDispute();
  const status = useRef<HTMLParagraphElement>(null);
  const decided = dispute.resolved_to;
  const held = dispute.decision;
  const canDecide = decided === null || held?.can_decide_again === true;
  const [justDecided, setJustDecided] = useState(false);
  useEffect(() => {
    // The buttons are gone: focus moves to what now stands.
    if (justDecided) status.current?.focus();
  }, [justDecided]);

  const parsedShare = asking === 'split' && share.trim() !== '' ? parseBuyerShare(share, dispute) : null;
  const reasonTooLong = reason.trim().length > MAX_DECISION_REASON;

  const confirm = () => {
    if (!asking || reasonTooLong) return;
    let buyerGets: number | null = null;
    if (asking === 'split') {
      const parsed = parseBuyerShare(share, dispute);
      if (!parsed.ok) {
        setShareError(parsed.error);
        return;
      }
      buyerGets = parsed.value;
    }
    resolve.mutate(
      { tradeId: dispute.trade_id, decision: { to: asking, buyer_gets: buyerGets, reason: reason.trim() } },
      {
        onSuccess: () => setJustDecided(true),
        onSettled: () => setAsking(null),
      },
    );
  };

  const open = (choice: Choice) => {
    resolve.reset();
    setShareError(null);
    setAsking(choice);
  };

  return (
    <section className="panel" aria-labelledby="decision-title">
      <h2 id="decision-title">Decision</h2>
      <p
        ref={status}
        tabIndex={-1}
        className={`trade-status${canDecide ? ' trade-status--turn' : ''}`}
        aria-live="polite"
        data-testid="dispute-decision"
      >
        {decided ? (
          <>
            <strong>{decisionLabel(dispute)}</strong>
            {held && held.round > 1 ? ` (decision ${held.round})` : ''}
            {dispute.resolved_at !== null ? ` on ${formatTime(dispute.resolved_at)}` : ''}
            {decided === 'split' ? (
              <>
                : the buyer’s share is paid to <code className="mono-wrap">{dispute.buyer_address}</code>, the seller’s to{' '}
                <code className="mono-wrap">{dispute.seller_address}</code>; the network fee comes out of the larger share.
                Each party’s node co-signs and broadcasts the payout.
              </>
            ) : (
              <>
                : the escrow is paid to the {decided}’s address{' '}
                <code className="mono-wrap">{payoutAddress(dispute, decided === 'seller' ? 'seller' : 'buyer')}</code>. The{' '}
                {decided}’s node co-signs and broadcasts the payout.
              </>
            )}
          </>
        ) : (
          <>
            <strong>Your decision: </strong>
            read both cases, then pay the whole escrow to the buyer or to the seller, or split it.
            {dispute.cases.length < 2 ? ` The ${missingSide(dispute)}’s case has not arrived yet.` : ''}
          </>
        )}
      </p>
      {decided && held ? (
        <dl className="details details--compact" data-testid="decision-details">
          <div className="details-wide">
            <dt>Reason given to both parties</dt>
            <dd className="plain-text" data-testid="decision-reason">
              {held.reason || '—'}
            </dd>
          </div>
          <div>
            <dt>The buyer</dt>
            <dd data-testid="answer-buyer">{answerLabel(held.buyer_answer)}</dd>
          </div>
          <div>
            <dt>The seller</dt>
            <dd data-testid="answer-seller">{answerLabel(held.seller_answer)}</dd>
          </div>
        </dl>
      ) : null}
      {decided && held?.can_decide_again ? (
        <p className="trade-status trade-status--turn" data-testid="decide-again">
          <strong>Decide again: </strong>a party refused this decision and none took it, so a new one replaces it.
        </p>
      ) : null}
      {canDecide ? (
        <div className="button-row">
          {(['buyer', 'seller'] as const).map((to) => (
            <button key={to} type="button" className="button button--primary" onClick={() => open(to)}>
              Resolve to {to}…
            </button>
          ))}
          <button type="button" className="button" onClick={() => open('split')}>
            Split…
          </button>
        </div>
      ) : null}
      {resolve.isError ? <ActionError error={resolve.error} /> : null}
      {asking ? (
        <ConfirmDialog
          title={asking === 'split' ? 'Split the escrow?' : `Resolve to the ${asking}?`}
          confirmLabel={asking === 'split' ? 'Split the escrow' : `Pay the escrow to the ${asking}`}
          busy={resolve.isPending}
          onConfirm={confirm}
          onCancel={() => setAsking(null)}
        >
          {asking === 'split' ? (
            <>
              <Field
                label={`Buyer gets (${dispute.offer.base})`}
                hint={`Of the ${coins(shareableTotal(dispute), dispute)} the escrow holds; the seller gets the rest.`}
                error={shareError ?? (parsedShare && !parsedShare.ok ? parsedShare.error : undefined)}
              >
                {(control) => (
                  <input
                    {...control}
                   
                    inputMode="decimal"
                    value={share}
                    onChange={(e) => {
                      setShare(e.target.value);
                      setShareError(null);
                    }}
                  />
                )}
              </Field>
              <p data-testid="resolve-summary">
                {parsedShare?.ok
                  ? splitSummary(dispute, parsedShare.value)
                  : 'Enter the buyer’s share; the seller gets the rest of the escrow.'}
              </p>
            </>
          ) : (
            <p data-testid="resolve-summary">{payoutSummary(dispute, asking)}</p>
          )}
          <Field
            label="Reason, shown to both parties"
            error={reasonTooLong ? `At most ${MAX_DECISION_REASON} characters, not ${reason.trim().length}.` : undefined}
          >
            {(control) => (
              <textarea {...control} rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />
            )}
          </Field>
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
          <dt>Escrow holds (agreed)</dt>
          <dd className="num" data-testid="dispute-escrow-total">
            {coins(escrowTotal(dispute), dispute)}
          </dd>
        </div>
        <div>
          <dt>On the chain now</dt>
          <dd className="num" data-testid="dispute-on-chain">
            {dispute.on_chain
              ? `${coins(onChainTotal(dispute) ?? 0, dispute)}: ${coins(dispute.on_chain.seller_output, dispute)} seller’s output, ${coins(dispute.on_chain.buyer_output, dispute)} buyer’s output`
              : 'unknown (the chain could not be asked)'}
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
            <PeerId peerId={dispute.buyer} />
            <PeerNickname peer={dispute.buyer} /> · paid to <code className="mono-wrap">{dispute.buyer_address}</code>
          </dd>
        </div>
        <div className="details-wide">
          <dt>Seller</dt>
          <dd>
            <PeerId peerId={dispute.seller} />
            <PeerNickname peer={dispute.seller} /> · refunded to <code className="mono-wrap">{dispute.seller_address}</code>
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

const WHO: Record<Party, string> = { buyer: 'Buyer', seller: 'Seller' };

/** One party's case: its reason and its chat, all shown as text, never as markup. */
function CasePanel({ side, dispute, found }: { side: Party; dispute: DisputeInfo; found: PartyCase | undefined }) {
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
