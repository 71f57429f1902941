import { PEER_NICKNAME_CAVEAT, nicknameText } from '../logic/reputation';
import { usePeerNickname } from '../state/reputation';

/**
 * The nickname a peer chose, “in quotes” and quieter, to put right after its derived name (it brings
 * its own leading space). It comes from the peer's cached reputation lookup; while that runs, when it
 * failed, or when the peer chose none, nothing is shown: the derived name already says who it is.
 * The nickname is a text node inside <bdi>, so neither markup nor its direction can change the line.
 */
export function PeerNickname({ peer }: { peer: string }) {
  const nickname = nicknameText(usePeerNickname(peer));
  if (nickname === null) return null;
  return (
    <>
      {' '}
      <span className="peer-nickname" data-testid="peer-nickname" title={PEER_NICKNAME_CAVEAT}>
        <bdi>{nickname}</bdi>
        <span className="visually-hidden"> ({PEER_NICKNAME_CAVEAT})</span>
      </span>
    </>
  );
}
