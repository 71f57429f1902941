import { useId } from 'react';
import type { DecisionView, EscrowView, ReserveView, TradeInfo } from '../../bindings';
import { CopyButton } from '../../components/CopyButton';
import { FundFromWallet } from './FundFromWallet';
import { Countdown } from '../../components/Countdown';
import { PeerId } from '../../components/PeerId';
import { QrCode } from '../../components/QrCode';
import { formatAmount } from '../../logic/amount';
import { activeDeadline, paymentUri, stateLabel, stepNote, stepTimes, timeline } from '../../logic/trades';
import type { StepStatus } from '../../logic/trades';
import { formatStepTime, formatTime } from './format';

const STATUS_TEXT: Record<Exclude<StepStatus, 'stopped'>, string> = {
  done: 'Done',
  current: 'Now',
  upcoming: 'Next',
};

/** Each step of the trade with its state and when it happened; the current one carries its deadline countdown. */
export function EscrowTimeline({ trade }: { trade: TradeInfo }) {
  const steps = timeline(trade);
  const times = stepTimes(trade);
  const deadline = activeDeadline(trade);
  const note = stepNote(trade);
  const ids = useId();
  return (
    <section className="panel" aria-labelledby={`${ids}-title`}>
      <h2 id={`${ids}-title`}>{trade.escrow ? 'Escrow timeline' : 'Progress'}</h2>
      <ol className="timeline" data-testid="timeline">
        {steps.map((step) => (
          <li
            key={step.id}
            className={`timeline-step timeline-step--${step.status}`}
            data-step={step.id}
            data-status={step.status}
            aria-current={step.status === 'current' ? 'step' : undefined}
          >
            <span className="timeline-dot" aria-hidden="true" />
            <span className="timeline-label">{step.label}</span>
            <span className="timeline-status">
              {step.status === 'stopped' ? stateLabel(trade.state) : STATUS_TEXT[step.status]}
            </span>
            <span className="timeline-time" data-testid={`step-time-${step.id}`}>
              {times[step.id] !== undefined && (step.status === 'done' || step.status === 'stopped') ? (
                <time dateTime={new Date(times[step.id] ?? 0).toISOString()} title={formatTime(times[step.id] ?? 0)}>
                  {formatStepTime(times[step.id] ?? 0)}
                </time>
              ) : null}
            </span>
            {deadline?.step === step.id || note?.step === step.id ? (
              <div className="timeline-extra">
                {note?.step === step.id ? (
                  <p className="timeline-note" data-testid={`step-note-${step.id}`}>
                    {note.text}
                  </p>
                ) : null}
                {deadline?.step === step.id ? <Countdown deadline={deadline.deadline} label={deadline.what} /> : null}
              </div>
            ) : null}
          </li>
        ))}
      </ol>
      {trade.escrow ? <EscrowDetails trade={trade} escrow={trade.escrow} /> : null}
    </section>
  );
}

/** How a return of coins to their sender is made, in words. */
const RETURN_HOW: Record<string, string> = {
  signed: 'signed, waiting for the counterparty to broadcast',
  cosigned: 'co-signed by both',
  reclaimed: 'taken back alone after the reclaim lock',
  arbitrated: 'co-signed by the arbitrator (the other party never funded)',
};

/** A payout's fee reserve in words: set aside, or paid on (after lifting a stuck payout). */
function reserveText(reserve: ReserveView, trade: TradeInfo): string {
  const amount = coins(reserve.amount, trade);
  if (reserve.how === null || reserve.paid_on === null) {
    return `${amount} set aside from the payout: the receiving party’s node pays it on once the payout confirms, or spends it to speed up a payout stuck at a low fee`;
  }
  const done = reserve.done ? ', confirmed' : ', waiting for a block';
  const what = reserve.how === 'bumped' ? 'spent to speed up the stuck payout and paid on' : 'paid on';
  return `${amount} ${what} to the payout address: ${coins(reserve.paid_on, trade)} after the fee${done}`;
}

/** The arbitrator's decision in coins: who gets what. */
function decisionText(decision: DecisionView, trade: TradeInfo): string {
  if (decision.to === 'split') {
    return `Split: ${coins(decision.buyer_share, trade)} to the buyer, ${coins(decision.seller_share, trade)} to the seller (the network fee comes out of the larger share)`;
  }
  return `The whole escrow to the ${decision.to}, ${coins(decision.buyer_share + decision.seller_share, trade)} less the network fee`;
}

function coins(units: number, trade: TradeInfo): string {
  return `${formatAmount(units, trade.offer.base)} ${trade.offer.base}`;
}

/** "0.5 of 1.15 LTC": what an output holds of what its funder owes it. */
function progress(held: number, owed: number, trade: TradeInfo): string {
  return `${formatAmount(held, trade.offer.base)} of ${coins(owed, trade)}`;
}

function blocks(n: number): string {
  return `${n.toString()} block${n === 1 ? '' : 's'}`;
}

