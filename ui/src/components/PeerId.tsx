import { abbreviatePeerId } from '../logic/peerId';

interface PeerIdProps {
  peerId: string;
  /** Show the whole id (wrapping) instead of the abbreviated form. */
  full?: boolean;
}

/** A PeerId in monospace; when abbreviated the full id stays in title and for screen readers. */
export function PeerId({ peerId, full = false }: PeerIdProps) {
  if (full) {
    return <code className="peer-id peer-id--full">{peerId}</code>;
  }
  return (
    <code className="peer-id" title={peerId} data-testid="peer-id">
      <span aria-hidden="true">{abbreviatePeerId(peerId)}</span>
      <span className="visually-hidden">{peerId}</span>
    </code>
  );
}
