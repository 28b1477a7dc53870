//! The shadow schema a rebuild writes its fresh read models into, beside the live one: a
//! sibling MySQL database (`{db}_rebuild`) on the same server, or a sibling SQLite file
//! (`{file}.rebuild`). Both get the read-model migrations, so the projections' own SQL
//! runs there unchanged; the swap reads the shadow's tables from a live connection by
//! qualified name (MySQL: `` `db`.`table` ``; SQLite: the file ATTACHed as `rebuild`).

use crate::error::ProjectionError;
use crate::read_db::open_read_db;
use sqlx::migrate::MigrateDatabase;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Executor, MySql};
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
}

impl Shadow {
    /// Creates the shadow of the read database at `live_url`, empty and migrated. A
    /// shadow left by a rebuild that died is dropped first: it is never read unfinished.
    pub(crate) async fn create(live_url: &str) -> Result<Self, ProjectionError> {
        let location = Location::of(live_url)?;
        location.remove().await?;
        let pool = open_read_db(&location.url()).await?;
        Ok(Self { location, pool })
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

    /// Closes and deletes the shadow.
    pub(crate) async fn remove(self) -> Result<(), ProjectionError> {
        self.pool.close().await;
        self.location.remove().await
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
