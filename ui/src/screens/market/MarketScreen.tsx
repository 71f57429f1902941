import { useId, useMemo, useState } from 'react';
import type { Asset, BookEntry, Quote, TradeInfo } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useNow } from '../../components/useNow';
import { formatAmount, parseAmount } from '../../logic/amount';
import { arrangeBook, pagedEntries, pagedTotal, paymentMethodsIn } from '../../logic/book';
import { myPaymentMethods } from '../../logic/paymentAccounts';
import { filterByReputation, makersIn, parseMinSettled, reputationFilterNote } from '../../logic/reputation';
import type { PriceOrder } from '../../logic/book';
import { ASSETS, quotesFor } from '../../logic/offerForm';
import { useBookSide, useMarketPrice, useRefreshMarket } from '../../state/market';
import { useReputations } from '../../state/reputation';
import { usePreferences } from '../../state/settings';
import { SectionPage } from '../frame/SectionPage';
import { BookTable } from './BookTable';
import { formatPrice } from './format';
import { SavedSearches } from './SavedSearches';
import { TakeOffer } from './TakeOffer';

export interface MarketChoice {
  base: Asset;
  quote: Quote;
}

interface MarketScreenProps {
  market: MarketChoice;
  onMarketChange: (m: MarketChoice) => void;
  /** A take was accepted by the maker's node: the trade room opens. */
  onTaken: (trade: TradeInfo) => void;
  /** Opens Settings (to add a payment account). */
  onOpenSettings: () => void;
}

export function MarketScreen({ market, onMarketChange, onTaken, onOpenSettings }: MarketScreenProps) {
  const [taking, setTaking] = useState<BookEntry | null>(null);
  if (taking) {
    return (
      <SectionPage title="Market">
        <TakeOffer entry={taking} onCancel={() => setTaking(null)} onTaken={onTaken} />
      </SectionPage>
    );
  }
  return (
    <MarketBook market={market} onMarketChange={onMarketChange} onTake={setTaking} onOpenSettings={onOpenSettings} />
  );
}

interface MarketBookProps {
  market: MarketChoice;
  onMarketChange: (m: MarketChoice) => void;
  onTake: (entry: BookEntry) => void;
  onOpenSettings: () => void;
}

