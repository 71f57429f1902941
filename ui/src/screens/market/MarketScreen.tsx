import { useId, useMemo, useState } from 'react';
import type { Asset, BookEntry, Quote, TradeInfo } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useNow } from '../../components/useNow';
import { parseAmount } from '../../logic/amount';
import { arrangeBook, paymentMethodsIn } from '../../logic/book';
import type { PriceOrder } from '../../logic/book';
import { ASSETS, quotesFor } from '../../logic/offerForm';
import { useBook, useMarketPrice, useRefreshMarket } from '../../state/market';
import { SectionPage } from '../frame/SectionPage';
import { BookTable } from './BookTable';
import { formatPrice } from './format';
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
}

export function MarketScreen({ market, onMarketChange, onTaken }: MarketScreenProps) {
  const [taking, setTaking] = useState<BookEntry | null>(null);
  if (taking) {
    return (
      <SectionPage title="Market">
        <TakeOffer entry={taking} onCancel={() => setTaking(null)} onTaken={onTaken} />
      </SectionPage>
    );
  }
  return <MarketBook market={market} onMarketChange={onMarketChange} onTake={setTaking} />;
}

interface MarketBookProps {
  market: MarketChoice;
  onMarketChange: (m: MarketChoice) => void;
  onTake: (entry: BookEntry) => void;
}

function MarketBook({ market, onMarketChange, onTake }: MarketBookProps) {
  const { base, quote } = market;
  const [method, setMethod] = useState('');
  const [amountText, setAmountText] = useState('');
  const [hideMine, setHideMine] = useState(false);
  const [order, setOrder] = useState<PriceOrder>('best');
  const book = useBook(base, quote);
  const price = useMarketPrice(base, quote);
  const refresh = useRefreshMarket();
  const now = useNow();
  const ids = useId();

  const amount = amountText.trim() === '' ? null : parseAmount(amountText, base);
  const amountError = amount && !amount.ok ? amount.error : undefined;
  const amountUnits = amount?.ok ? amount.value : null;
  const entries = book.data;
  const methods = useMemo(() => paymentMethodsIn(entries ?? []), [entries]);
  const sides = useMemo(
    () =>
      arrangeBook(entries ?? [], { method, amount: amountUnits, hideMine }, order),
    [entries, method, amountUnits, hideMine, order],
  );
  const total = entries?.length ?? 0;
  const sellTotal = entries?.filter((e) => e.offer.side === 'sell').length ?? 0;
  const buyTotal = total - sellTotal;
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
        <button
          type="button"
          className="button button--small"
          disabled={refresh.isPending}
          onClick={() => refresh.mutate({ base, quote })}
        >
          {refresh.isPending ? 'Asking makers…' : 'Refresh'}
        </button>
      </form>

      <p className="market-summary" aria-live="polite">
        <span>
          Market price {base}/{quote}:{' '}
          <strong data-testid="market-price">
            {price.data ? formatPrice(price.data.price, quote) : price.isPending ? '…' : 'not available'}
          </strong>
        </span>
        <span className="muted">
          {book.isSuccess ? `${shown.toString()} of ${total.toString()} offers shown` : ''}
        </span>
      </p>
      {refresh.isError ? <ErrorAlert error={refresh.error} /> : null}

      {book.isError ? (
        <ErrorAlert error={book.error}>
          <button type="button" className="button button--small" onClick={() => void book.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : book.isPending ? (
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
            onTake={onTake}
          />
          <BookTable
            caption={`Buy offers — you sell ${base}`}
            entries={sides.buy}
            price={price.data}
            now={now}
            emptyText={buyTotal === 0 ? `Nobody buys ${base} for ${quote} yet.` : 'No buy offers match your filters.'}
            onTake={onTake}
          />
        </div>
      )}
    </SectionPage>
  );
}
