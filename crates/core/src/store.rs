//! The local SQLite database: one file per identity, opened in WAL mode with foreign keys on.
//!
//! Schema changes are sqlx migrations from the top-level `migrations/` folder, embedded in the binary.
//! A database written by a newer Souk is refused before anything touches it: this module must never
//! alter a file it does not fully understand.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    Row,
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use crate::error_kind::ErrorKind;

pub const FILE_NAME: &str = "souk.db";

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Creates the database at `path` as a Souk of schema `version` left it (tests of a migration's
/// backfill: fill it the old way, then [`Store::open`] it).
#[cfg(test)]
pub(crate) async fn create_at_version(path: &Path, version: i64) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("database");
    MIGRATOR.run_to(version, &pool).await.expect("migrations");
    pool
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "the database {path} has schema version {found}, newer than this Souk understands ({supported}); \
         it was left untouched: run a newer Souk"
    )]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "the database {path} has an unfinished migration (version {version}); it was left untouched"
    )]
    DirtyMigration { path: String, version: i64 },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the stored value for `{key}` is not valid JSON: {source}")]
    BadSetting {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NewerSchema { .. } => ErrorKind::NewerSchema,
            _ => ErrorKind::Storage,
        }
    }
}

/// The newest schema version this binary knows.
pub fn supported_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// How long a pooled SQLite connection may sit unused before it is closed (sqlx's default is ten
/// minutes). Each connection is a thread of its own with its page cache and its allocator arena;
/// an idle node kept the connections a burst had opened (10,000 offers: 27.4 → 25.4 MiB). The
/// first query after a quiet spell opens one again with a cold cache: a Market page of a 20,000-offer
/// book then took 6 ms (p50 of 3, max 15) against 2.1 ms warm (`souk-bench book-pages`).
const IDLE_CONNECTION: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// The same file, for what the network can send again: commits are not synced to disk one by one
    /// (see [`Store::relaxed_pool`]).
    relaxed: SqlitePool,
}

impl Store {
    /// Opens (creating if missing) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed trade step survives power loss, not just a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // A write waits for the others as long as a pooled connection may be waited for: under a
            // burst (hundreds of offers arriving while the user posts) 5 s was too short, and a write
            // that gave up lost an offer from gossip or failed the user's request.
            .busy_timeout(Duration::from_secs(30))
            // SQLite's page cache, per connection: 512 KiB instead of its default 2 MiB. The pools
            // hold up to five connections, and one that read a big book kept its full 2 MiB for the
            // process's life (an idle node with 10,000 offers: 4.4 MiB of its 14 MiB heap). Pages
            // not cached come from the kernel's file cache, a `pread` each.
            .pragma("cache_size", "-512");
        Self::refuse_newer(path).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .idle_timeout(IDLE_CONNECTION)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        // One connection: SQLite takes one writer at a time anyway, and each connection keeps a
        // page cache of its own (up to 512 KiB).
        let relaxed = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(IDLE_CONNECTION)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await?;
        Ok(Self { pool, relaxed })
    }

    /// Looks at an existing file read-only; a schema from the future or a half-applied migration stops here.
    async fn refuse_newer(path: &Path) -> Result<(), StoreError> {
        if !path.exists() {
            return Ok(());
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let verdict = async {
            let has_table: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
            )
            .fetch_one(&pool)
            .await?;
            if !has_table {
                return Ok(());
            }
            let display = path.display().to_string();
            let rows = sqlx::query("SELECT version, success FROM _sqlx_migrations").fetch_all(&pool).await?;
            let supported = supported_schema_version();
            for row in rows {
                let version: i64 = row.try_get("version")?;
                let success: bool = row.try_get("success")?;
                if version > supported || MIGRATOR.iter().all(|m| m.version != version) {
                    return Err(StoreError::NewerSchema { path: display, found: version, supported });
                }
                if !success {
                    return Err(StoreError::DirtyMigration { path: display, version });
                }
            }
            Ok(())
        }
        .await;
        pool.close().await;
        verdict
    }

    pub async fn close(&self) {
        self.relaxed.close().await;
        self.pool.close().await;
    }

    /// Connections whose commits are synced to disk before they return (`synchronous = FULL`): what
    /// this node decided or was promised survives a power loss.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Connections to the same database whose commits reach the disk with the next WAL checkpoint
    /// (`synchronous = NORMAL`): a process crash loses nothing, a power loss may lose the last
    /// commits, and the file stays sound either way. For others' offers and withdrawals, which
    /// gossip, the DHT and their makers send again; under a busy market a sync per arriving offer
    /// was most of the book's cost.
    pub fn relaxed_pool(&self) -> &SqlitePool {
        &self.relaxed
    }

    /// The version of the newest migration applied to this database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }

    /// Records which identity this database belongs to; refuses to mix two identities in one file.
    pub async fn bind_identity(&self, peer_id: &str) -> Result<BindOutcome, StoreError> {
        let existing: Option<String> =
            sqlx::query_scalar("SELECT peer_id FROM identity WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        match existing {
            Some(found) if found == peer_id => Ok(BindOutcome::Same),
            Some(found) => Ok(BindOutcome::Other(found)),
            None => {
                sqlx::query("INSERT INTO identity (id, peer_id, created_at) VALUES (1, ?, ?)")
                    .bind(peer_id)
                    .bind(now_ms())
                    .execute(&self.pool)
                    .await?;
                Ok(BindOutcome::New)
            }
        }
    }

    pub async fn setting<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let raw: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        raw.map(|v| {
            serde_json::from_str(&v).map_err(|source| StoreError::BadSetting {
                key: key.into(),
                source,
            })
        })
        .transpose()
    }

    pub async fn set_setting<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(value).map_err(|source| StoreError::BadSetting {
            key: key.into(),
            source,
        })?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(json)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum BindOutcome {
    New,
    Same,
    Other(String),
}

pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What this node decided is synced before a commit returns; what the network can send again
    /// waits for the next checkpoint. Both see the same rows.
    #[tokio::test]
    async fn the_relaxed_pool_skips_the_sync_on_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(FILE_NAME)).await.unwrap();
        let synchronous = |pool: SqlitePool| async move {
            sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        assert_eq!(synchronous(store.pool().clone()).await, 2, "FULL");
        assert_eq!(synchronous(store.relaxed_pool().clone()).await, 1, "NORMAL");
        sqlx::query("INSERT INTO peers (peer_id, first_seen, last_seen) VALUES ('p', 1, 2)")
            .execute(store.relaxed_pool())
            .await
            .unwrap();
        let seen: i64 = sqlx::query_scalar("SELECT last_seen FROM peers WHERE peer_id = 'p'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(seen, 2);
    }

    /// A burst opens connections (a thread, a page cache and an allocator arena each); once the
    /// store is quiet they are closed, and the next query opens one again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_are_closed_and_reopened_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(FILE_NAME)).await.unwrap();
        let count = |pool: SqlitePool| async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM offers")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        let burst: Vec<_> = (0..8)
            .map(|_| tokio::spawn(count(store.pool().clone())))
            .collect();
        for query in burst {
            assert_eq!(query.await.unwrap(), 0);
        }
        assert_eq!(count(store.relaxed_pool().clone()).await, 0);
        assert!(store.pool().size() >= 1 && store.relaxed_pool().size() == 1);

        // The pools' reaper looks every IDLE_CONNECTION and closes what has been idle that long.
        let deadline = std::time::Instant::now() + IDLE_CONNECTION * 3;
        while store.pool().size() + store.relaxed_pool().size() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "connections still open after {:?} idle: {} + {}",
                IDLE_CONNECTION * 3,
                store.pool().size(),
                store.relaxed_pool().size()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(count(store.pool().clone()).await, 0);
        assert_eq!(count(store.relaxed_pool().clone()).await, 0);
    }

    #[tokio::test]
    async fn fresh_database_gets_every_table_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(FILE_NAME)).await.unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            supported_schema_version()
        );
        assert!(supported_schema_version() >= 1);
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(store.pool())
                .await
                .unwrap();
        for t in [
            "identity",
            "messages",
            "offers",
            "peers",
            "settings",
            "trade_events",
            "trades",
        ] {
            assert!(
                tables.iter().any(|n| n == t),
                "missing table {t} in {tables:?}"
            );
        }
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        // Foreign keys are enforced, not just declared.
        let orphan = sqlx::query(
            "INSERT INTO trade_events (trade_id, seq, kind, payload, signer, signature, created_at) \
             VALUES ('nope', 0, 'x', x'00', 'p', x'00', 0)",
        )
        .execute(store.pool())
        .await;
        assert!(orphan.is_err());
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_migrations_run_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = Store::open(&path).await.unwrap();
        store.set_setting("theme", &"dark").await.unwrap();
        assert_eq!(
            store.bind_identity("12D3KooWA").await.unwrap(),
            BindOutcome::New
        );
        store.close().await;

        let store = Store::open(&path).await.unwrap();
        assert_eq!(
            store.setting::<String>("theme").await.unwrap().as_deref(),
            Some("dark")
        );
        assert_eq!(store.setting::<String>("absent").await.unwrap(), None);
        assert_eq!(
            store.bind_identity("12D3KooWA").await.unwrap(),
            BindOutcome::Same
        );
        assert_eq!(
            store.bind_identity("12D3KooWB").await.unwrap(),
            BindOutcome::Other("12D3KooWA".into())
        );
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(applied, MIGRATOR.iter().count() as i64);
    }

    #[tokio::test]
    async fn trade_events_are_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(FILE_NAME)).await.unwrap();
        sqlx::query(
            "INSERT INTO trades (id, offer_id, role, counterparty, state, terms, created_at, updated_at) \
             VALUES ('t1', 'o1', 'maker', 'p', 'Accepted', '{}', 0, 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO trade_events (trade_id, seq, kind, payload, signer, signature, created_at) \
             VALUES ('t1', 0, 'accepted', x'00', 'p', x'00', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let update = sqlx::query("UPDATE trade_events SET kind = 'forged'")
            .execute(store.pool())
            .await;
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = sqlx::query("DELETE FROM trade_events")
            .execute(store.pool())
            .await;
        assert!(delete.unwrap_err().to_string().contains("append-only"));
    }

    #[tokio::test]
    async fn newer_schema_is_refused_and_the_file_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = Store::open(&path).await.unwrap();
        let future = supported_schema_version() + 1;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (?, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
        )
        .bind(future)
        .execute(store.pool())
        .await
        .unwrap();
        store.close().await;
        let before = std::fs::read(&path).unwrap();

        let err = Store::open(&path).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found, supported, .. } if found == future && supported == future - 1),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::NewerSchema);
        assert!(err.to_string().contains("newer than this Souk"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the refused database was modified"
        );
    }
}
