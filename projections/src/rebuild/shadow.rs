//! The shadow schema a rebuild writes its fresh read models into, beside the live one: a
//! sibling MySQL database (`{db}_rebuild`) on the same server, or a sibling SQLite file
//! (`{file}.rebuild`). Both get the read-model migrations, so the projections' own SQL
//! runs there unchanged; the swap reads the shadow's tables from a live connection by
//! qualified name (MySQL: `` `db`.`table` ``; SQLite: the file ATTACHed as `rebuild`).

use crate::error::ProjectionError;
use crate::read_db::open_read_db;
use sqlx::migrate::MigrateDatabase;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection, Executor, MySql};
use std::path::{Path, PathBuf};

const SQLITE_ALIAS: &str = "rebuild";
const SUFFIX: &str = "_rebuild";

enum Location {
    MySql { url: String, database: String },
    Sqlite { path: PathBuf },
}

pub(crate) struct Shadow {
    location: Location,
    pub(crate) pool: AnyPool,
    /// Held while the shadow exists, so a second rebuild cannot drop it under this one.
    lock: RebuildLock,
}

/// One rebuild per read database: a MySQL named lock (released when its connection
/// closes, also when the process dies) or an OS lock on a file beside the SQLite one.
enum RebuildLock {
    MySql { held_by: AnyConnection },
    Sqlite { _held_by: std::fs::File },
}

impl RebuildLock {
    /// Gives the lock back now. Dropping it would too, but a dropped connection is closed
    /// in the background and the server frees the lock only once it notices, so the next
    /// rebuild could still find it taken.
    async fn release(self) -> Result<(), ProjectionError> {
        match self {
            Self::MySql { mut held_by } => {
                sqlx::query("DO RELEASE_LOCK(CONCAT(DATABASE(), '-rebuild'))")
                    .execute(&mut held_by)
                    .await
                    .map_err(ProjectionError::db("release the rebuild lock"))?;
                held_by
                    .close()
                    .await
                    .map_err(ProjectionError::db("close the rebuild lock's connection"))
            }
            Self::Sqlite { .. } => Ok(()),
        }
    }

    async fn take(live_url: &str, location: &Location) -> Result<Self, ProjectionError> {
        match location {
            Location::MySql { .. } => {
                sqlx::any::install_default_drivers();
                let mut connection = AnyConnection::connect(live_url)
                    .await
                    .map_err(ProjectionError::db("connect for the rebuild lock"))?;
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT GET_LOCK(CONCAT(DATABASE(), '-rebuild'), 0)")
                        .fetch_one(&mut connection)
                        .await
                        .map_err(ProjectionError::db("take the rebuild lock"))?;
                if taken != Some(1) {
                    return Err(ProjectionError::RebuildRunning);
                }
                Ok(Self::MySql {
                    held_by: connection,
                })
            }
            Location::Sqlite { path } => {
                let path = with_suffix(path, ".lock");
                let file = std::fs::File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|source| ProjectionError::ShadowFile {
                        path: path.clone(),
                        source,
                    })?;
                match file.try_lock() {
                    Ok(()) => Ok(Self::Sqlite { _held_by: file }),
                    Err(std::fs::TryLockError::WouldBlock) => Err(ProjectionError::RebuildRunning),
                    Err(std::fs::TryLockError::Error(source)) => {
                        Err(ProjectionError::ShadowFile { path, source })
                    }
                }
            }
        }
    }
}

impl Shadow {
    /// Creates the shadow of the read database at `live_url`, empty and migrated. A
    /// shadow left by a rebuild that died is dropped first: it is never read unfinished.
    pub(crate) async fn create(live_url: &str) -> Result<Self, ProjectionError> {
        let location = Location::of(live_url)?;
        let lock = RebuildLock::take(live_url, &location).await?;
        location.remove().await?;
        let pool = open_read_db(&location.url()).await?;
        Ok(Self {
            location,
            pool,
            lock,
        })
    }

    /// `table` of the shadow, as a statement on a live connection names it (after
    /// `attach` on SQLite).
    pub(crate) fn table(&self, table: &str) -> String {
        match &self.location {
            Location::MySql { database, .. } => {
                format!("`{}`.`{table}`", database.replace('`', "``"))
            }
            Location::Sqlite { .. } => format!("{SQLITE_ALIAS}.{table}"),
        }
    }

    /// Makes the shadow readable from `connection` (SQLite ATTACH; nothing on MySQL,
    /// where one server holds both). Not inside a transaction: SQLite refuses that.
    pub(crate) async fn attach(
        &self,
        connection: &mut AnyConnection,
    ) -> Result<(), ProjectionError> {
        if let Location::Sqlite { path } = &self.location {
            let statement = format!(
                "ATTACH DATABASE '{}' AS {SQLITE_ALIAS}",
                path.display().to_string().replace('\'', "''")
            );
            connection
                .execute(AssertSqlSafe(statement))
                .await
                .map_err(ProjectionError::db("attach the rebuilt read models"))?;
        }
        Ok(())
    }

