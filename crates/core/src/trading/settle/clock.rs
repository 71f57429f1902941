//! The clock: the payment window a trade gets once the buyer paid or the escrow is funded, and the
//! deadlines (payment, confirmation, release) that move the trade when they pass.

use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{
    journal::{current_state, observe, step_locked},
    millis,
    row::{EscrowRow, load, save},
    sql,
};
use crate::{
    error::Result,
    protocol::settlement::{Actor, StepKind, TradeState},
    store::now_ms,
    trading::{desk::Inner, store},
};

/// The buyer said it paid: the seller has a payment window (by method, or as configured) to confirm or
/// dispute before the arbitrator is brought in.
pub(super) async fn start_confirm_window(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<()> {
    let Some(mut row) = load(conn, trade_id).await? else {
        return Ok(());
    };
    let window = match inner.config.payment_window {
        Some(window) => window,
        None => {
            let terms = store::trade_terms(conn, trade_id).await?;
            crate::trading::payment_window(&terms.method)
        }
    };
    row.payment_deadline = Some(now_ms() + millis(window));
    save(conn, trade_id, &row).await
}

/// The payment method the parties agreed on.
pub(super) async fn method_of(
    inner: &Inner,
    trade_id: Uuid,
) -> Result<crate::offer::PaymentMethod> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    Ok(store::trade_terms(&mut conn, trade_id).await?.method)
}

/// A deadline in `state` (read from the row by `deadline`) that passed moves the trade with `kind`.
async fn clock_step(
    inner: &Inner,
    trade_id: Uuid,
    state: TradeState,
    deadline: fn(&EscrowRow) -> Option<i64>,
    kind: StepKind,
    detail: &'static str,
) -> Result<()> {
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != state
                || deadline(&row).is_none_or(|d| now_ms() <= d)
            {
                return Ok(false);
            }
            observe(inner, tx, trade_id, Actor::Clock, kind, detail).await?;
            Ok(true)
        })
    })
    .await
}

/// Once the seller confirmed the payment, the release must reach the chain in time; otherwise the
/// arbitrator decides (the seller's deposit must not stay locked by a buyer who never broadcasts, and a
/// buyer's word that it did is not the chain).
pub(super) async fn check_release_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    clock_step(
        inner,
        trade_id,
        TradeState::PaymentConfirmed,
        |row| row.release_deadline,
        StepKind::ReleaseExpired,
        "no release on the chain in time",
    )
    .await
}

pub(super) async fn check_payment_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    clock_step(
        inner,
        trade_id,
        TradeState::EscrowFunded,
        |row| row.payment_deadline,
        StepKind::PaymentExpired,
        "no payment in time",
    )
    .await
}

/// The buyer said it paid: the seller confirms or disputes by the deadline, or the arbitrator decides.
pub(super) async fn check_confirm_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    clock_step(
        inner,
        trade_id,
        TradeState::PaymentSent,
        |row| row.payment_deadline,
        StepKind::ConfirmExpired,
        "the seller neither confirmed nor disputed the payment in time",
    )
    .await
}
