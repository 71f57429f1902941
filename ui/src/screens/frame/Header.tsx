import { CopyButton } from '../../components/CopyButton';
import { PeerId } from '../../components/PeerId';

export function Header({ peerId }: { peerId: string }) {
  return (
    <header className="frame-header">
      <p className="brand">Souk</p>
      <div className="header-identity">
        <span className="header-identity-label">Peer ID</span>
        <PeerId peerId={peerId} />
        <CopyButton text={peerId} label="Copy Peer ID" />
      </div>
    </header>
  );
}
