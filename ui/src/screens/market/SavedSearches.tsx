import { useId, useState } from 'react';
import type { Asset, BookQuery, Quote, SavedSearch } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { formatAmount } from '../../logic/amount';
import { peerName } from '../../logic/peerName';
import { useOfferMatches } from '../../state/market';
import { usePreferences, useSavePreferences } from '../../state/settings';

interface SavedSearchesProps {
  base: Asset;
  quote: Quote;
  /** The filters as set now: "" and null mean any. */
  method: string;
  amount: number | null;
  onApply: (search: SavedSearch) => void;
}

/** In words: "BTC/EUR · SEPA · 0.05 BTC". */
export function describeQuery(query: BookQuery): string {
  const parts = [query.base && query.quote ? `${query.base}/${query.quote}` : (query.base ?? 'any market')];
  if (query.side) parts.push(query.side === 'sell' ? 'sell offers' : 'buy offers');
  if (query.method) parts.push(query.method);
  if (query.amount !== null && query.base) parts.push(`${formatAmount(query.amount, query.base)} ${query.base}`);
  return parts.join(' · ');
}

/**
 * The Market filters kept by name: save the ones set now, apply or remove a kept one. A new offer of
 * another maker that matches a saved search is announced (a notification, if Settings allow it).
 */
export function SavedSearches({ base, quote, method, amount, onApply }: SavedSearchesProps) {
  const preferences = usePreferences();
  const save = useSavePreferences();
  const [name, setName] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const ids = useId();
  const { matches, dismiss } = useOfferMatches();
  const searches = preferences.data?.saved_searches ?? [];
  const query: BookQuery = { base, quote, side: null, method: method || null, amount, include_mine: null };

  const store = (next: SavedSearch[], note: string) => {
    if (!preferences.data) return;
    setSaved(null);
    save.mutate({ ...preferences.data, saved_searches: next }, { onSuccess: () => setSaved(note) });
  };

  return (
    <section className="saved-searches" aria-labelledby={`${ids}-title`}>
      <h2 id={`${ids}-title`} className="visually-hidden">
        Saved searches
      </h2>
      {matches.length > 0 ? (
        <ul className="offer-matches" aria-label="New offers for your saved searches" aria-live="polite">
          {matches.map(({ searchName, offer }) => (
            <li key={offer.id} className="offer-match" data-testid="offer-match">
              <strong>New offer for “{searchName}”:</strong> {peerName(offer.maker)}{' '}
              {offer.side === 'sell' ? 'sells' : 'buys'} {formatAmount(offer.min_amount, offer.base)}–
              {formatAmount(offer.max_amount, offer.base)} {offer.base} for {offer.quote}.{' '}
              <button
                type="button"
                className="link-button"
                aria-label={`Dismiss the new offer for ${searchName}`}
                onClick={() => dismiss(offer.id)}
              >
                Dismiss
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <form
        className="saved-search-form"
        onSubmit={(e) => {
          e.preventDefault();
          const trimmed = name.trim();
          if (!trimmed) return;
          const search: SavedSearch = { id: crypto.randomUUID(), name: trimmed, query };
          store([...searches, search], `Saved “${trimmed}”: new offers like these will be announced.`);
          setName('');
        }}
      >
        <label htmlFor={`${ids}-name`}>Save these filters as</label>
        <input
          id={`${ids}-name`}
          placeholder={describeQuery(query)}
          value={name}
          maxLength={64}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="button button--small" disabled={!name.trim() || save.isPending || !preferences.data}>
          Save search
        </button>
      </form>
      {searches.length > 0 ? (
        <ul className="saved-search-list" aria-label="Saved searches">
          {searches.map((s) => (
            <li key={s.id} className="saved-search">
              <button type="button" className="link-button" onClick={() => onApply(s)} title={describeQuery(s.query)}>
                {s.name}
              </button>
              <span className="muted"> {describeQuery(s.query)} </span>
              <button
                type="button"
                className="link-button"
                aria-label={`Remove saved search ${s.name}`}
                disabled={save.isPending}
                onClick={() => store(searches.filter((o) => o.id !== s.id), `Removed “${s.name}”.`)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <p className="field-hint" aria-live="polite">
        {saved ?? ''}
      </p>
      {save.isError ? <ActionError error={save.error} /> : null}
    </section>
  );
}
