import { peerAvatar } from '../logic/peerName';

interface PeerAvatarProps {
  peerId: string;
  /** Side length in CSS pixels. */
  size?: number;
}

/** The PeerId's pattern, drawn here as SVG (no image is fetched): decorative, the name says who it is. */
export function PeerAvatar({ peerId, size = 20 }: PeerAvatarProps) {
  const { hue, cells } = peerAvatar(peerId);
  const squares = cells.flatMap((on, i) => {
    if (!on) return [];
    const column = Math.floor(i / 5);
    const row = i % 5;
    const mirrored = 4 - column;
    return column === mirrored ? [[column, row]] : [[column, row], [mirrored, row]];
  });
  return (
    <svg
      className="peer-avatar"
      data-testid="peer-avatar"
      width={size}
      height={size}
      viewBox="0 0 5 5"
      aria-hidden="true"
      focusable="false"
    >
      <rect width="5" height="5" rx="1" fill={`hsl(${hue} 45% 92%)`} />
      {squares.map(([x, y]) => (
        <rect key={`${x}-${y}`} x={x} y={y} width="1" height="1" fill={`hsl(${hue} 60% 42%)`} />
      ))}
    </svg>
  );
}