function EscrowDetails({ trade, escrow }: { trade: TradeInfo; escrow: EscrowView }) {
  const funding = trade.state === 'EscrowFunding';
  const fundText = escrow.my_funding > 0 ? formatAmount(escrow.my_funding, trade.offer.base) : null;
  return (
    <dl className="details escrow-details" data-testid="escrow-details">
      <div>
        <dt>Chain</dt>
        <dd>
          {escrow.chain.toUpperCase()} · {escrow.network}
        </dd>
      </div>
      <div className="escrow-address">
        <dt>Your escrow address (2-of-3 multisig)</dt>
        <dd>
          {escrow.address ? (
            <>
              {funding && fundText ? (
                <p className="escrow-instruction" data-testid="escrow-instruction">
                  Send <strong className="num">{coins(escrow.my_funding, trade)}</strong> to your escrow address
                </p>
              ) : null}
              <span className="details-row">
                <code className="mono-wrap" data-testid="escrow-address">
                  {escrow.address}
                </code>
                <CopyButton text={escrow.address} label="Copy your escrow address" />
              </span>
              <QrCode
                value={paymentUri(trade.offer.base, escrow.address, funding ? fundText : null)}
                label={`QR code of your escrow address${funding && fundText ? ` and the amount ${fundText} ${trade.offer.base}` : ''}`}
              />
              {funding && fundText ? <FundFromWallet trade={trade} /> : null}
            </>
          ) : (
            <span className="muted">Known once both parties gave their address.</span>
          )}
        </dd>
      </div>
      <div>
        <dt>You send to your escrow address</dt>
        <dd className="num">
          {coins(escrow.my_funding, trade)}
          {escrow.side === 'seller' ? ' (amount + your deposit)' : ' (your deposit)'}
        </dd>
      </div>
      <div>
        <dt>The escrow must hold</dt>
        <dd className="num">
          {coins(escrow.required, trade)}{' '}
          <span className="muted">
            ({coins(escrow.amount, trade)} + deposits {coins(escrow.buyer_deposit, trade)} buyer, {coins(escrow.seller_deposit, trade)} seller)
          </span>
        </dd>
      </div>
      <div>
        <dt>Funded</dt>
        <dd className="num" data-testid="escrow-funded">
          {coins(escrow.funded, trade)} of {coins(escrow.required, trade)} · {escrow.funding_confirmations} confirmation
          {escrow.funding_confirmations === 1 ? '' : 's'}
        </dd>
      </div>
      <div>
        <dt>Each party’s escrow output</dt>
        <dd className="num" data-testid="escrow-outputs">
          <ul className="txid-list">
            <li data-testid="escrow-output-seller">
              Seller’s output: {progress(escrow.seller_funded, escrow.amount + escrow.seller_deposit, trade)}
              {escrow.side === 'seller' ? <span className="muted"> (yours)</span> : null}
            </li>
            <li data-testid="escrow-output-buyer">
              Buyer’s output: {progress(escrow.buyer_funded, escrow.buyer_deposit, trade)}
              {escrow.side === 'buyer' ? <span className="muted"> (yours)</span> : null}
            </li>
          </ul>
        </dd>
      </div>
      {escrow.pending_funding.length > 0 ? (
        <div>
          <dt>Seen, unconfirmed</dt>
          <dd data-testid="pending-funding">
            <ul className="txid-list">
              {escrow.pending_funding.map((p) => (
                <li key={`${p.txid}:${p.vout}`} className="details-row">
                  <span className="num">
                    {coins(p.value, trade)} to the {p.funder}’s output, waiting for a block:{' '}
                  </span>
                  <code className="mono-wrap" data-testid="pending-txid">
                    {p.txid}
                  </code>
                  <CopyButton text={p.txid} label="Copy transaction id" />
                </li>
              ))}
            </ul>
          </dd>
        </div>
      ) : null}
      <div>
        <dt>Funding transactions</dt>
        <dd data-testid="funding-txids">
          {escrow.funding_txids.length === 0 ? (
            <span className="muted">None seen on the chain yet</span>
          ) : (
            <ul className="txid-list">
              {escrow.funding_txids.map((txid) => (
                <li key={txid} className="details-row">
                  <code className="mono-wrap" data-testid="funding-txid">
                    {txid}
                  </code>
                  <CopyButton text={txid} label="Copy funding transaction id" />
                </li>
              ))}
            </ul>
          )}
        </dd>
      </div>
      <div>
        <dt>{escrow.side === 'buyer' ? 'Your payout address' : 'Your refund address'}</dt>
        <dd>{escrow.my_address ? <code className="mono-wrap">{escrow.my_address}</code> : <span className="muted">Not given yet</span>}</dd>
      </div>
      <div>
        <dt>Counterparty’s address</dt>
        <dd>{escrow.counterparty_address ? 'Given' : <span className="muted">Not given yet</span>}</dd>
      </div>
      <div>
        <dt>Arbitrator</dt>
        <dd>{escrow.arbitrator ? <PeerId peerId={escrow.arbitrator} /> : <span className="muted">—</span>}</dd>
      </div>
      {escrow.backup_arbitrator ? (
        <div>
          <dt>Backup arbitrator</dt>
          <dd data-testid="backup-arbitrator">
            <PeerId peerId={escrow.backup_arbitrator} />
          </dd>
        </div>
      ) : null}
      <div>
        <dt>If someone disappears</dt>
        <dd data-testid="escrow-fallbacks">
          {escrow.backup_arbitrator
            ? `If the arbitrator disappears, the backup arbitrator can stand in after ${blocks(escrow.backup_after_blocks)}; each party can take its own coins back alone after ${blocks(escrow.reclaim_after_blocks)}.`
            : `Each party can take its own coins back alone after ${blocks(escrow.reclaim_after_blocks)}.`}{' '}
          <span className="muted">Blocks count from when each output’s funding confirmed.</span>
        </dd>
      </div>
      {trade.state !== 'Completed' && trade.state !== 'Cancelled' && trade.state !== 'Expired' && trade.state !== 'Resolved' ? (
        <div className="details-wide">
          <dt>If you lose this computer</dt>
          <dd data-testid="escrow-recovery">
            {recoveryText(escrow)}
          </dd>
        </div>
      ) : null}
      {escrow.fee_reserve ? (
        <div className="details-wide">
          <dt>Fee reserve</dt>
          <dd data-testid="escrow-fee-reserve">
            {reserveText(escrow.fee_reserve, trade)}
            {escrow.fee_reserve.txid ? (
              <span className="details-row">
                <code className="mono-wrap">{escrow.fee_reserve.txid}</code>
                <CopyButton text={escrow.fee_reserve.txid} label="Copy fee reserve transaction id" />
              </span>
            ) : null}
          </dd>
        </div>
      ) : null}
      {escrow.decision ? (
        <div className="details-wide">
          <dt>Arbitrator’s decision{escrow.decision.round > 1 ? ` (decision ${escrow.decision.round.toString()})` : ''}</dt>
          <dd data-testid="escrow-decision">
            {decisionText(escrow.decision, trade)}.{' '}
            <span className="muted">Reason: </span>
            <span className="plain-text">{escrow.decision.reason || '—'}</span>
          </dd>
        </div>
      ) : null}
      {escrow.returns.length > 0 ? (
        <div>
          <dt>Returns</dt>
          <dd data-testid="escrow-returns">
            <ul className="txid-list">
              {escrow.returns.map((r, index) => (
                <li key={`${index.toString()}-${r.txid ?? r.address}`} data-testid="escrow-return">
                  {coins(r.amount, trade)} going back to the {r.funder}’s address <code className="mono-wrap">{r.address}</code> —{' '}
                  {RETURN_HOW[r.how] ?? r.how}
                  {r.txid ? (
                    <span className="details-row">
                      <code className="mono-wrap" data-testid="return-txid">
                        {r.txid}
                      </code>
                      <CopyButton text={r.txid} label="Copy return transaction id" />
                    </span>
                  ) : null}
                  {r.reserve_how ? (
                    <span className="muted" data-testid="return-reserve">
                      {' '}
                      Its fee reserve was {r.reserve_how === 'bumped' ? 'spent to speed it up and ' : ''}paid on
                      {r.reserve_done ? ' (confirmed)' : ''}: <code className="mono-wrap">{r.reserve_txid}</code>
                    </span>
                  ) : null}
                </li>
              ))}
            </ul>
          </dd>
        </div>
      ) : null}
      <div>
        <dt>Release transaction</dt>
        <dd>
          {escrow.release_txid ? (
            <>
              <span className="details-row">
                <code className="mono-wrap" data-testid="release-txid">
                  {escrow.release_txid}
                </code>
                <CopyButton text={escrow.release_txid} label="Copy release transaction id" />
              </span>
              <span className="num">
                {escrow.release_confirmations} confirmation{escrow.release_confirmations === 1 ? '' : 's'}
              </span>
            </>
          ) : (
            <span className="muted">Not yet</span>
          )}
        </dd>
      </div>
    </dl>
  );
}

/** Who keeps a sealed copy of this node's trade, so the seed words alone bring it back. */
function recoveryText(escrow: EscrowView): string {
  const holders = [
    escrow.recovery_copy_at !== null ? `your counterparty (as of ${formatTime(escrow.recovery_copy_at)})` : null,
    escrow.arbitrator_copy_at !== null ? `the arbitrator (as of ${formatTime(escrow.arbitrator_copy_at)})` : null,
  ].filter((h): h is string => h !== null);
  if (holders.length === 0) {
    return 'Your counterparty does not hold a copy of this trade yet: until it does, only a backup brings it back.';
  }
  const who = holders.join(' and ');
  const verb = holders.length === 1 ? 'keeps a sealed copy' : 'keep sealed copies';
  return `${who.charAt(0).toUpperCase()}${who.slice(1)} ${verb} of this trade: your seed words alone bring it back.`;
}
