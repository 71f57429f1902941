import type { DisputeInfo } from '../../bindings';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerId } from '../../components/PeerId';
import { PeerNickname } from '../../components/PeerNickname';
import { coins, disputeMarket, disputeStateLabel, escrowTotal, isOpen, openedByLabel } from '../../logic/disputes';
import { useDisputes } from '../../state/disputes';
import { EmptyState } from '../frame/EmptyState';
import { SectionPage } from '../frame/SectionPage';
import { formatTime } from '../trades/format';

/** As an arbitrator: the disputes sent to this node, open ones first; opening one shows its cases. */
export function DisputesScreen({ onOpen }: { onOpen: (tradeId: string) => void }) {
  const disputes = useDisputes();
  return (
    <SectionPage title="Disputes">
      <p className="muted">
        Trades whose parties could not finish them come here, with each party’s reason and chat. You decide who gets the
        escrow; the winner’s node co-signs and broadcasts the payout.
      </p>
      {disputes.isError ? (
        <ErrorAlert error={disputes.error}>
          <button type="button" className="button button--small" onClick={() => void disputes.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : disputes.isPending ? (
        <p role="status" className="muted">
          Loading the disputes…
        </p>
      ) : disputes.data.length === 0 ? (
        <EmptyState title="No disputes">
          When a party of a trade that names you as its arbitrator opens a dispute, or a payment or release deadline
          passes, the case shows up here at once.
        </EmptyState>
      ) : (
        <div className="trade-list-wrap">
          <table className="trade-table dispute-table" data-testid="dispute-list">
            <caption className="visually-hidden">Disputes, open ones first, newest first</caption>
            <colgroup>
              <col className="col-dispute-market" />
              <col className="col-dispute-amount" />
              <col className="col-dispute-parties" />
              <col className="col-dispute-opened" />
              <col className="col-dispute-state" />
              <col className="col-dispute-open" />
            </colgroup>
            <thead>
              <tr>
                <th scope="col">Market</th>
                <th scope="col">Amount</th>
                <th scope="col">Parties</th>
                <th scope="col">Opened</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {disputes.data.map((dispute) => (
                <DisputeRow key={dispute.trade_id} dispute={dispute} onOpen={onOpen} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </SectionPage>
  );
}

function DisputeRow({ dispute, onOpen }: { dispute: DisputeInfo; onOpen: (tradeId: string) => void }) {
  const open = isOpen(dispute);
  return (
    <tr className="dispute-row" data-trade-id={dispute.trade_id} data-open={open ? 'true' : 'false'}>
      <td>
        <span className="trade-headline">{disputeMarket(dispute)}</span>
        <span className="muted trade-with">{dispute.chain.toUpperCase()} · {dispute.network}</span>
      </td>
      <td className="num">
        {coins(dispute.amount, dispute)}
        <span className="muted trade-with">escrow {coins(escrowTotal(dispute), dispute)}</span>
      </td>
      <td>
        <span className="party-line">
          Buyer <PeerId peerId={dispute.buyer} />
          <PeerNickname peer={dispute.buyer} />
        </span>
        <span className="party-line">
          Seller <PeerId peerId={dispute.seller} />
          <PeerNickname peer={dispute.seller} />
        </span>
      </td>
      <td>
        <span>by {openedByLabel(dispute)}</span>
        <span className="muted trade-with">{formatTime(dispute.opened_at)}</span>
      </td>
      <td>
        <span className={`badge badge--trade ${open ? 'badge--disputed' : 'badge--resolved'}`}>
          {disputeStateLabel(dispute)}
        </span>
      </td>
      <td>
        <button
          type="button"
          className="button button--small"
          aria-label={`Open dispute: ${disputeMarket(dispute)}, ${coins(dispute.amount, dispute)}, ${disputeStateLabel(dispute)}`}
          onClick={() => onOpen(dispute.trade_id)}
        >
          Open
        </button>
      </td>
    </tr>
  );
}
