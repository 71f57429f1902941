import type { Reputation } from '../../bindings';
import { useNow } from '../../components/useNow';
import { peerName } from '../../logic/peerName';
import {
  counterpartiesText,
  disputesText,
  identityAgeText,
  lastSeenText,
  lookupFailure,
  NICKNAME_CAVEAT,
  nicknameText,
  ratingText,
  refusedText,
  settledText,
} from '../../logic/reputation';
import { useReputation } from '../../state/reputation';

interface ReputationPanelProps {
  peer: string;
  /** Whose reputation it is, in the heading: "Maker’s reputation". */
  title: string;
}

/**
 * A peer's reputation before trading with it: settled trades and how many the chain backs, distinct
 * counterparties, how old the identity is, disputes, ratings, and receipts this node refused. The
 * lookup can take seconds or fail; it says so, with a retry, and never holds the form below back.
 */
export function ReputationPanel({ peer, title }: ReputationPanelProps) {
  const lookup = useReputation(peer);
  return (
    <section className="panel reputation-panel" aria-label={title} aria-busy={lookup.isFetching}>
      <h3>{title}</h3>
      {lookup.data ? (
        <ReputationDetails reputation={lookup.data} />
      ) : lookup.isError ? (
        <div className="alert" role="alert">
          <p className="alert-text">Could not check reputation: {lookupFailure(lookup.error)}</p>
          <button type="button" className="button button--small" onClick={() => void lookup.refetch()}>
            Try again
          </button>
        </div>
      ) : (
        <p role="status" className="muted">
          Checking the reputation… This asks other peers for signed trade receipts and checks them against
          the chain, which can take a few seconds.
        </p>
      )}
    </section>
  );
}

function ReputationDetails({ reputation }: { reputation: Reputation }) {
  const now = useNow();
  const { refused } = reputation;
  const nickname = nicknameText(reputation.nickname);
  return (
    <>
      <dl className="details details--compact" data-testid="reputation-details">
        {nickname === null ? null : (
          <div data-testid="reputation-nickname">
            <dt>Nickname</dt>
            <dd>
              <bdi className="plain-text">{nickname}</bdi> <span className="muted">— {NICKNAME_CAVEAT}</span>
            </dd>
          </div>
        )}
        <div>
          <dt>Settled trades</dt>
          <dd data-testid="reputation-settled">{settledText(reputation)}</dd>
        </div>
        <div>
          <dt>Counterparties</dt>
          <dd>{counterpartiesText(reputation.counterparties)}</dd>
        </div>
        <div>
          <dt>Identity age</dt>
          <dd>{identityAgeText(reputation.first_seen, now)}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd>{lastSeenText(reputation.last_seen, now)}</dd>
        </div>
        <div>
          <dt>Disputes</dt>
          <dd>{disputesText(reputation.disputes_opened, reputation.disputes_lost)}</dd>
        </div>
        <div>
          <dt>Rating</dt>
          <dd>{ratingText(reputation.rating, reputation.ratings)}</dd>
        </div>
      </dl>
      {refused.length > 0 ? (
        <details className="reputation-refused" data-testid="reputation-refused">
          <summary>{refusedText(refused.length)}</summary>
          <p className="muted">
            Receipts or ratings about this peer that did not hold when this computer checked them; they do not
            count above.
          </p>
          <ul>
            {refused.map((r, i) => (
              <li key={`${r.holder}-${i.toString()}`}>
                <span className="plain-text">{r.reason}</span>{' '}
                <span className="muted">(held by {peerName(r.holder)})</span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      <p className="muted reputation-source">
        From signed trade receipts held by {reputation.holders === 1 ? '1 peer' : `${reputation.holders.toString()} peers`},
        checked by this computer.
      </p>
    </>
  );
}
