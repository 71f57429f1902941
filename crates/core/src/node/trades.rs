//! Trades, chat and disputes through the facade: thin calls into the desk (online) or the database
//! (offline), and the trade and alert events. Every rule lives in `crate::trading`.

use super::Node;
use crate::{
    alerts::Alert,
    error::Result,
    trading::{ChatMessage, TradeAnswer, TradeEvent, TradeInfo},
};

impl Node {
    /// Takes an offer from the book; its maker must be reachable.
    pub async fn take_offer(
        &self,
        offer_id: uuid::Uuid,
        amount: u64,
        method: crate::offer::PaymentMethod,
        payout: String,
    ) -> Result<TradeInfo> {
        Ok(self
            .desk()
            .await?
            .take(offer_id, amount, method, payout)
            .await?)
    }

    /// Accepts, rejects or counters the other side's last negotiation step.
    pub async fn answer_trade(
        &self,
        trade_id: uuid::Uuid,
        answer: TradeAnswer,
    ) -> Result<TradeInfo> {
        self.desk().await?.answer(trade_id, answer).await
    }

    /// Every trade of this node (works offline).
    pub async fn trades(&self) -> Result<Vec<TradeInfo>> {
        let (pool, me) = self.local().await?;
        crate::trading::list_trades(&pool, &me).await
    }

    /// One trade (works offline).
    pub async fn trade(&self, trade_id: uuid::Uuid) -> Result<TradeInfo> {
        let (pool, me) = self.local().await?;
        crate::trading::trade_info(&pool, &me, trade_id).await
    }

    /// A peer's reputation from its trade receipts, verified by this node (docs/protocol.md,
    /// "Reputation"): receipts both parties signed, found in the DHT, escrows checked on this node's
    /// chain.
    pub async fn reputation(&self, peer: &str) -> Result<crate::reputation::Reputation> {
        let peer: libp2p::PeerId = peer.trim().parse().map_err(|_| {
            crate::Error::InvalidInput(format!(
                "{:?} is not a peer id (12D3KooW…, as `souk id` or a trade shows it)",
                peer.trim()
            ))
        })?;
        self.desk().await?.reputation(peer).await
    }

    /// Rates the counterparty of an ended trade: 1–5 stars and a comment of at most 140 bytes.
    pub async fn rate_trade(&self, trade_id: uuid::Uuid, stars: u8, comment: &str) -> Result<()> {
        self.desk().await?.rate(trade_id, stars, comment).await
    }

    /// Where an ended trade's receipt stands, in words; `None` when it has none (yet).
    pub async fn trade_receipt(&self, trade_id: uuid::Uuid) -> Result<Option<String>> {
        self.desk().await?.receipt_state(trade_id).await
    }

    pub async fn send_chat(&self, trade_id: uuid::Uuid, text: String) -> Result<ChatMessage> {
        self.desk().await?.send_chat(trade_id, text).await
    }

    /// A trade's chat in order (works offline).
    pub async fn chat_log(&self, trade_id: uuid::Uuid) -> Result<Vec<ChatMessage>> {
        let (pool, me) = self.local().await?;
        crate::trading::chat_log(&pool, &me, trade_id).await
    }

    /// Marks the counterparty's messages read and tells it; returns how many were unread.
    pub async fn mark_read(&self, trade_id: uuid::Uuid) -> Result<u32> {
        self.desk().await?.mark_read(trade_id).await
    }

    /// The address this party's coins go to (buyer: payout; seller: refund) for an escrow trade.
    pub async fn set_escrow_address(
        &self,
        trade_id: uuid::Uuid,
        address: &str,
    ) -> Result<TradeInfo> {
        Ok(self
            .desk()
            .await?
            .set_escrow_address(trade_id, address)
            .await?)
    }

    /// Funds this party's escrow output from the chain node's wallet `wallet` (Core backend): built and
    /// checked, then with `broadcast` signed by the wallet and sent (see [`crate::trading::WalletFunding`]).
    pub async fn fund_from_wallet(
        &self,
        trade_id: uuid::Uuid,
        wallet: &str,
        broadcast: bool,
    ) -> Result<crate::trading::WalletFunding> {
        Ok(self
            .desk()
            .await?
            .fund_from_wallet(trade_id, wallet, broadcast)
            .await?)
    }

