import type { BookEntry, MarketPrice } from '../../bindings';
import { PeerId } from '../../components/PeerId';
import { formatAgo, formatRelative, makerHistoryText, relativeToMarket } from '../../logic/book';
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

/** One side of the book. Fixed column widths, so rows arriving live never reflow the table. */
export function BookTable({ caption, entries, price, now, emptyText, reputations, onTake, more }: BookTableProps) {
  return (
    <div className="book-side">
      <table className="book-table">
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
          <tr>
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
          ) : (
            entries.map((entry) => (
              <tr key={entry.offer.id} className="book-row" data-offer-id={entry.offer.id}>
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
            ))
          )}
        </tbody>
      </table>
      {more?.available ? (
        <button type="button" className="button button--small book-more" disabled={more.loading} onClick={more.onLoad}>
          {more.loading ? 'Reading more offers…' : more.label}
        </button>
      ) : null}
    </div>
  );
}
