//! A trade's record built from its rows as `store::recovery` reads them: the trade's own rows whole,
//! the chat newest first as far as it fits under the record's limit.

use libp2p::PeerId;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{MAX_RECORD_BYTES, Record, record};
use crate::{error::Result, store::now_ms, trading::store};

/// This node's record of `trade_id` as it stands, chat included newest first as far as it fits.
pub(super) async fn build_record(
    conn: &mut SqliteConnection,
    me: &PeerId,
    trade_id: Uuid,
) -> Result<Record> {
    let tables = store::recovery::trade_tables(conn, trade_id).await?;
    let mut record = Record {
        owner: me.to_bytes(),
        trade_id,
        schema: store::recovery::schema_version(conn).await?,
        made_at: now_ms(),
        tables,
        chat_left_out: 0,
    };
    let mut chat = store::recovery::chat_table(conn, trade_id).await?;
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
