import { useState } from 'react';
import { useTheme } from '../../app/theme';
import type { IdentityInfo } from '../../bindings';
import { isOpen } from '../../logic/disputes';
import { useDisputes } from '../../state/disputes';
import { useNodeEvents } from '../../state/events';
import { usePreferences } from '../../state/settings';
import { useTrades } from '../../state/trades';
import { DisputeRoom } from '../disputes/DisputeRoom';
import { DisputesScreen } from '../disputes/DisputesScreen';
import { MarketScreen } from '../market/MarketScreen';
import type { MarketChoice } from '../market/MarketScreen';
import { NetworkScreen } from '../network/NetworkScreen';
import { MyOffersScreen } from '../offers/MyOffersScreen';
import { PostOfferScreen } from '../post/PostOfferScreen';
import { Header } from './Header';
import { Nav } from './Nav';
import { TradeRoom } from '../trades/TradeRoom';
import { TradesScreen } from '../trades/TradesScreen';
import { SettingsScreen } from '../settings/SettingsScreen';
import { sectionsFor } from './sections';
import type { SectionId } from './sections';

export function AppFrame({ identity }: { identity: IdentityInfo }) {
  const [section, setSection] = useState<SectionId>('market');
  const [market, setMarket] = useState<MarketChoice>({ base: 'BTC', quote: 'EUR' });
  // The trade room shown in the Trades section; null shows the list.
  const [openTrade, setOpenTrade] = useState<string | null>(null);
  // The dispute shown in the Disputes section (arbitrators only); null shows the list.
  const [openDispute, setOpenDispute] = useState<string | null>(null);
  useNodeEvents(identity.peer_id);
  const preferences = usePreferences();
  useTheme(preferences.data?.theme);
  const trades = useTrades();
  const unread = trades.data?.reduce((sum, t) => sum + t.unread, 0) ?? 0;
  const disputes = useDisputes(identity.arbitrator);
  const openDisputes = disputes.data?.filter(isOpen).length ?? 0;
  const showTrade = (id: string) => {
    setOpenTrade(id);
    setSection('trades');
  };
  const select = (next: SectionId) => {
    // The nav always leads to a section's first page.
    if (next === 'trades') setOpenTrade(null);
    if (next === 'disputes') setOpenDispute(null);
    setSection(next);
  };

  const view = () => {
    switch (section) {
      case 'market':
        return (
          <MarketScreen
            market={market}
            onMarketChange={setMarket}
            onTaken={(trade) => showTrade(trade.id)}
            onOpenSettings={() => setSection('settings')}
          />
        );
      case 'post':
        return (
          <PostOfferScreen
            myPeerId={identity.peer_id}
            initialMarket={market}
            onPosted={() => setSection('offers')}
          />
        );
      case 'offers':
        return <MyOffersScreen onOpenTrade={showTrade} />;
      case 'trades':
        return openTrade ? (
          <TradeRoom tradeId={openTrade} onBack={() => setOpenTrade(null)} />
        ) : (
          <TradesScreen onOpen={showTrade} />
        );
      case 'disputes':
        if (!identity.arbitrator) return null;
        return openDispute ? (
          <DisputeRoom tradeId={openDispute} onBack={() => setOpenDispute(null)} />
        ) : (
          <DisputesScreen onOpen={setOpenDispute} />
        );
      case 'network':
        return <NetworkScreen />;
      case 'settings':
        return <SettingsScreen identity={identity} />;
    }
  };

  return (
    <div className="frame">
      <a className="skip-link" href="#main-content">
        Skip to content
      </a>
      <Header peerId={identity.peer_id} />
      <Nav
        sections={sectionsFor(identity.arbitrator)}
        current={section}
        onSelect={select}
        badges={identity.arbitrator ? { trades: unread, disputes: openDisputes } : { trades: unread }}
      />
      <main className="frame-main" id="main-content" tabIndex={-1}>
        {view()}
      </main>
    </div>
  );
}
