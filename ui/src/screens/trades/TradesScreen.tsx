import type { TradeInfo } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import { PeerNickname } from '../../components/PeerNickname';
import { isMyTurn, roleLabel, stateLabel } from '../../logic/trades';
import { useTrades } from '../../state/trades';
import { EmptyState } from '../frame/EmptyState';
import { SectionPage } from '../frame/SectionPage';
import { formatTradeAmount, tradeHeadline } from './format';

/** Every trade with its state and what happens next; opening one shows its trade room. */
export function TradesScreen({ onOpen }: { onOpen: (id: string) => void }) {
  const trades = useTrades();
  return (
    <SectionPage title="Trades">
      {trades.isError ? (
        <ErrorAlert error={trades.error}>
          <button type="button" className="button button--small" onClick={() => void trades.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : trades.isPending ? (
        <p role="status" className="muted">
          Loading your trades…
        </p>
      ) : trades.data.length === 0 ? (
        <EmptyState title="No trades yet">
          Take an offer in the Market, or wait for someone to take one of yours: your trades will be listed here.
        </EmptyState>
      ) : (
        <div className="trade-list-wrap">
          <table className="trade-table" data-testid="trade-list">
            <caption className="visually-hidden">Your trades, newest first</caption>
            <colgroup>
              <col className="col-trade-market" />
              <col className="col-trade-role" />
              <col className="col-trade-amount" />
              <col className="col-trade-state" />
              <col className="col-trade-next" />
              <col className="col-trade-unread" />
              <col className="col-trade-open" />
            </colgroup>
            <thead>
              <tr>
                <th scope="col">Market</th>
                <th scope="col">Role</th>
                <th scope="col">Amount</th>
                <th scope="col">State</th>
                <th scope="col">Next</th>
                <th scope="col">Unread</th>
                <th scope="col">
                  <span className="visually-hidden">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {trades.data.map((trade) => (
                <TradeRow key={trade.id} trade={trade} onOpen={onOpen} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </SectionPage>
  );
}

function TradeRow({ trade, onOpen }: { trade: TradeInfo; onOpen: (id: string) => void }) {
  const mine = isMyTurn(trade);
  return (
    <tr className="trade-row" data-trade-id={trade.id} data-state={trade.state}>
      <td>
        <span className="trade-headline">{tradeHeadline(trade)}</span>
        <span className="muted trade-with">
          with <PeerId peerId={trade.counterparty} />
          <PeerNickname peer={trade.counterparty} />
        </span>
      </td>
      <td>{roleLabel(trade.role)}</td>
      <td className="num">{formatTradeAmount(trade)}</td>
      <td>
        <span className={`badge badge--trade badge--${trade.state.toLowerCase()}`}>{stateLabel(trade.state)}</span>
      </td>
      <td>
        {mine ? <span className="badge badge--turn">Your turn</span> : null} <span className="trade-next">{trade.next_step}</span>
      </td>
      <td className="num">
        {trade.unread > 0 ? (
          <span className="badge badge--unread" aria-label={`${trade.unread.toString()} unread messages`}>
            {trade.unread}
          </span>
        ) : (
          <span className="muted" aria-label="no unread messages">
            0
          </span>
        )}
      </td>
      <td>
        <button
          type="button"
          className="button button--small"
          aria-label={`Open trade: ${tradeHeadline(trade)}, ${formatTradeAmount(trade)}`}
          onClick={() => onOpen(trade.id)}
        >
          Open
        </button>
      </td>
    </tr>
  );
}
