import { useVirtualizer } from '@tanstack/react-virtual';
import { useLayoutEffect, useState } from 'react';
import type { BookEntry, MarketPrice } from '../../bindings';
import { PeerId } from '../../components/PeerId';
import { formatAgo, formatRelative, makerHistoryText, overTor, relativeToMarket } from '../../logic/book';
import type { ReputationLookup } from '../../logic/reputation';
import { formatEscrow, formatPrice, formatRange } from './format';
import { OfferTerms } from './OfferTerms';
import { ReputationFigure } from './ReputationFigure';

interface BookTableProps {
  caption: string;
  entries: BookEntry[];
  price: MarketPrice | null | undefined;
  now: number;
  emptyText: string;
  /** Each maker's reputation lookup, by PeerId (a maker not in it is being checked). */
  reputations: ReadonlyMap<string, ReputationLookup>;
  /** Opens the take form for someone else's offer. */
  onTake: (entry: BookEntry) => void;
  /** The side has more offers than were read: a button reads the next page. */
  more?: { label: string; available: boolean; loading: boolean; onLoad: () => void };
}

/** From this many rows on, a side is windowed: it scrolls in its own box and only the rows in view (and
 * a few either side) are in the page, so a side read to thousands of offers costs what a screenful does. */
export const WINDOW_FROM = 200;
/** A row's height before any is measured (one line of text). Rows are measured as they are drawn, and
 * the rows not drawn are then taken to be as tall as the drawn ones are on average (rows wrap in a
 * narrow window), so the scroll bar's length and its end stay close to the truth. */
const ROW_ESTIMATE_PX = 37;
/** Rows drawn beyond each edge of the box: covers the header above the rows and a fast scroll. */
const OVERSCAN = 12;

interface RowProps {
  entry: BookEntry;
  price: MarketPrice | null | undefined;
  now: number;
  reputations: ReadonlyMap<string, ReputationLookup>;
  onTake: (entry: BookEntry) => void;
}

/** One side of the book. Fixed column widths, so rows arriving live never reflow the table. */
export function BookTable({ caption, entries, price, now, emptyText, reputations, onTake, more }: BookTableProps) {
  // State, not a ref: the rows' virtualizer needs the box, which exists only once this has drawn.
  const [scrollBox, setScrollBox] = useState<HTMLDivElement | null>(null);
  const windowed = entries.length >= WINDOW_FROM;
  const rowProps = { price, now, reputations, onTake };
  return (
    <div className="book-side">
      <div ref={setScrollBox} className={windowed ? 'book-rows book-rows--windowed' : 'book-rows'} data-testid="book-rows">
        <table className="book-table" aria-rowcount={windowed ? entries.length + 1 : undefined}>
          <caption>{caption}</caption>
          <colgroup>
            <col className="col-price" />
            <col className="col-relative" />
            <col className="col-range" />
            <col className="col-methods" />
            <col className="col-escrow" />
            <col className="col-maker" />
            <col className="col-seen" />
            <col className="col-terms" />
            <col className="col-action" />
          </colgroup>
          <thead>
            <tr aria-rowindex={windowed ? 1 : undefined}>
              <th scope="col">Price</th>
              <th scope="col">vs market</th>
              <th scope="col">Amount</th>
              <th scope="col">Payment</th>
              <th scope="col">Escrow</th>
              <th scope="col">
                Maker <span className="th-note">· reputation · history with you</span>
              </th>
              <th scope="col">Last seen</th>
              <th scope="col">Terms</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {entries.length === 0 ? (
              <tr className="book-empty">
                <td colSpan={9}>{emptyText}</td>
              </tr>
            ) : windowed ? (
              <WindowedRows entries={entries} scrollBox={scrollBox} {...rowProps} />
            ) : (
              entries.map((entry, index) => <BookRow key={entry.offer.id} index={index} entry={entry} {...rowProps} />)
            )}
          </tbody>
        </table>
      </div>
      {more?.available ? (
        <button type="button" className="button button--small book-more" disabled={more.loading} onClick={more.onLoad}>
          {more.loading ? 'Reading more offers…' : more.label}
        </button>
      ) : null}
    </div>
  );
}