function MarketBook({ market, onMarketChange, onTake, onOpenSettings }: MarketBookProps) {
  const { base, quote } = market;
  const [method, setMethod] = useState('');
  const [amountText, setAmountText] = useState('');
  const [hideMine, setHideMine] = useState(false);
  const [onlyMyMethods, setOnlyMyMethods] = useState(false);
  const [minSettledText, setMinSettledText] = useState('');
  const preferences = usePreferences();
  const myMethods = useMemo(() => myPaymentMethods(preferences.data?.payment_accounts ?? []), [preferences.data]);
  const canFilterMine = myMethods.length > 0;
  const [order, setOrder] = useState<PriceOrder>('best');
  const sellBook = useBookSide(base, quote, 'sell');
  const buyBook = useBookSide(base, quote, 'buy');
  const price = useMarketPrice(base, quote);
  const refresh = useRefreshMarket();
  const now = useNow();
  const ids = useId();

  const amount = amountText.trim() === '' ? null : parseAmount(amountText, base);
  const amountError = amount && !amount.ok ? amount.error : undefined;
  const amountUnits = amount?.ok ? amount.value : null;
  const minSettled = parseMinSettled(minSettledText);
  const minSettledError = minSettled.ok ? undefined : minSettled.error;
  const minSettledValue = minSettled.ok ? minSettled.value : null;
  const entries = useMemo(
    () => (sellBook.data && buyBook.data ? [...pagedEntries(sellBook.data), ...pagedEntries(buyBook.data)] : undefined),
    [sellBook.data, buyBook.data],
  );
  const bookError = sellBook.error ?? buyBook.error;
  const bookReady = sellBook.isSuccess && buyBook.isSuccess;
  const methods = useMemo(() => paymentMethodsIn(entries ?? []), [entries]);
  // Every maker is looked up in the background (a few at a time); the book never waits for it.
  const makers = useMemo(() => makersIn(entries ?? []), [entries]);
  const reputations = useReputations(makers);
  const byReputation = useMemo(
    () => filterByReputation(entries ?? [], minSettledValue, reputations),
    [entries, minSettledValue, reputations],
  );
  const reputationNote = reputationFilterNote(byReputation);
  const sides = useMemo(
    () =>
      arrangeBook(
        byReputation.kept,
        { method, amount: amountUnits, hideMine, myMethods: onlyMyMethods && canFilterMine ? myMethods : null },
        order,
      ),
    [byReputation, method, amountUnits, hideMine, onlyMyMethods, canFilterMine, myMethods, order],
  );
  const sellCount = pagedTotal(sellBook.data);
  const buyCount = pagedTotal(buyBook.data);
  const sellTotal = sellCount.count;
  const buyTotal = buyCount.count;
  const totalText = `${(sellTotal + buyTotal).toString()}${sellCount.capped || buyCount.capped ? '+' : ''}`;
  const partly = sellBook.hasNextPage || buyBook.hasNextPage;
  const shown = sides.buy.length + sides.sell.length;

  return (
    <SectionPage title="Market">
      <form className="toolbar" aria-label="Market and filters" onSubmit={(e) => e.preventDefault()}>
        <div className="toolbar-field">
          <label htmlFor={`${ids}-base`}>Asset</label>
          <select
            id={`${ids}-base`}
            value={base}
            onChange={(e) => {
              const next = e.target.value as Asset;
              onMarketChange({ base: next, quote: quote === next ? 'EUR' : quote });
            }}
          >
            {ASSETS.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </div>
        <div className="toolbar-field">
          <label htmlFor={`${ids}-quote`}>Quote</label>
          <select id={`${ids}-quote`} value={quote} onChange={(e) => onMarketChange({ base, quote: e.target.value as Quote })}>
            {quotesFor(base).map((q) => (
              <option key={q}>{q}</option>
            ))}
          </select>
        </div>
        <div className="toolbar-field">
          <label htmlFor={`${ids}-method`}>Payment method</label>
          <select id={`${ids}-method`} value={method} onChange={(e) => setMethod(e.target.value)}>
            <option value="">Any</option>
            {methods.map((m) => (
              <option key={m}>{m}</option>
            ))}
            {method && !methods.includes(method) ? <option>{method}</option> : null}
          </select>
        </div>
        <div className="toolbar-field">
          <label htmlFor={`${ids}-amount`}>Amount I want to trade ({base})</label>
          <input
            id={`${ids}-amount`}
            inputMode="decimal"
            placeholder="any"
            value={amountText}
            aria-invalid={amountError ? true : undefined}
            aria-describedby={amountError ? `${ids}-amount-error` : undefined}
            onChange={(e) => setAmountText(e.target.value)}
          />
          <p className="field-error toolbar-error" id={`${ids}-amount-error`}>
            {amountError ?? ''}
          </p>
        </div>
        <div className="toolbar-field">
          <label htmlFor={`${ids}-settled`}>Makers with at least N settled trades</label>
          <input
            id={`${ids}-settled`}
            type="number"
            min={0}
            step={1}
            inputMode="numeric"
            placeholder="any"
            value={minSettledText}
            aria-invalid={minSettledError ? true : undefined}
            aria-describedby={`${ids}-settled-hint`}
            onChange={(e) => setMinSettledText(e.target.value)}
          />
          <p className={minSettledError ? 'field-error toolbar-error' : 'field-hint toolbar-error'} id={`${ids}-settled-hint`}>
            {minSettledError ?? 'Empty or 0: any maker.'}
          </p>
        </div>
        <div className="toolbar-field">
          <label htmlFor={`${ids}-order`}>Sort by price</label>
          <select id={`${ids}-order`} value={order} onChange={(e) => setOrder(e.target.value as PriceOrder)}>
            <option value="best">Best first</option>
            <option value="ascending">Lowest first</option>
            <option value="descending">Highest first</option>
          </select>
        </div>
        <label className="checkbox toolbar-check">
          <input type="checkbox" checked={hideMine} onChange={(e) => setHideMine(e.target.checked)} />
          Hide my offers
        </label>
        <div className="toolbar-check toolbar-mine">
          <label className="checkbox">
            <input
              type="checkbox"
              checked={onlyMyMethods && canFilterMine}
              disabled={!canFilterMine}
              aria-describedby={`${ids}-mine-hint`}
              onChange={(e) => setOnlyMyMethods(e.target.checked)}
            />
            Only my payment methods
          </label>
          <p className="field-hint" id={`${ids}-mine-hint`}>
            {canFilterMine ? (
              myMethods.join(', ')
            ) : preferences.isPending ? (
              'Reading your payment accounts…'
            ) : (
              <>
                No payment accounts yet.{' '}
                <button type="button" className="link-button" onClick={onOpenSettings}>
                  Add one in Settings
                </button>
              </>
            )}
          </p>
        </div>
        <button
          type="button"
          className="button button--small"
          disabled={refresh.isPending}
          onClick={() => refresh.mutate({ base, quote })}
        >
          {refresh.isPending ? 'Asking makers…' : 'Refresh'}
        </button>
      </form>

      <SavedSearches
        base={base}
        quote={quote}
        method={method}
        amount={amountUnits}
        onApply={(search) => {
          const { query } = search;
          const nextBase = query.base ?? base;
          onMarketChange({ base: nextBase, quote: query.quote ?? quote });
          setMethod(query.method ?? '');
          setAmountText(query.amount === null ? '' : formatAmount(query.amount, nextBase));
        }}
      />

      <p className="market-summary" aria-live="polite">
        <span>
          Market price {base}/{quote}:{' '}
          <strong data-testid="market-price">
            {price.data ? formatPrice(price.data.price, quote) : price.isPending ? '…' : 'not available'}
          </strong>
        </span>
        <span className="muted">
          {bookReady ? `${shown.toString()} of ${totalText} offers shown` : ''}
          {bookReady && partly ? ` · ${(entries?.length ?? 0).toString()} read so far${order === 'best' ? '' : ', sorted among those'}` : ''}
          {bookReady && reputationNote ? (
            <span data-testid="reputation-filter-note">
              {' · '}
              {reputationNote}
            </span>
          ) : null}
        </span>
      </p>
      {refresh.isError ? <ErrorAlert error={refresh.error} /> : null}

      {bookError ? (
        <ErrorAlert error={bookError}>
          <button
            type="button"
            className="button button--small"
            onClick={() => {
              void sellBook.refetch();
              void buyBook.refetch();
            }}
          >
            Try again
          </button>
        </ErrorAlert>
      ) : !bookReady ? (
        <p role="status" className="muted book-loading">
          Loading the order book…
        </p>
      ) : (
        <div className="book" data-testid="order-book">
          <BookTable
            caption={`Sell offers — you buy ${base}`}
            entries={sides.sell}
            price={price.data}
            now={now}
            emptyText={sellTotal === 0 ? `Nobody sells ${base} for ${quote} yet.` : 'No sell offers match your filters.'}
            reputations={reputations}
            onTake={onTake}
            more={{
              label: 'Show more sell offers',
              available: sellBook.hasNextPage,
              loading: sellBook.isFetchingNextPage,
              onLoad: () => void sellBook.fetchNextPage(),
            }}
          />
          <BookTable
            caption={`Buy offers — you sell ${base}`}
            entries={sides.buy}
            price={price.data}
            now={now}
            emptyText={buyTotal === 0 ? `Nobody buys ${base} for ${quote} yet.` : 'No buy offers match your filters.'}
            reputations={reputations}
            onTake={onTake}
            more={{
              label: 'Show more buy offers',
              available: buyBook.hasNextPage,
              loading: buyBook.isFetchingNextPage,
              onLoad: () => void buyBook.fetchNextPage(),
            }}
          />
          <p className="muted book-legend">
            “History with you” counts the trades you completed with a maker, from this computer’s own
            records. It is not a reputation: nobody else vouches for it.
          </p>
          <p className="muted book-legend">
            The reputation (“12 trades · ★4.5”) counts a maker’s trades whose receipts both sides signed,
            with their counterparties’ average rating, as this computer checked them; point at it to see how
            many had an escrow found on the chain.
          </p>
        </div>
      )}
    </SectionPage>
  );
}
