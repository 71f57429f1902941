//! Dispute rows, both sides. The arbitrator's: one `disputes` row per trade with the parties' cases,
//! its decision and each party's answer. A party's: when its case reached an arbitrator (on its
//! `trade_escrow` row) and the signed steps of its log a case carries. Rows only: what a case or a
//! decision says, and whether it holds, is `trading::arbitrate`'s.

use libp2p::PeerId;
use sqlx::{Row, Sqlite, SqliteConnection, SqliteExecutor, SqlitePool, sqlite::SqliteRow};
use uuid::Uuid;

use super::sql;
use crate::{
    error::{Error, Result},
    escrow::Party,
    trading::Winner,
};

/// A `disputes` row as stored. Each column is decoded when it is asked for, so a column that does
/// not decode fails only the reader that needs it.
pub(in crate::trading) struct DisputeRow(SqliteRow);

impl DisputeRow {
    fn get<'r, T>(&'r self, column: &str) -> Result<T>
    where
        T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
    {
        self.0.try_get(column).map_err(sql)
    }

    pub(in crate::trading) fn trade_id(&self) -> Result<String> {
        self.get("trade_id")
    }

    pub(in crate::trading) fn chain(&self) -> Result<String> {
        self.get("chain")
    }

    pub(in crate::trading) fn network(&self) -> Result<String> {
        self.get("network")
    }

    /// The buyer's PeerId, as text.
    pub(in crate::trading) fn buyer(&self) -> Result<String> {
        self.get("buyer")
    }

    /// The seller's PeerId, as text.
    pub(in crate::trading) fn seller(&self) -> Result<String> {
        self.get("seller")
    }

    pub(in crate::trading) fn buyer_address(&self) -> Result<String> {
        self.get("buyer_address")
    }

    pub(in crate::trading) fn seller_address(&self) -> Result<String> {
        self.get("seller_address")
    }

    pub(in crate::trading) fn escrow_address(&self) -> Result<String> {
        self.get("escrow_address")
    }

    pub(in crate::trading) fn amount(&self) -> Result<i64> {
        self.get("amount")
    }

    /// The parties' cases, as JSON.
    pub(in crate::trading) fn cases(&self) -> Result<String> {
        self.get("cases")
    }

    pub(in crate::trading) fn opened_at(&self) -> Result<i64> {
        self.get("opened_at")
    }

    pub(in crate::trading) fn resolved_to(&self) -> Result<Option<Winner>> {
        self.get("resolved_to")
    }

    pub(in crate::trading) fn resolved_at(&self) -> Result<Option<i64>> {
        self.get("resolved_at")
    }

    /// The latest decision's round; 0 while undecided.
    pub(in crate::trading) fn round(&self) -> Result<i64> {
        self.get("round")
    }

    pub(in crate::trading) fn buyer_share(&self) -> Result<Option<i64>> {
        self.get("buyer_share")
    }

    pub(in crate::trading) fn seller_share(&self) -> Result<Option<i64>> {
        self.get("seller_share")
    }

    pub(in crate::trading) fn decision_reason(&self) -> Result<Option<String>> {
        self.get("decision_reason")
    }

    pub(in crate::trading) fn buyer_answer(&self) -> Result<Option<String>> {
        self.get("buyer_answer")
    }

    pub(in crate::trading) fn seller_answer(&self) -> Result<Option<String>> {
        self.get("seller_answer")
    }

    /// The latest decision, signed, as sent to the parties.
    pub(in crate::trading) fn resolution(&self) -> Result<Option<Vec<u8>>> {
        self.get("resolution")
    }
}