/** The rows in view of a long side, between two spacers that hold the height of the rows not drawn. */
function WindowedRows({
  entries,
  scrollBox,
  ...rowProps
}: Omit<RowProps, 'entry'> & { entries: BookEntry[]; scrollBox: HTMLDivElement | null }) {
  const [estimate, setEstimate] = useState(ROW_ESTIMATE_PX);
  // The virtualizer hands out functions React Compiler must not memoise; this component re-renders
  // whenever it scrolls anyway.
  // eslint-disable-next-line react-hooks/incompatible-library
  const rows = useVirtualizer({
    count: entries.length,
    getScrollElement: () => scrollBox,
    estimateSize: () => estimate,
    getItemKey: (index) => entries[index]?.offer.id ?? index,
    overscan: OVERSCAN,
  });
  const items = rows.getVirtualItems();
  const drawnAverage = items.length > 0 ? items.reduce((sum, i) => sum + i.size, 0) / items.length : estimate;
  useLayoutEffect(() => {
    // Off by more than a tenth: the rows not drawn are re-estimated (once the drawn ones are measured).
    if (Math.abs(drawnAverage - estimate) > estimate / 10) setEstimate(Math.round(drawnAverage));
  }, [drawnAverage, estimate]);
  const before = items[0]?.start ?? 0;
  const after = rows.getTotalSize() - (items[items.length - 1]?.end ?? 0);
  return (
    <>
      {before > 0 ? <tr aria-hidden="true" className="book-spacer" style={{ height: before }} /> : null}
      {items.map((item) => {
        const entry = entries[item.index];
        return entry ? (
          <BookRow
            key={item.key}
            index={item.index}
            entry={entry}
            measure={rows.measureElement}
            windowed
            {...rowProps}
          />
        ) : null;
      })}
      {after > 0 ? <tr aria-hidden="true" className="book-spacer" style={{ height: after }} /> : null}
    </>
  );
}

function BookRow({
  entry,
  index,
  price,
  now,
  reputations,
  onTake,
  measure,
  windowed = false,
}: RowProps & { index: number; measure?: (row: HTMLTableRowElement | null) => void; windowed?: boolean }) {
  return (
    <tr
      ref={measure}
      // A windowed row drawn while scrolling did not just arrive: no arrival highlight.
      className={windowed ? 'book-row book-row--windowed' : 'book-row'}
      data-offer-id={entry.offer.id}
      data-index={index}
      aria-rowindex={windowed ? index + 2 : undefined}
    >
      <td className="num">{formatPrice(entry.effective_price, entry.offer.quote)}</td>
      <td className="num">{formatRelative(relativeToMarket(entry, price))}</td>
      <td className="num">{formatRange(entry.offer)}</td>
      <td>{entry.offer.payment_methods.join(', ')}</td>
      <td>{formatEscrow(entry.offer.escrow)}</td>
      <td>
        {entry.mine ? (
          <span className="badge">You</span>
        ) : (
          <>
            <PeerId peerId={entry.offer.maker} />
            <ReputationFigure lookup={reputations.get(entry.offer.maker)} />
            <span
              className={entry.completed_with_maker > 0 ? 'maker-history' : 'maker-history maker-history--new'}
              data-testid="maker-history"
            >
              {makerHistoryText(entry.completed_with_maker)}
            </span>
            {overTor(entry.maker_reach) && (
              <span
                className="badge maker-tor"
                data-testid="maker-tor"
                title={
                  entry.maker_reach === 'tor'
                    ? 'This maker is reachable over Tor only; from clearnet the trade goes through a bridge'
                    : 'This maker is reachable over Tor and on clearnet'
                }
              >
                Tor
              </span>
            )}
          </>
        )}
      </td>
      <td>{formatAgo(entry.maker_last_seen, now)}</td>
      <td>
        <OfferTerms terms={entry.offer.terms} />
      </td>
      <td>
        {entry.mine ? null : (
          <button
            type="button"
            className="button button--small"
            aria-label={`Take offer: ${entry.offer.side === 'sell' ? 'buy' : 'sell'} ${entry.offer.base} at ${formatPrice(entry.effective_price, entry.offer.quote)}`}
            onClick={() => onTake(entry)}
          >
            Take
          </button>
        )}
      </td>
    </tr>
  );
}
