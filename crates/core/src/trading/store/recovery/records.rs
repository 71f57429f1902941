//! A trade's rows as a recovery record carries them: read out of this node's database table by table,
//! and a record's rows checked against this node's schema and written back. What goes into a record
//! (and what is left out to fit) is `trading::recovery`'s.

use std::collections::HashSet;

use sqlx::{Column, Row, SqliteConnection, TypeInfo, ValueRef, sqlite::SqliteRow};
use uuid::Uuid;

use super::super::{internal, sql};
use crate::{
    error::{Error, Result},
    trading::recovery::{Record, Table, Value},
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

/// The trade's own rows, every table a record carries but the chat, parents first (room is left for
/// the chat's table).
pub(in crate::trading) async fn trade_tables(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Vec<Table>> {
    let mut tables = Vec::with_capacity(TABLES.len() + 1);
    for (name, query) in TABLES {
        tables.push(read_table(conn, name, query, trade_id).await?);
    }
    Ok(tables)
}

/// The trade's chat messages, newest first.
pub(in crate::trading) async fn chat_table(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Table> {
    read_table(conn, "messages", MESSAGES, trade_id).await
}

/// The schema version of this node's database: the last migration applied.
pub(in crate::trading) async fn schema_version(conn: &mut SqliteConnection) -> Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql)
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
pub(in crate::trading) async fn checked_inserts(
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
pub(in crate::trading) fn key_of(table: &str) -> &'static str {
    if table == "trades" { "id" } else { "trade_id" }
}

/// The `UPDATE` of a row of `table` (checked by [`checked_inserts`]) by the trade: every column but
/// the key set, the key bound last.
pub(in crate::trading) fn update_of(table: &Table) -> String {
    let key = key_of(&table.name);
    let set: Vec<String> = table
        .columns
        .iter()
        .filter(|c| *c != key)
        .map(|c| format!("{c} = ?"))
        .collect();
    format!(
        "UPDATE {} SET {} WHERE {key} = ?",
        table.name,
        set.join(", ")
    )
}

/// `insert` (one of [`checked_inserts`]) leaving out a row that is there already.
pub(in crate::trading) fn or_ignore(insert: &str) -> String {
    insert.replacen("INSERT INTO", "INSERT OR IGNORE INTO", 1)
}

/// Runs `sql_text` (checked by [`checked_inserts`] or built from checked names) with `row` bound. How
/// many rows it changed.
pub(in crate::trading) async fn execute(
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
