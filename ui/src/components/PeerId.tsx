import { abbreviatePeerId } from '../logic/peerId';
import { peerName } from '../logic/peerName';
import { PeerAvatar } from './PeerAvatar';

interface PeerIdProps {
  peerId: string;
  /** Show the whole id (wrapping) instead of the abbreviated form. */
  full?: boolean;
  /** Leave out the name and avatar (where the peer is this node itself, say). */
  bare?: boolean;
}

/**
 * A peer as people tell peers apart: its avatar and name (the same on every node), then its PeerId in
 * monospace; when abbreviated the full id stays in the title and for screen readers.
 */
export function PeerId({ peerId, full = false, bare = false }: PeerIdProps) {
  const id = full ? (
    <code className="peer-id peer-id--full">{peerId}</code>
  ) : (
    <code className="peer-id" title={peerId} data-testid="peer-id">
      <span aria-hidden="true">{abbreviatePeerId(peerId)}</span>
      <span className="visually-hidden">{peerId}</span>
    </code>
  );
  if (bare) return id;
  return (
    <span className="peer">
      <PeerAvatar peerId={peerId} />
      <span className="peer-name" data-testid="peer-name">
        {peerName(peerId)}
      </span>{' '}
      {id}
    </span>
  );
}
