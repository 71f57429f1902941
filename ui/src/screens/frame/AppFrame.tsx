import { useState } from 'react';
import type { IdentityInfo } from '../../bindings';
import { useMarketEvents } from '../../state/market';
import { MarketScreen } from '../market/MarketScreen';
import type { MarketChoice } from '../market/MarketScreen';
import { NetworkScreen } from '../network/NetworkScreen';
import { MyOffersScreen } from '../offers/MyOffersScreen';
import { PostOfferScreen } from '../post/PostOfferScreen';
import { Header } from './Header';
import { Nav } from './Nav';
import { SettingsPage, TradesPage } from './pages';
import type { SectionId } from './sections';

export function AppFrame({ identity }: { identity: IdentityInfo }) {
  const [section, setSection] = useState<SectionId>('market');
  const [market, setMarket] = useState<MarketChoice>({ base: 'BTC', quote: 'EUR' });
  useMarketEvents(identity.peer_id);

  const view = () => {
    switch (section) {
      case 'market':
        return <MarketScreen market={market} onMarketChange={setMarket} />;
      case 'post':
        return (
          <PostOfferScreen
            myPeerId={identity.peer_id}
            initialMarket={market}
            onPosted={() => setSection('offers')}
          />
        );
      case 'offers':
        return <MyOffersScreen />;
      case 'trades':
        return <TradesPage />;
      case 'network':
        return <NetworkScreen />;
      case 'settings':
        return <SettingsPage identity={identity} />;
    }
  };

  return (
    <div className="frame">
      <a className="skip-link" href="#main-content">
        Skip to content
      </a>
      <Header peerId={identity.peer_id} />
      <Nav current={section} onSelect={setSection} />
      <main className="frame-main" id="main-content" tabIndex={-1}>
        {view()}
      </main>
    </div>
  );
}
