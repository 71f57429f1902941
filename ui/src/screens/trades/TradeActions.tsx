import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { TradeInfo } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { settlementActions } from '../../logic/trades';
import type { SettlementAction } from '../../logic/trades';
import {
  useCancelTrade,
  useDisputeTrade,
  useMarkPaid,
  useMarkReceived,
  useSetEscrowAddress,
} from '../../state/trades';

const LABELS: Record<SettlementAction, string> = {
  address: 'Give address…',
  paid: 'Payment sent…',
  received: 'Payment received…',
  dispute: 'Open dispute…',
  cancel: 'Cancel trade…',
};

/** The steps this user can take now, each behind a confirmation (with a reason or address where needed). */
export function TradeActions({ trade }: { trade: TradeInfo }) {
  const actions = settlementActions(trade);
  const [open, setOpen] = useState<SettlementAction | null>(null);
  const [text, setText] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const address = useSetEscrowAddress();
  const paid = useMarkPaid();
  const received = useMarkReceived();
  const cancel = useCancelTrade();
  const dispute = useDisputeTrade();
  const focusRef = useRef<HTMLElement | null>(null);
  useEffect(() => {
    if (open) focusRef.current?.focus();
  }, [open]);
  // A step the trade moved past (e.g. live, by the other side) closes its form.
  const current = open && actions.includes(open) ? open : null;

  if (actions.length === 0) return null;
  const mutations = { address, paid, received, cancel, dispute };
  const mutation = mutations[current ?? 'paid'];
  const done = {
    onSuccess: () => {
      setOpen(null);
      setText('');
      setSubmitted(false);
    },
  };
  const start = (action: SettlementAction) => {
    setOpen(action);
    setText('');
    setSubmitted(false);
    mutations[action].reset();
  };
  const needsText = current === 'address' || current === 'dispute';
  const textError = needsText && submitted && text.trim() === ''
    ? current === 'address' ? 'Enter an address.' : 'Say what went wrong: the arbitrator reads it.'
    : undefined;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (!current || (needsText && text.trim() === '')) return;
    const tradeId = trade.id;
    const value = text.trim();
    switch (current) {
      case 'address':
        address.mutate({ tradeId, value }, done);
        return;
      case 'paid':
        paid.mutate({ tradeId, value: null }, done);
        return;
      case 'received':
        received.mutate({ tradeId, value: null }, done);
        return;
      case 'cancel':
        cancel.mutate({ tradeId, value }, done);
        return;
      case 'dispute':
        dispute.mutate({ tradeId, value }, done);
        return;
    }
  };
  const base = trade.offer.base;
  const side = trade.escrow?.side;

  return (
    <section className="panel trade-actions" aria-label="Your next step">
      <h2>Your next step</h2>
      {current === null ? (
        <div className="button-row">
          {actions.map((action) => (
            <button
              key={action}
              type="button"
              className={`button${action === 'dispute' || action === 'cancel' ? '' : ' button--primary'}`}
              onClick={() => start(action)}
            >
              {LABELS[action]}
            </button>
          ))}
        </div>
      ) : (
        <form className="form" noValidate onSubmit={submit} aria-label={LABELS[current].replace('…', '')}>
          {current === 'address' ? (
            <Field
              label={side === 'seller' ? `Your ${base} refund address` : `Your ${base} payout address`}
              hint={side === 'seller' ? 'Where your coins go back if the trade is refunded.' : 'Where the escrow releases your coins.'}
              error={textError}
            >
              {(control) => (
                <input
                  ref={(el) => {
                    focusRef.current = el;
                  }}
                  {...control}
                  autoComplete="off"
                  spellCheck={false}
                  value={text}
                  onChange={(e) => setText(e.target.value)}
                />
              )}
            </Field>
          ) : current === 'dispute' || current === 'cancel' ? (
            <Field
              label={current === 'dispute' ? 'Why do you open a dispute?' : 'Reason (optional)'}
              hint={current === 'dispute' ? 'The arbitrator reads this and the chat, then decides.' : 'The other side sees it.'}
              error={textError}
            >
              {(control) => (
                <textarea
                  ref={(el) => {
                    focusRef.current = el;
                  }}
                  {...control}
                  rows={2}
                  maxLength={500}
                  value={text}
                  onChange={(e) => setText(e.target.value)}
                />
              )}
            </Field>
          ) : (
            <p
              ref={(el) => {
                focusRef.current = el;
              }}
              tabIndex={-1}
            >
              {current === 'paid'
                ? `Confirm only once you have sent ${trade.offer.quote} with ${trade.terms.method}. The seller is told at once.`
                : 'Confirm only once the payment is in your account. This signs the escrow’s release to the buyer and cannot be undone.'}
            </p>
          )}
          <div className="button-row">
            <button
              type="submit"
              className={`button ${current === 'dispute' || current === 'cancel' ? 'button--danger' : 'button--primary'}`}
              disabled={mutation.isPending}
            >
              {
                {
                  address: 'Give address',
                  paid: 'Yes, I have paid',
                  received: 'Yes, payment received',
                  cancel: 'Cancel the trade',
                  dispute: 'Open the dispute',
                }[current]
              }
            </button>
            <button type="button" className="button button--ghost" onClick={() => setOpen(null)}>
              Back
            </button>
          </div>
        </form>
      )}
      {current && mutation.isError ? <ActionError error={mutation.error} /> : null}
    </section>
  );
}
