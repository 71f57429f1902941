import { NICKNAME_CAVEAT, escrowVerifiedText, nicknameText, reputationFigure } from '../../logic/reputation';
import type { ReputationLookup } from '../../logic/reputation';

/**
 * A maker's reputation in a book row: "12 trades · ★4.5", with how many of them the chain backs as
 * its tooltip (and for screen readers). A lookup still running or failed says so, and never holds the
 * row back. A nickname the maker chose comes first, in quotes and quieter, right under its derived
 * name: text only, isolated so its direction cannot reorder the row.
 */
export function ReputationFigure({ lookup }: { lookup: ReputationLookup | undefined }) {
  if (!lookup || lookup.state === 'checking') {
    return (
      <span className="maker-reputation maker-reputation--pending" data-testid="maker-reputation">
        Checking reputation…
      </span>
    );
  }
  if (lookup.state === 'failed') {
    const why = `Could not check reputation: ${lookup.message}`;
    return (
      <span className="maker-reputation maker-reputation--pending" data-testid="maker-reputation" title={why}>
        Reputation not checked
        <span className="visually-hidden"> ({why})</span>
      </span>
    );
  }
  const detail = escrowVerifiedText(lookup.reputation);
  const nickname = nicknameText(lookup.reputation.nickname);
  return (
    <>
      {nickname === null ? null : (
        <span className="maker-nickname" data-testid="maker-nickname" title={`Nickname ${NICKNAME_CAVEAT}`}>
          <bdi>{nickname}</bdi>
          <span className="visually-hidden"> (nickname {NICKNAME_CAVEAT})</span>
        </span>
      )}
      <span className="maker-reputation" data-testid="maker-reputation" title={detail}>
        {reputationFigure(lookup.reputation)}
        <span className="visually-hidden"> ({detail})</span>
      </span>
    </>
  );
}
