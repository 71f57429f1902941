import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { TradeAnswer, TradeInfo } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { formatAmount, parseAmount } from '../../logic/amount';
import { negotiationActions } from '../../logic/trades';
import { useAnswerTrade } from '../../state/trades';

const FIXED_PRICE = /^\d+(?:\.\d{1,8})?$/;

/** A counter's fields checked: at least one of amount (within the offer's range) and price. */
export function validateCounter(
  amountText: string,
  priceText: string,
  trade: TradeInfo,
): { errors: { amount?: string; price?: string }; answer: TradeAnswer | null } {
  const { offer } = trade;
  const errors: { amount?: string; price?: string } = {};
  let amount: number | null = null;
  let price: string | null = null;
  if (amountText.trim() !== '') {
    const parsed = parseAmount(amountText, offer.base);
    if (!parsed.ok) errors.amount = parsed.error;
    else if (parsed.value < offer.min_amount || parsed.value > offer.max_amount) {
      errors.amount = `The offer takes between ${formatAmount(offer.min_amount, offer.base)} and ${formatAmount(offer.max_amount, offer.base)} ${offer.base}.`;
    } else amount = parsed.value;
  }
  if (priceText.trim() !== '') {
    const p = priceText.trim();
    if (!FIXED_PRICE.test(p) || Number(p) <= 0) errors.price = `Enter a price in ${offer.quote} per ${offer.base}, e.g. 61000.`;
    else price = p;
  }
  if (amountText.trim() === '' && priceText.trim() === '') {
    errors.amount = 'Propose a new amount, a new price, or both.';
  }
  if (errors.amount || errors.price) return { errors, answer: null };
  return { errors, answer: { kind: 'counter', amount, price } };
}

/** Accept, counter or reject: only the answers this user may give now. */
export function Negotiation({ trade }: { trade: TradeInfo }) {
  const actions = negotiationActions(trade);
  const answer = useAnswerTrade();
  const [mode, setMode] = useState<'buttons' | 'counter' | 'reject'>('buttons');
  const [amount, setAmount] = useState('');
  const [price, setPrice] = useState('');
  const [reason, setReason] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const firstField = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (mode !== 'buttons') firstField.current?.focus();
  }, [mode]);

  if (actions.length === 0) return null;
  const send = (a: TradeAnswer) =>
    answer.mutate({ tradeId: trade.id, value: a }, { onSuccess: () => setMode('buttons') });
  const counter = validateCounter(amount, price, trade);
  const submitCounter = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (counter.answer) send(counter.answer);
  };
  const submitReject = (event: FormEvent) => {
    event.preventDefault();
    send({ kind: 'reject', reason: reason.trim() });
  };
  const title = trade.state === 'Countered' ? 'The maker proposes new terms' : 'Someone wants to take your offer';

  return (
    <section className="panel negotiation" aria-label="Your answer">
      <h2>{title}</h2>
      <p>Your turn: {trade.next_step}.</p>
      {mode === 'buttons' ? (
        <div className="button-row">
          <button
            type="button"
            className="button button--primary"
            disabled={answer.isPending}
            onClick={() => send({ kind: 'accept' })}
          >
            {trade.state === 'Countered' ? 'Accept counter' : 'Accept'}
          </button>
          {actions.includes('counter') ? (
            <button type="button" className="button" onClick={() => setMode('counter')}>
              Counter…
            </button>
          ) : null}
          <button type="button" className="button" onClick={() => setMode('reject')}>
            Reject…
          </button>
        </div>
      ) : mode === 'counter' ? (
        <form className="form" noValidate onSubmit={submitCounter} aria-label="Counter proposal">
          <div className="form-row">
            <Field
              label={`New amount (${trade.offer.base})`}
              hint={`Now ${formatAmount(trade.terms.amount, trade.offer.base)}; leave empty to keep it.`}
              error={submitted ? counter.errors.amount : undefined}
            >
              {(control) => (
                <input ref={firstField} {...control} inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
              )}
            </Field>
            <Field
              label={`New price (${trade.offer.quote} per ${trade.offer.base})`}
              hint="A fixed price; leave empty to keep it."
              error={submitted ? counter.errors.price : undefined}
            >
              {(control) => <input {...control} inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} />}
            </Field>
          </div>
          <div className="button-row">
            <button type="submit" className="button button--primary" disabled={answer.isPending}>
              Send counter
            </button>
            <button type="button" className="button button--ghost" onClick={() => setMode('buttons')}>
              Back
            </button>
          </div>
        </form>
      ) : (
        <form className="form" noValidate onSubmit={submitReject} aria-label="Reject">
          <Field label="Reason (optional)" hint="The other side sees it.">
            {(control) => <input ref={firstField} {...control} value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />}
          </Field>
          <div className="button-row">
            <button type="submit" className="button button--danger" disabled={answer.isPending}>
              {trade.state === 'Countered' ? 'Reject counter' : 'Reject take'}
            </button>
            <button type="button" className="button button--ghost" onClick={() => setMode('buttons')}>
              Back
            </button>
          </div>
        </form>
      )}
      {answer.isError ? <ActionError error={answer.error} /> : null}
    </section>
  );
}