/// The dispute held for `trade_id`; `None` when no case about the trade came here. On the pool or in
/// the caller's transaction.
pub(in crate::trading) async fn load<'c>(
    conn: impl SqliteExecutor<'c>,
    trade_id: Uuid,
) -> Result<Option<DisputeRow>> {
    let row = sqlx::query("SELECT * FROM disputes WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(sql)?;
    Ok(row.map(DisputeRow))
}

/// Every dispute held here: open ones first, then the decided ones; newest first in each.
pub(in crate::trading) async fn load_all(pool: &SqlitePool) -> Result<Vec<DisputeRow>> {
    let rows = sqlx::query(
        "SELECT * FROM disputes ORDER BY resolved_to IS NOT NULL, opened_at DESC, trade_id",
    )
    .fetch_all(pool)
    .await
    .map_err(sql)?;
    Ok(rows.into_iter().map(DisputeRow).collect())
}

/// Drops the dispute held for `trade_id` (a real one replaces it), in the caller's transaction.
pub(in crate::trading) async fn delete(conn: &mut SqliteConnection, trade_id: Uuid) -> Result<()> {
    sqlx::query("DELETE FROM disputes WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .execute(conn)
        .await
        .map_err(sql)?;
    Ok(())
}

/// A dispute as the arbitrator stores it when a case arrives: what makes it this trade's dispute, and
/// the cases held so far (JSON).
pub(in crate::trading) struct CasesRow<'a> {
    pub trade_id: Uuid,
    pub chain: &'a str,
    pub network: &'a str,
    pub buyer: &'a str,
    pub seller: &'a str,
    pub buyer_address: &'a str,
    pub seller_address: &'a str,
    pub escrow_address: &'a str,
    pub amount: i64,
    pub cases: &'a str,
    pub opened_at: i64,
}

/// Stores a dispute with its cases; a dispute held already only takes the new cases. In the caller's
/// transaction.
pub(in crate::trading) async fn save_cases(
    conn: &mut SqliteConnection,
    row: &CasesRow<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO disputes (trade_id, chain, network, buyer, seller, buyer_address, seller_address, \
         escrow_address, amount, cases, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (trade_id) DO UPDATE SET cases = excluded.cases",
    )
    .bind(row.trade_id.to_string())
    .bind(row.chain)
    .bind(row.network)
    .bind(row.buyer)
    .bind(row.seller)
    .bind(row.buyer_address)
    .bind(row.seller_address)
    .bind(row.escrow_address)
    .bind(row.amount)
    .bind(row.cases)
    .bind(row.opened_at)
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The arbitrator's decision of one round, as stored: the signed resolution and what it says.
pub(in crate::trading) struct DecisionRow<'a> {
    pub trade_id: Uuid,
    pub round: u32,
    pub to: Winner,
    pub at: i64,
    pub resolution: &'a [u8],
    pub buyer_share: u64,
    pub seller_share: u64,
    pub reason: &'a str,
}

/// Stores the decision of `round`, clearing the parties' answers to the last one, only while the
/// dispute is still at the round before (one decision per round, whoever asks first). Whether it did.
pub(in crate::trading) async fn save_decision(
    pool: &SqlitePool,
    decision: &DecisionRow<'_>,
) -> Result<bool> {
    let decided = sqlx::query(
        "UPDATE disputes SET resolved_to = ?, resolved_at = ?, resolution = ?, buyer_share = ?, \
         seller_share = ?, decision_reason = ?, round = ?, buyer_answer = NULL, seller_answer = NULL \
         WHERE trade_id = ? AND round = ?",
    )
    .bind(decision.to)
    .bind(decision.at)
    .bind(decision.resolution)
    .bind(i64::try_from(decision.buyer_share).unwrap_or(i64::MAX))
    .bind(i64::try_from(decision.seller_share).unwrap_or(i64::MAX))
    .bind(decision.reason)
    .bind(i64::from(decision.round))
    .bind(decision.trade_id.to_string())
    .bind(i64::from(decision.round - 1))
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(decided.rows_affected() == 1)
}

/// The signed resolution stored for `trade_id`: `Some(None)` while undecided, `None` without a dispute.
pub(in crate::trading) async fn resolution(
    pool: &SqlitePool,
    trade_id: Uuid,
) -> Result<Option<Option<Vec<u8>>>> {
    sqlx::query_scalar("SELECT resolution FROM disputes WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// A stored resolution a party has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::trading) struct Undelivered {
    pub trade_id: Uuid,
    pub side: Party,
    pub party: PeerId,
    pub bytes: Vec<u8>,
}

/// Every stored resolution, once per party that has not acknowledged it.
pub(in crate::trading) async fn undelivered_resolutions(
    pool: &SqlitePool,
) -> Result<Vec<Undelivered>> {
    let rows = sqlx::query(
        "SELECT trade_id, buyer, seller, buyer_answer, seller_answer, resolution FROM disputes \
         WHERE resolution IS NOT NULL AND (buyer_answer IS NULL OR seller_answer IS NULL) \
         ORDER BY resolved_at, trade_id",
    )
    .fetch_all(pool)
    .await
    .map_err(sql)?;
    let stored =
        |what: &str, e: &dyn std::fmt::Display| Error::Internal(format!("stored {what}: {e}"));
    let mut out = Vec::new();
    for row in rows {
        let id: String = row.try_get("trade_id").map_err(sql)?;
        let trade_id = Uuid::parse_str(&id).map_err(|e| stored("trade id", &e))?;
        let bytes: Vec<u8> = row.try_get("resolution").map_err(sql)?;
        for (side, peer, has) in [
            (Party::Buyer, "buyer", "buyer_answer"),
            (Party::Seller, "seller", "seller_answer"),
        ] {
            if row
                .try_get::<Option<String>, _>(has)
                .map_err(sql)?
                .is_some()
            {
                continue;
            }
            let peer: String = row.try_get(peer).map_err(sql)?;
            out.push(Undelivered {
                trade_id,
                side,
                party: peer.parse().map_err(|e| stored("party", &e))?,
                bytes: bytes.clone(),
            });
        }
    }
    Ok(out)
}

/// Stores `side`'s answer to the resolution `bytes` of `trade_id`; an answer to a resolution replaced
/// since is not stored.
pub(in crate::trading) async fn save_answer(
    pool: &SqlitePool,
    trade_id: Uuid,
    side: Party,
    bytes: &[u8],
    answer: String,
) -> Result<()> {
    let query = match side {
        Party::Buyer => {
            "UPDATE disputes SET buyer_answer = ? WHERE trade_id = ? AND resolution = ?"
        }
        Party::Seller => {
            "UPDATE disputes SET seller_answer = ? WHERE trade_id = ? AND resolution = ?"
        }
    };
    sqlx::query(query)
        .bind(answer)
        .bind(trade_id.to_string())
        .bind(bytes)
        .execute(pool)
        .await
        .map_err(sql)?;
    Ok(())
}

/// As a party: when its case last reached an arbitrator (unix ms), from its escrow row.
pub(in crate::trading) async fn case_sent_at(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT case_sent_at FROM trade_escrow WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_one(conn)
        .await
        .map_err(sql)
}

/// As a party: records that its case reached an arbitrator at `at` (`column`: `case_sent`, or
/// `backup_case_sent` for the backup arbitrator).
pub(in crate::trading) async fn save_case_sent(
    pool: &SqlitePool,
    trade_id: Uuid,
    column: &str,
    at: i64,
) -> Result<()> {
    let query = match column {
        "backup_case_sent" => {
            "UPDATE trade_escrow SET backup_case_sent = 1, case_sent_at = ? WHERE trade_id = ?"
        }
        _ => "UPDATE trade_escrow SET case_sent = 1, case_sent_at = ? WHERE trade_id = ?",
    };
    sqlx::query(query)
        .bind(at)
        .bind(trade_id.to_string())
        .execute(pool)
        .await
        .map_err(sql)?;
    Ok(())
}

/// The trade's signed steps of `kind` as its log holds them, oldest first: (step bytes, signature,
/// signer).
pub(in crate::trading) async fn steps_of_kind(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &str,
) -> Result<Vec<(Vec<u8>, Vec<u8>, String)>> {
    sqlx::query_as(
        "SELECT payload, signature, signer FROM trade_events WHERE trade_id = ? AND kind = ? \
         ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .bind(kind)
    .fetch_all(conn)
    .await
    .map_err(sql)
}

/// The events of the trade's log that sent it to an arbitrator, oldest first: disputes (either
/// party's) and the deadlines that closed, as (kind, payload, signer).
pub(in crate::trading) async fn dispute_events(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Vec<(String, Vec<u8>, String)>> {
    sqlx::query_as(
        "SELECT kind, payload, signer FROM trade_events WHERE trade_id = ? \
         AND kind IN ('dispute', 'payment_expired', 'release_expired', 'confirm_expired') \
         ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .fetch_all(conn)
    .await
    .map_err(sql)
}
