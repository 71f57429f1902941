import type { OfferErrors, OfferForm } from '../../logic/offerForm';
import { splitList, splitMethods } from '../../logic/offerForm';
import { OfferTerms } from '../market/OfferTerms';

/** What takers will see, built from the form as typed (invalid parts shown as "—"). */
export function OfferPreview({ form, errors }: { form: OfferForm; errors: OfferErrors }) {
  const ok = (field: keyof OfferErrors, text: string) => (errors[field] || !text.trim() ? '—' : text.trim());
  const price =
    form.priceMode === 'fixed'
      ? ok('price', form.price) === '—'
        ? '—'
        : `${form.price.trim()} ${form.quote} per ${form.base}`
      : ok('premium', form.premium) === '—'
        ? '—'
        : `market price ${form.premium.trim().startsWith('-') ? '' : '+'}${form.premium.trim()} %`;
  const arbitrators = splitList(form.arbitrators).length;
  return (
    <aside className="preview" aria-labelledby="offer-preview-title" data-testid="offer-preview">
      <h2 id="offer-preview-title">Preview</h2>
      <p className="preview-headline">
        {form.side === 'sell' ? 'Selling' : 'Buying'} {form.base} for {form.quote}
      </p>
      <dl className="details">
        <div>
          <dt>Price</dt>
          <dd>{price}</dd>
        </div>
        <div>
          <dt>Amount per trade</dt>
          <dd>
            {ok('min', form.min)} – {ok('max', form.max)} {form.base}
          </dd>
        </div>
        <div>
          <dt>Payment</dt>
          <dd>{errors.methods ? '—' : splitMethods(form.methods).join(', ') || '—'}</dd>
        </div>
        <div>
          <dt>Escrow</dt>
          <dd>
            {form.escrow === 'none'
              ? 'None (reputation only)'
              : `Multisig 2-of-3, ${arbitrators.toString()} arbitrator${arbitrators === 1 ? '' : 's'}`}
          </dd>
        </div>
        <div>
          <dt>Security deposit</dt>
          <dd>{ok('deposit', form.deposit)} %</dd>
        </div>
        <div>
          <dt>Expires after</dt>
          <dd>{ok('expiryHours', form.expiryHours)} h</dd>
        </div>
        <div>
          <dt>Terms</dt>
          <dd>
            <OfferTerms terms={form.terms.trim()} />
          </dd>
        </div>
      </dl>
    </aside>
  );
}
