/**
 * Shortens a PeerId for display: libp2p ids share the "12D3KooW" prefix, so
 * keep enough of the head to tell ids apart, plus the tail.
 */
export function abbreviatePeerId(peerId: string, head = 12, tail = 6): string {
  if (peerId.length <= head + tail + 1) return peerId;
  return `${peerId.slice(0, head)}…${peerId.slice(-tail)}`;
}