    pub(crate) async fn detach(
        &self,
        connection: &mut AnyConnection,
    ) -> Result<(), ProjectionError> {
        if let Location::Sqlite { .. } = &self.location {
            connection
                .execute(AssertSqlSafe(format!("DETACH DATABASE {SQLITE_ALIAS}")))
                .await
                .map_err(ProjectionError::db("detach the rebuilt read models"))?;
        }
        Ok(())
    }

    /// Closes and deletes the shadow, then gives the rebuild lock back.
    pub(crate) async fn remove(self) -> Result<(), ProjectionError> {
        self.pool.close().await;
        self.location.remove().await?;
        self.lock.release().await
    }
}

impl Location {
    fn of(live_url: &str) -> Result<Self, ProjectionError> {
        let unsupported = || ProjectionError::UnsupportedUrl(live_url.to_owned());
        if let Some(rest) = live_url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path.starts_with(':') {
                // An in-memory database has no sibling to build beside it.
                return Err(unsupported());
            }
            return Ok(Self::Sqlite {
                path: PathBuf::from(format!("{path}.rebuild")),
            });
        }
        let mut url = url::Url::parse(live_url).map_err(|_| unsupported())?;
        if !matches!(url.scheme(), "mysql" | "mariadb") {
            return Err(unsupported());
        }
        let live = url.path().trim_start_matches('/').to_owned();
        if live.is_empty() {
            return Err(unsupported());
        }
        let database = format!("{live}{SUFFIX}");
        url.set_path(&format!("/{database}"));
        Ok(Self::MySql {
            url: url.to_string(),
            database,
        })
    }

    fn url(&self) -> String {
        match self {
            Self::MySql { url, .. } => url.clone(),
            Self::Sqlite { path } => format!("sqlite://{}", path.display()),
        }
    }

    async fn remove(&self) -> Result<(), ProjectionError> {
        match self {
            Self::MySql { url, .. } => {
                sqlx::any::install_default_drivers();
                if MySql::database_exists(url)
                    .await
                    .map_err(ProjectionError::db("look for a leftover rebuild database"))?
                {
                    MySql::drop_database(url)
                        .await
                        .map_err(ProjectionError::db("drop the rebuild database"))?;
                }
                Ok(())
            }
            Self::Sqlite { path } => {
                for file in [
                    path.clone(),
                    with_suffix(path, "-wal"),
                    with_suffix(path, "-shm"),
                ] {
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => {
                            return Err(ProjectionError::ShadowFile { path: file, source });
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot set itself up should fail loudly
mod tests {
    use super::*;

    #[test]
    fn a_mysql_shadow_is_a_sibling_database_with_the_same_credentials() {
        let Ok(Location::MySql { url, database }) =
            Location::of("mysql://shop:secret@127.0.0.1:3306/shop_test?ssl-mode=disabled")
        else {
            panic!("a MySQL URL gives a MySQL shadow");
        };
        assert_eq!(database, "shop_test_rebuild");
        assert_eq!(
            url,
            "mysql://shop:secret@127.0.0.1:3306/shop_test_rebuild?ssl-mode=disabled"
        );
    }

    #[test]
    fn a_sqlite_shadow_is_a_sibling_file() {
        let Ok(location) = Location::of("sqlite:///data/shop-read.db?mode=rwc") else {
            panic!("a SQLite URL gives a SQLite shadow");
        };
        assert_eq!(location.url(), "sqlite:///data/shop-read.db.rebuild");
    }

    /// While one rebuild holds its shadow, a second is refused instead of dropping it;
    /// once the first is done, the next one may start.
    async fn assert_one_rebuild_at_a_time(live_url: &str) {
        let first = Shadow::create(live_url).await.unwrap();
        assert!(matches!(
            Shadow::create(live_url).await,
            Err(ProjectionError::RebuildRunning)
        ));
        first.remove().await.unwrap();
        Shadow::create(live_url)
            .await
            .unwrap()
            .remove()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn one_rebuild_at_a_time_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let live_url = format!("sqlite://{}", dir.path().join("read.db").display());
        assert_one_rebuild_at_a_time(&live_url).await;
        assert!(!dir.path().join("read.db.rebuild").exists());
    }

    #[tokio::test]
    async fn one_rebuild_at_a_time_on_mysql() {
        let server = std::env::var("SHOP_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://shop:shop@127.0.0.1:3306".to_owned());
        let live_url = format!("{server}/shop_t_{}", uuid::Uuid::new_v4().simple());
        open_read_db(&live_url).await.unwrap();
        assert_one_rebuild_at_a_time(&live_url).await;
    }

    #[test]
    fn databases_without_a_sibling_are_refused() {
        for url in [
            "sqlite::memory:",
            "mysql://127.0.0.1:3306",
            "postgres://h/db",
        ] {
            assert!(
                matches!(Location::of(url), Err(ProjectionError::UnsupportedUrl(_))),
                "{url}"
            );
        }
    }
}
