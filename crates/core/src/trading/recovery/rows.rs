//! A trade's rows and its record: read out of this node's database into a record, and a record's rows
//! checked against this node's schema and written back.

use std::collections::HashSet;

use libp2p::PeerId;
use sqlx::{Column, Row, SqliteConnection, TypeInfo, ValueRef, sqlite::SqliteRow};
use uuid::Uuid;

use super::{MAX_RECORD_BYTES, Record, Table, Value, record};
use crate::{
    error::{Error, Result},
    store::now_ms,
    trading::errors::{internal, sql},
};

/// The tables a record carries, parents first (the order they are put back in), each with the query
/// reading one trade's rows. The outbox: only what the counterparty has not acknowledged, with its
/// retry counters cleared (they change on every attempt and mean nothing to a restored node). Chat
/// messages are added apart ([`MESSAGES`]), newest first while the record stays under its limit.
const TABLES: [(&str, &str); 5] = [
    ("trades", "SELECT * FROM trades WHERE id = ?"),
    (
        "trade_channels",
        "SELECT * FROM trade_channels WHERE trade_id = ?",
    ),
    (
        "trade_escrow",
        "SELECT * FROM trade_escrow WHERE trade_id = ?",
    ),
    (
        "trade_events",
        "SELECT * FROM trade_events WHERE trade_id = ? ORDER BY seq",
    ),
    (
        "outbox",
        "SELECT trade_id, seq, peer, envelope, created_at, 0 AS attempts, 0 AS next_attempt \
         FROM outbox WHERE trade_id = ? AND delivered_at IS NULL ORDER BY seq",
    ),
];
const MESSAGES: &str =
    "SELECT * FROM messages WHERE trade_id = ? ORDER BY sent_at DESC, outgoing, seq DESC";

fn value_of(row: &SqliteRow, i: usize) -> Result<Value> {
    let raw = row.try_get_raw(i).map_err(sql)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" => Value::Integer(row.try_get(i).map_err(sql)?),
        "TEXT" => Value::Text(row.try_get(i).map_err(sql)?),
        "BLOB" => Value::Blob(row.try_get(i).map_err(sql)?),
        other => return Err(internal("a recovery record", format!("a {other} value"))),
    })
}

async fn read_table(
    conn: &mut SqliteConnection,
    name: &str,
    query: &'static str,
    trade_id: Uuid,
) -> Result<Table> {
    let rows = sqlx::query(query)
        .bind(trade_id.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(sql)?;
    let columns = rows.first().map_or_else(Vec::new, |r| {
        r.columns().iter().map(|c| c.name().to_owned()).collect()
    });
    let rows = rows
        .iter()
        .map(|r| (0..columns.len()).map(|i| value_of(r, i)).collect())
        .collect::<Result<_>>()?;
    Ok(Table {
        name: name.to_owned(),
        columns,
        rows,
    })
}

/// The schema version of this node's database: the last migration applied.
async fn schema_version(conn: &mut SqliteConnection) -> Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql)
}

/// This node's record of `trade_id` as it stands, chat included newest first as far as it fits.
pub(super) async fn build_record(
    conn: &mut SqliteConnection,
    me: &PeerId,
    trade_id: Uuid,
) -> Result<Record> {
    let mut tables = Vec::with_capacity(TABLES.len() + 1);
    for (name, query) in TABLES {
        tables.push(read_table(conn, name, query, trade_id).await?);
    }
    let mut record = Record {
        owner: me.to_bytes(),
        trade_id,
        schema: schema_version(conn).await?,
        made_at: now_ms(),
        tables,
        chat_left_out: 0,
    };
    let mut chat = read_table(conn, "messages", MESSAGES, trade_id).await?;
    let mut size = encoded_len(&record)
        + record::SEAL_OVERHEAD
        + encoded_len(&(&chat.name, &chat.columns))
        + 16;
    let mut kept = 0;
    for row in &chat.rows {
        let row_size = encoded_len(row);
        if size + row_size > MAX_RECORD_BYTES {
            break;
        }
        size += row_size;
        kept += 1;
    }
    record.chat_left_out = u32::try_from(chat.rows.len() - kept).unwrap_or(u32::MAX);
    chat.rows.truncate(kept);
    chat.rows.reverse();
    record.tables.push(chat);
    Ok(record)
}

/// The postcard size of a value, for fitting chat into a record.
fn encoded_len<T: serde::Serialize>(value: &T) -> usize {
    postcard::to_stdvec(value).map_or(usize::MAX / 4, |v| v.len())
}

/// The columns of `table` in this node's schema.
async fn columns_of(conn: &mut SqliteConnection, table: &str) -> Result<HashSet<String>> {
    let rows = sqlx::query("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql)?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(sql))
        .collect()
}

/// The tables a record may write, checked against this node's own schema: every table one this module
/// reads, every column one this node has, every row of the record's trade. The `INSERT` of each.
pub(super) async fn checked_inserts(
    conn: &mut SqliteConnection,
    record: &Record,
) -> Result<Vec<String>> {
    let schema = schema_version(conn).await?;
    if record.schema > schema {
        return Err(Error::InvalidInput(format!(
            "the recovery copy of trade {} was made by a newer Souk (schema {}, this one {schema}): \
             update Souk and it is put back",
            record.trade_id, record.schema
        )));
    }
    let id = Value::Text(record.trade_id.to_string());
    let allowed: Vec<&str> = TABLES
        .iter()
        .map(|(name, _)| *name)
        .chain(["messages"])
        .collect();
    let mut inserts = Vec::with_capacity(record.tables.len());
    for table in &record.tables {
        if !allowed.contains(&table.name.as_str()) {
            return Err(internal("a recovery copy", format!("table {}", table.name)));
        }
        let known = columns_of(conn, &table.name).await?;
        if let Some(unknown) = table.columns.iter().find(|c| !known.contains(*c)) {
            return Err(internal(
                "a recovery copy",
                format!("column {}.{unknown} unknown here", table.name),
            ));
        }
        let key_at = table.columns.iter().position(|c| c == key_of(&table.name));
        for row in &table.rows {
            if row.len() != table.columns.len() || key_at.and_then(|i| row.get(i)) != Some(&id) {
                return Err(internal(
                    "a recovery copy",
                    format!("a row of {} not of this trade", table.name),
                ));
            }
        }
        inserts.push(format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            table.columns.join(", "),
            vec!["?"; table.columns.len()].join(", ")
        ));
    }
    Ok(inserts)
}

/// The column naming the trade in `table`.
pub(super) fn key_of(table: &str) -> &'static str {
    if table == "trades" { "id" } else { "trade_id" }
}

/// Runs `sql` (checked by [`checked_inserts`] or built from checked names) with `row` bound.
pub(super) async fn execute(
    conn: &mut SqliteConnection,
    sql_text: &str,
    row: &[&Value],
) -> Result<u64> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql_text.to_owned()));
    for value in row {
        query = match value {
            Value::Null => query.bind(None::<i64>),
            Value::Integer(n) => query.bind(*n),
            Value::Text(s) => query.bind(s.clone()),
            Value::Blob(b) => query.bind(b.clone()),
        };
    }
    Ok(query
        .execute(&mut *conn)
        .await
        .map_err(sql)?
        .rows_affected())
}
