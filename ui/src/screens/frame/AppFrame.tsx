import { useState } from 'react';
import type { IdentityInfo } from '../../bindings';
import { Header } from './Header';
import { Nav } from './Nav';
import { MarketPage, NetworkPage, OffersPage, SettingsPage, TradesPage } from './pages';
import type { SectionId } from './sections';

function SectionView({ section, identity }: { section: SectionId; identity: IdentityInfo }) {
  switch (section) {
    case 'market':
      return <MarketPage />;
    case 'offers':
      return <OffersPage />;
    case 'trades':
      return <TradesPage />;
    case 'network':
      return <NetworkPage />;
    case 'settings':
      return <SettingsPage identity={identity} />;
  }
}

export function AppFrame({ identity }: { identity: IdentityInfo }) {
  const [section, setSection] = useState<SectionId>('market');

  return (
    <div className="frame">
      <a className="skip-link" href="#main-content">
        Skip to content
      </a>
      <Header peerId={identity.peer_id} />
      <Nav current={section} onSelect={setSection} />
      <main className="frame-main" id="main-content" tabIndex={-1}>
        <SectionView section={section} identity={identity} />
      </main>
    </div>
  );
}
