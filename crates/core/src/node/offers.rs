//! The book and the market through the facade: the local book (offline, from the cache), this
//! node's own offers, posting and withdrawing, prices, and the book's events.

use crate::{
    book::{BookEntry, BookQuery, MyOffer},
    error::{Error, Result},
    market::MarketEvent,
    offer::{Asset, NewOffer, Offer, Quote},
    price::MarketPrice,
    store,
};

use super::Node;

impl Node {
    /// The local order book (works offline, from the cache). With a market named in the query and a
    /// price known for it, market-relative offers come with their current price.
    pub async fn offers(&self, query: &BookQuery) -> Result<Vec<BookEntry>> {
        let (book, price) = self.book_and_price(query).await?;
        let mut entries = book.query(query, store::now_ms(), price).await?;
        self.with_reach(&mut entries).await;
        Ok(entries)
    }

    /// Fills in how each maker can be reached, as far as the network knows (offline: unknown).
    /// Makers it knows nothing of are looked up in the DHT, without dialling them, so a later look
    /// at the book can say.
    async fn with_reach(&self, entries: &mut [BookEntry]) {
        /// Lookups one look at the book starts at most (each is a handful of DHT requests).
        const LOOKUPS: usize = 16;
        let Ok(net) = self.net().await else {
            return;
        };
        let makers: Vec<libp2p::PeerId> = entries
            .iter()
            .map(|e| e.offer.maker)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let Ok(reach) = net.reach_of(makers.clone()).await else {
            return;
        };
        let me = net.local_peer_id();
        let mine = match net.reachability().await {
            Ok(r) => crate::net::PeerReach::of(&r.external_addrs),
            Err(_) => crate::net::PeerReach::Unknown,
        };
        let by_maker: std::collections::HashMap<_, _> = makers.into_iter().zip(reach).collect();
        let unknown = by_maker
            .iter()
            .filter(|(m, r)| **r == crate::net::PeerReach::Unknown && **m != me);
        for (maker, _) in unknown.take(LOOKUPS) {
            let _ = net.look_up(*maker).await;
        }
        for entry in entries {
            entry.maker_reach = match by_maker.get(&entry.offer.maker) {
                _ if entry.offer.maker == me => mine,
                Some(reach) => *reach,
                None => crate::net::PeerReach::Unknown,
            };
        }
    }

    /// The book, and the market price of the query's market when one is named and known.
    pub(super) async fn book_and_price(
        &self,
        query: &BookQuery,
    ) -> Result<(crate::book::Book, Option<rust_decimal::Decimal>)> {
        let (book, market) = {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            (u.book.clone(), u.market.clone())
        };
        let price = match (query.base, query.quote, market) {
            (Some(base), Some(quote), Some(market)) => market.price(base, quote).map(|p| p.price),
            _ => None,
        };
        Ok((book, price))
    }

    /// A page of one market's book, in the book's order, with how many offers match and where the next
    /// page starts (works offline). Market-relative offers are placed by the market price at the first
    /// page; later pages keep that order.
    pub async fn book_page(
        &self,
        query: &BookQuery,
        page: &crate::book::PageRequest,
    ) -> Result<crate::book::BookPage> {
        let (book, price) = self.book_and_price(query).await?;
        let mut page = book.page(query, page, store::now_ms(), price).await?;
        self.with_reach(&mut page.entries).await;
        Ok(page)
    }

    /// One offer of the local book, with its state (works offline).
    pub async fn offer(&self, id: uuid::Uuid) -> Result<Option<(Offer, crate::book::OfferState)>> {
        let book = {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            u.book.clone()
        };
        Ok(book.get(id).await?)
    }

    /// The current market price, when the price feed has one.
    pub async fn market_price(&self, base: Asset, quote: Quote) -> Result<Option<MarketPrice>> {
        Ok(self.market().await?.price(base, quote))
    }

    pub async fn post_offer(&self, new: NewOffer) -> Result<Offer> {
        self.market().await?.post(new).await
    }

    pub async fn withdraw_offer(&self, id: uuid::Uuid) -> Result<()> {
        self.market().await?.withdraw(id).await
    }

    /// Asks the makers of a market for their offers; returns how many were new.
    pub async fn refresh_market(&self, base: Asset, quote: Quote) -> Result<usize> {
        self.market().await?.refresh(base, quote).await
    }

    /// How many times since the network started the book fell behind its events (and asked the
    /// makers again).
    pub async fn market_fell_behind(&self) -> Result<u64> {
        Ok(self.market().await?.fell_behind())
    }

    /// What changes in the book. Works before the network starts (and across a restart of it):
    /// events flow while it runs.
    pub fn market_events(&self) -> tokio::sync::broadcast::Receiver<MarketEvent> {
        self.market_events.subscribe()
    }

    /// This node's own offers, live, expired and withdrawn, newest first. Works offline.
    pub async fn my_offers(&self) -> Result<Vec<MyOffer>> {
        let book = {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            u.book.clone()
        };
        Ok(book.my_offers(store::now_ms()).await?)
    }
}
