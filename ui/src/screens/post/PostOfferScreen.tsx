import { useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import type { Asset, Quote, Side } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { Field } from '../../components/Field';
import { ASSETS, EMPTY_OFFER_FORM, LIMITS, quotesFor, validateOfferForm } from '../../logic/offerForm';
import type { OfferField, OfferForm } from '../../logic/offerForm';
import { usePostOffer } from '../../state/market';
import { SectionPage } from '../frame/SectionPage';
import { OfferPreview } from './OfferPreview';

interface PostOfferProps {
  myPeerId: string;
  initialMarket: { base: Asset; quote: Quote };
  onPosted: () => void;
}

export function PostOfferScreen({ myPeerId, initialMarket, onPosted }: PostOfferProps) {
  const [form, setForm] = useState<OfferForm>({ ...EMPTY_OFFER_FORM, ...initialMarket });
  // Errors show for a field once it was left or the form was submitted, not while first typing.
  const [touched, setTouched] = useState<Partial<Record<OfferField, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  // Bumped by a refused submit: once the errors are on screen, focus moves to the first one.
  const [refusals, setRefusals] = useState(0);
  useEffect(() => {
    if (refusals > 0) document.querySelector<HTMLElement>('.post-offer [aria-invalid="true"]')?.focus();
  }, [refusals]);
  const post = usePostOffer();
  const ids = useId();
  const { errors, offer } = validateOfferForm(form, myPeerId);
  const shownError = (field: OfferField) => (submitted || touched[field] ? errors[field] : undefined);

  const set = <K extends keyof OfferForm>(key: K, value: OfferForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const text = (field: OfferField & keyof OfferForm) => ({
    value: form[field],
    onChange: (e: { target: { value: string } }) => set(field, e.target.value as never),
    onBlur: () => setTouched((t) => ({ ...t, [field]: true })),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (!offer) {
      setRefusals((n) => n + 1);
      return;
    }
    post.mutate(offer, {
      onSuccess: () => {
        setForm({ ...EMPTY_OFFER_FORM, base: form.base, quote: form.quote });
        setTouched({});
        setSubmitted(false);
        onPosted();
      },
    });
  };

  return (
    <SectionPage title="Post offer">
      <div className="post-offer">
        <form className="form offer-form" noValidate onSubmit={submit} aria-label="New offer">
          <fieldset className="radio-group">
            <legend>I want to</legend>
            {(['sell', 'buy'] as Side[]).map((side) => (
              <label key={side} className="radio">
                <input
                  type="radio"
                  name={`${ids}-side`}
                  value={side}
                  checked={form.side === side}
                  onChange={() => set('side', side)}
                />
                {side === 'sell' ? `Sell ${form.base}` : `Buy ${form.base}`}
              </label>
            ))}
          </fieldset>

          <div className="form-row">
            <Field label="Asset">
              {(control) => (
                <select
                  {...control}
                  value={form.base}
                  onChange={(e) => {
                    const base = e.target.value as Asset;
                    setForm((f) => ({ ...f, base, quote: f.quote === base ? 'EUR' : f.quote }));
                  }}
                >
                  {ASSETS.map((a) => (
                    <option key={a}>{a}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Paid in">
              {(control) => (
                <select {...control} value={form.quote} onChange={(e) => set('quote', e.target.value as Quote)}>
                  {quotesFor(form.base).map((q) => (
                    <option key={q}>{q}</option>
                  ))}
                </select>
              )}
            </Field>
          </div>

          <fieldset className="radio-group">
            <legend>Price</legend>
            <label className="radio">
              <input
                type="radio"
                name={`${ids}-price-mode`}
                checked={form.priceMode === 'fixed'}
                onChange={() => set('priceMode', 'fixed')}
              />
              Fixed price
            </label>
            <label className="radio">
              <input
                type="radio"
                name={`${ids}-price-mode`}
                checked={form.priceMode === 'premium'}
                onChange={() => set('priceMode', 'premium')}
              />
              Relative to the market price
            </label>
          </fieldset>
          {form.priceMode === 'fixed' ? (
            <Field label={`Price (${form.quote} per ${form.base})`} error={shownError('price')}>
              {(control) => <input {...control} inputMode="decimal" {...text('price')} />}
            </Field>
          ) : (
            <Field
              label="Premium over market (%)"
              hint="Negative for a discount, e.g. -1.5."
              error={shownError('premium')}
            >
              {(control) => <input {...control} inputMode="decimal" {...text('premium')} />}
            </Field>
          )}

          <div className="form-row">
            <Field label={`Minimum amount (${form.base})`} error={shownError('min')}>
              {(control) => <input {...control} inputMode="decimal" {...text('min')} />}
            </Field>
            <Field label={`Maximum amount (${form.base})`} error={shownError('max')}>
              {(control) => <input {...control} inputMode="decimal" {...text('max')} />}
            </Field>
          </div>

          <Field
            label="Payment methods"
            hint={`Separated by commas, e.g. SEPA, REVOLUT (at most ${LIMITS.maxPaymentMethods.toString()}).`}
            error={shownError('methods')}
          >
            {(control) => <input {...control} {...text('methods')} />}
          </Field>

          <fieldset className="radio-group">
            <legend>Escrow</legend>
            <label className="radio">
              <input
                type="radio"
                name={`${ids}-escrow`}
                checked={form.escrow === 'none'}
                onChange={() => set('escrow', 'none')}
              />
              None (reputation only)
            </label>
            <label className="radio">
              <input
                type="radio"
                name={`${ids}-escrow`}
                checked={form.escrow === 'multisig'}
                onChange={() => set('escrow', 'multisig')}
              />
              2-of-3 multisig with an arbitrator
            </label>
          </fieldset>
          {form.escrow === 'multisig' ? (
            <Field
              label="Arbitrators you accept"
              hint="Their Peer IDs, one per line (1 to 5)."
              error={shownError('arbitrators')}
            >
              {(control) => <textarea {...control} rows={3} {...text('arbitrators')} />}
            </Field>
          ) : null}

          <div className="form-row">
            <Field label="Security deposit (%)" hint="Each party locks this share of the trade." error={shownError('deposit')}>
              {(control) => <input {...control} inputMode="decimal" {...text('deposit')} />}
            </Field>
            <Field label="Expires after (hours)" hint="1 to 168 (7 days)." error={shownError('expiryHours')}>
              {(control) => <input {...control} inputMode="numeric" {...text('expiryHours')} />}
            </Field>
          </div>

          <Field
            label="Terms"
            hint={`Shown to takers as plain text (${[...form.terms].length.toString()}/${LIMITS.maxTermsChars.toString()}).`}
            error={shownError('terms')}
          >
            {(control) => <textarea {...control} rows={3} {...text('terms')} />}
          </Field>

          {post.isError ? <ErrorAlert error={post.error} /> : null}
          <div className="form-actions">
            <button type="submit" className="button button--primary" disabled={post.isPending}>
              {post.isPending ? 'Publishing…' : 'Publish offer'}
            </button>
          </div>
        </form>
        <OfferPreview form={form} errors={errors} />
      </div>
    </SectionPage>
  );
}
