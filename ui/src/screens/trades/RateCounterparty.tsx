import { useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { TradeInfo } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { peerName } from '../../logic/peerName';
import { MAX_COMMENT_BYTES, commentBytes, ratedText, validateRating } from '../../logic/reputation';
import { useRateTrade } from '../../state/reputation';

const STARS = [1, 2, 3, 4, 5] as const;

/**
 * The rating of an ended trade's counterparty: 1 to 5 stars and an optional one-line comment, signed
 * and published with this node's receipts. The core refuses it until the counterparty countersigned
 * the receipt; its words are shown as they come. Rating again replaces the rating.
 */
export function RateCounterparty({ trade }: { trade: TradeInfo }) {
  const [stars, setStars] = useState<number | null>(null);
  const [comment, setComment] = useState('');
  const [attempted, setAttempted] = useState(false);
  const rate = useRateTrade(trade.counterparty);
  const formRef = useRef<HTMLFormElement>(null);
  const ids = useId();
  const starsName = `${ids}-stars`;

  const { errors, rating } = validateRating({ stars, comment });
  const starsError = attempted ? errors.stars : undefined;
  const bytes = commentBytes(comment);
  const who = peerName(trade.counterparty);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (rate.isPending) return;
    setAttempted(true);
    if (!rating) {
      const invalid = errors.stars ? `input[name="${starsName}"]` : 'input[name="comment"]';
      formRef.current?.querySelector<HTMLElement>(invalid)?.focus();
      return;
    }
    rate.mutate({ tradeId: trade.id, ...rating });
  };
  // A changed field makes the last answer old news.
  const change = (apply: () => void) => {
    apply();
    if (!rate.isPending) rate.reset();
  };

  return (
    <section className="panel" aria-label="Rate your counterparty">
      <h2>Rate your counterparty</h2>
      <form ref={formRef} className="form" noValidate onSubmit={submit} aria-label="Rate your counterparty">
        <fieldset
          className="radio-group"
          role="radiogroup"
          aria-invalid={starsError ? true : undefined}
          aria-describedby={starsError ? `${ids}-stars-error` : undefined}
        >
          <legend>How was trading with {who}?</legend>
          {STARS.map((n) => (
            <label key={n} className="radio">
              <input
                type="radio"
                name={starsName}
                value={n}
                checked={stars === n}
                onChange={() => change(() => setStars(n))}
              />
              <span aria-hidden="true" className="star-choice-stars">
                {'★'.repeat(n)}
              </span>
              <span className="visually-hidden">{n === 1 ? '1 star' : `${n.toString()} stars`}</span>
            </label>
          ))}
          {starsError ? (
            <p className="field-error" id={`${ids}-stars-error`}>
              {starsError}
            </p>
          ) : null}
        </fieldset>
        <Field
          label="Comment (optional)"
          hint={`Anyone who looks ${who} up can read it. ${bytes.toString()} of ${MAX_COMMENT_BYTES.toString()} bytes.`}
          error={errors.comment}
        >
          {(control) => (
            <input
              {...control}
              name="comment"
              autoComplete="off"
              value={comment}
              onChange={(e) => change(() => setComment(e.target.value))}
            />
          )}
        </Field>
        <div aria-live="polite">
          {rate.isSuccess ? (
            <p className="success-note" data-testid="rated">
              {ratedText(rate.data.stars)}
            </p>
          ) : null}
        </div>
        {rate.isError ? <ActionError error={rate.error} /> : null}
        <div className="form-actions">
          <button type="submit" className="button button--primary" disabled={rate.isPending}>
            {rate.isPending ? 'Signing…' : rate.isSuccess ? 'Rate again' : 'Send rating'}
          </button>
        </div>
      </form>
    </section>
  );
}
