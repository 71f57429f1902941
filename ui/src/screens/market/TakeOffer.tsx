import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { BookEntry, TradeInfo } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { PeerId } from '../../components/PeerId';
import { formatAmount } from '../../logic/amount';
import { emptyTakeForm, payoutHint, validateTakeForm } from '../../logic/takeForm';
import type { TakeField, TakeForm } from '../../logic/takeForm';
import { useTakeOffer } from '../../state/trades';
import { formatEscrow, formatOfferPrice, formatRange, sideLabel } from './format';
import { OfferTerms } from './OfferTerms';
import { ReputationPanel } from './ReputationPanel';

interface TakeOfferProps {
  entry: BookEntry;
  onCancel: () => void;
  onTaken: (trade: TradeInfo) => void;
}

/**
 * Taking someone's offer: the maker's reputation, then the amount within its range, one of its payment
 * methods, payout details.
 */
export function TakeOffer({ entry, onCancel, onTaken }: TakeOfferProps) {
  const { offer } = entry;
  const [form, setForm] = useState<TakeForm>(() => emptyTakeForm(offer));
  const [touched, setTouched] = useState<Partial<Record<TakeField, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  const [refusals, setRefusals] = useState(0);
  const take = useTakeOffer();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    if (refusals > 0) document.querySelector<HTMLElement>('.take-offer [aria-invalid="true"]')?.focus();
  }, [refusals]);

  const { errors, take: request } = validateTakeForm(form, offer);
  const shown = (field: TakeField) => (submitted || touched[field] ? errors[field] : undefined);
  const bind = (field: TakeField) => ({
    value: form[field],
    onChange: (e: { target: { value: string } }) => setForm((f) => ({ ...f, [field]: e.target.value })),
    onBlur: () => setTouched((t) => ({ ...t, [field]: true })),
  });
  const you = offer.side === 'sell' ? `buy ${offer.base}` : `sell ${offer.base}`;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (!request) {
      setRefusals((n) => n + 1);
      return;
    }
    take.mutate(request, { onSuccess: onTaken });
  };

  return (
    <div className="take-offer">
      <h2 ref={heading} tabIndex={-1}>
        Take offer: you {you}
      </h2>
      <dl className="details details--compact offer-summary">
        <div>
          <dt>Maker</dt>
          <dd>
            <PeerId peerId={offer.maker} />
          </dd>
        </div>
        <div>
          <dt>Offer</dt>
          <dd>
            {sideLabel(offer)} for {offer.quote} · {formatOfferPrice(offer)}
          </dd>
        </div>
        <div>
          <dt>Amount</dt>
          <dd>{formatRange(offer)}</dd>
        </div>
        <div>
          <dt>Escrow</dt>
          <dd>{formatEscrow(offer.escrow)}</dd>
        </div>
        <div>
          <dt>Terms</dt>
          <dd>
            <OfferTerms terms={offer.terms} />
          </dd>
        </div>
      </dl>
      <ReputationPanel peer={offer.maker} title="Maker’s reputation" />
      <form className="form take-form" noValidate onSubmit={submit} aria-label="Take offer">
        <Field
          label={`Amount (${offer.base})`}
          hint={`Between ${formatAmount(offer.min_amount, offer.base)} and ${formatAmount(offer.max_amount, offer.base)} ${offer.base}.`}
          error={shown('amount')}
        >
          {(control) => <input {...control} name="amount" inputMode="decimal" autoComplete="off" {...bind('amount')} />}
        </Field>
        <Field label="Payment method" error={shown('method')}>
          {(control) => (
            <select {...control} name="method" {...bind('method')}>
              {offer.payment_methods.length > 1 ? <option value="">Choose…</option> : null}
              {offer.payment_methods.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Payout details" hint={payoutHint(offer)} error={shown('payout')}>
          {(control) => <textarea {...control} name="payout" rows={2} {...bind('payout')} />}
        </Field>
        {take.isError ? <ActionError error={take.error} /> : null}
        <div className="form-actions">
          <button type="submit" className="button button--primary" disabled={take.isPending}>
            {take.isPending ? 'Asking the maker…' : 'Send take request'}
          </button>
          <button type="button" className="button button--ghost" onClick={onCancel}>
            Back to the market
          </button>
        </div>
      </form>
    </div>
  );
}