    /// The buyer: payment sent.
    pub async fn mark_paid(&self, trade_id: uuid::Uuid) -> Result<TradeInfo> {
        Ok(self.desk().await?.mark_paid(trade_id).await?)
    }

    /// The seller: payment received (signs the escrow's release).
    pub async fn mark_received(&self, trade_id: uuid::Uuid) -> Result<TradeInfo> {
        Ok(self.desk().await?.mark_received(trade_id).await?)
    }

    pub async fn cancel_trade(&self, trade_id: uuid::Uuid, reason: String) -> Result<TradeInfo> {
        Ok(self.desk().await?.cancel(trade_id, reason).await?)
    }

    /// The disputes this node arbitrates (works offline: they are stored).
    pub async fn disputes(&self) -> Result<Vec<crate::trading::DisputeInfo>> {
        self.desk().await?.disputes().await
    }

    pub async fn dispute_info(&self, trade_id: uuid::Uuid) -> Result<crate::trading::DisputeInfo> {
        self.desk().await?.dispute_info(trade_id).await
    }

    /// As the arbitrator: decide a dispute (the whole escrow to the buyer or the seller, or a split).
    pub async fn resolve_dispute(
        &self,
        trade_id: uuid::Uuid,
        decision: &crate::trading::Decision,
    ) -> Result<crate::trading::DisputeInfo> {
        Ok(self.desk().await?.resolve(trade_id, decision).await?)
    }

    /// Test hook: makes this node lie to its counterparty by sending `body` as its signed step, unchecked
    /// and unrecorded here; returns the counterparty's refusal, `None` when it took it.
    #[cfg(feature = "test-hooks")]
    pub async fn send_unchecked_step(
        &self,
        trade_id: uuid::Uuid,
        body: crate::protocol::settlement::StepBody,
    ) -> Result<Option<String>> {
        self.desk().await?.send_unchecked_step(trade_id, body).await
    }

    /// Test hook: this node floods its counterparty's chat, skipping its own checks; see
    /// [`crate::trading::Desk::send_unchecked_chat`]. Returns the last sequence number queued.
    #[cfg(feature = "test-hooks")]
    pub async fn send_unchecked_chat(
        &self,
        trade_id: uuid::Uuid,
        messages: Vec<(String, i64)>,
    ) -> Result<Option<u64>> {
        self.desk()
            .await?
            .send_unchecked_chat(trade_id, messages)
            .await
    }

    /// Test hook: this node, no party to the trade, forges a dispute case about it for `arbitrator`;
    /// returns the arbitrator's refusal, `None` when it stored the case.
    #[cfg(feature = "test-hooks")]
    pub async fn send_forged_case(
        &self,
        arbitrator: libp2p::PeerId,
        trade_id: uuid::Uuid,
    ) -> Result<Option<String>> {
        self.desk()
            .await?
            .send_forged_case(arbitrator, trade_id)
            .await
    }

    pub async fn dispute_trade(&self, trade_id: uuid::Uuid, reason: String) -> Result<TradeInfo> {
        Ok(self.desk().await?.dispute(trade_id, reason).await?)
    }

    /// What happens to trades and disputes. Works before the network starts (and across a restart
    /// of it): events flow while it runs.
    pub fn trade_events(&self) -> tokio::sync::broadcast::Receiver<TradeEvent> {
        self.trade_events.subscribe()
    }

    /// What to tell the person (see [`crate::alerts`]), as the notification preferences allow.
    /// Works before the network starts: alerts flow once it has.
    pub fn alerts(&self) -> tokio::sync::broadcast::Receiver<Alert> {
        self.alerts.subscribe()
    }

    /// Messages from counterparties not marked read yet, across every trade (works offline).
    pub async fn unread_messages(&self) -> Result<u32> {
        let (pool, _) = self.local().await?;
        crate::trading::unread_messages(&pool).await
    }
}
