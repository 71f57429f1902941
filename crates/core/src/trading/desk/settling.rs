//! The settlement and dispute calls of the shells: thin doors into `settle`, `fund` and `arbitrate`.
//! No trade logic lives here.

use std::result::Result;

use uuid::Uuid;

use super::Desk;
use crate::{
    error::Result as NodeResult,
    trading::{SettleError, TradeInfo, settle, store},
};

impl Desk {
    /// The address where this party's coins go (buyer: payout; seller: refund); sends the escrow keys.
    pub async fn set_escrow_address(
        &self,
        trade_id: Uuid,
        address: &str,
    ) -> Result<TradeInfo, SettleError> {
        settle::set_address(&self.inner, trade_id, address).await?;
        Ok(store::trade_info(&self.inner.pool, &self.inner.me.peer, trade_id).await?)
    }

    /// Funds this party's escrow output of `trade_id` from the Core node's wallet `wallet`: with
    /// `broadcast`, signed by that wallet and sent; without, only built (amount, fee and the unsigned
    /// PSBT, for the user to confirm or to sign elsewhere).
    pub async fn fund_from_wallet(
        &self,
        trade_id: Uuid,
        wallet: &str,
        broadcast: bool,
    ) -> Result<crate::trading::WalletFunding, SettleError> {
        crate::trading::fund::fund_from_wallet(&self.inner, trade_id, wallet, broadcast).await
    }

    /// The buyer: the payment is sent.
    pub async fn mark_paid(&self, trade_id: Uuid) -> Result<TradeInfo, SettleError> {
        self.act(trade_id, settle::Act::Paid).await
    }

    /// The seller: the payment arrived; with an escrow, this signs the release for the buyer.
    pub async fn mark_received(&self, trade_id: Uuid) -> Result<TradeInfo, SettleError> {
        self.act(trade_id, settle::Act::Received).await
    }

    /// Either party, before coins are locked.
    pub async fn cancel(&self, trade_id: Uuid, reason: String) -> Result<TradeInfo, SettleError> {
        self.act(trade_id, settle::Act::Cancel(reason)).await
    }

    /// Test hook: see [`crate::trading::settle::send_unchecked_step`].
    #[cfg(feature = "test-hooks")]
    pub async fn send_unchecked_step(
        &self,
        trade_id: Uuid,
        body: crate::protocol::settlement::StepBody,
    ) -> NodeResult<Option<String>> {
        crate::trading::settle::send_unchecked_step(&self.inner, trade_id, body).await
    }

    /// Test hook: see [`crate::trading::arbitrate::send_forged_case`].
    #[cfg(feature = "test-hooks")]
    pub async fn send_forged_case(
        &self,
        arbitrator: libp2p::PeerId,
        trade_id: Uuid,
    ) -> NodeResult<Option<String>> {
        let backend = self
            .inner
            .chain
            .as_ref()
            .ok_or_else(|| crate::error::Error::Internal("no chain backend".into()))?;
        crate::trading::arbitrate::send_forged_case(
            &self.inner,
            arbitrator,
            trade_id,
            (backend.chain(), backend.network()),
        )
        .await
    }

    /// Either party, once coins are locked: the arbitrator decides.
    pub async fn dispute(&self, trade_id: Uuid, reason: String) -> Result<TradeInfo, SettleError> {
        self.act(trade_id, settle::Act::Dispute(reason)).await
    }

    async fn act(&self, trade_id: Uuid, what: settle::Act) -> Result<TradeInfo, SettleError> {
        settle::act(&self.inner, trade_id, what).await?;
        self.inner.watcher.kick();
        Ok(store::trade_info(&self.inner.pool, &self.inner.me.peer, trade_id).await?)
    }

    /// The disputes this node arbitrates, newest first.
    pub async fn disputes(&self) -> NodeResult<Vec<crate::trading::DisputeInfo>> {
        crate::trading::arbitrate::list(&self.inner).await
    }

    pub async fn dispute_info(&self, trade_id: Uuid) -> NodeResult<crate::trading::DisputeInfo> {
        crate::trading::arbitrate::show(&self.inner, trade_id).await
    }

    /// As the arbitrator: pays the escrow to `to` (`buyer` or `seller`), signed, sent to both parties.
    pub async fn resolve(
        &self,
        trade_id: Uuid,
        decision: &crate::trading::Decision,
    ) -> std::result::Result<crate::trading::DisputeInfo, crate::trading::DisputeError> {
        crate::trading::arbitrate::resolve(&self.inner, trade_id, decision).await
    }
}
