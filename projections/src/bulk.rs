//! Many rows per statement, in a few fixed statement shapes (`sql_shapes` says why): lists
//! padded to fixed lengths (where repeating an item changes nothing) and inserts, which
//! cannot repeat a row, in chunks of fixed sizes, largest first.

use crate::error::ProjectionError;
use sqlx::query_builder::Separated;
use sqlx::{Any, AnyConnection, QueryBuilder};

/// List lengths a statement is padded to; the last is the most items per statement, well
/// under SQLite's and MySQL's limits on bound parameters.
const LIST_LENGTHS: [usize; 5] = [1, 4, 16, 64, 200];
pub(crate) const MAX_LIST: usize = LIST_LENGTHS[LIST_LENGTHS.len() - 1];

/// Rows per multi-row INSERT, largest first. Ends in 1, so every count splits into them;
/// 256 rows of a few columns stay far below the bound-parameter limits.
const INSERT_CHUNKS: &[usize] = &[256, 64, 8, 1];

/// `items` padded to the next of `LIST_LENGTHS` by repeating its last element.
pub(crate) fn padded<T>(items: &[T]) -> impl Iterator<Item = &T> {
    sql_shapes::padded(items, &LIST_LENGTHS)
}

/// Splits `items` into consecutive chunks whose lengths are all in `INSERT_CHUNKS`.
pub(crate) fn insert_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    sql_shapes::largest_first(items, INSERT_CHUNKS)
}

/// Rows a statement is limited to besides its key: `(column, value)` for `column = value`
/// (a table keyed by more than one column, such as a day and a product).
pub(crate) type Scope<'a> = Option<(&'static str, &'a str)>;

/// Pushes `{column} = ? AND ` for a scope.
fn push_scope(query: &mut QueryBuilder<Any>, scope: Scope<'_>) {
    if let Some((column, value)) = scope {
        query
            .push(format!("{column} = "))
            .push_bind(value.to_owned())
            .push(" AND ");
    }
}

/// `UPDATE {table} SET {column} = {column} + delta WHERE {key} = id` for every
/// `(id, delta)` (within `scope`), a list per statement. Ids must be distinct (sum deltas
/// first); an id without a row changes nothing, as a single-row UPDATE would.
pub(crate) async fn add_by_key(
    conn: &mut AnyConnection,
    table: &'static str,
    key: &'static str,
    column: &'static str,
    scope: Scope<'_>,
    deltas: &[(i64, i64)],
    operation: &'static str,
) -> Result<(), ProjectionError> {
    for chunk in deltas.chunks(MAX_LIST) {
        let mut query =
            QueryBuilder::<Any>::new(format!("UPDATE {table} SET {column} = {column} +"));
        push_case(&mut query, key, chunk, |query, delta| {
            query.push_bind(*delta);
        });
        query.push(" END WHERE ");
        push_scope(&mut query, scope);
        push_in(&mut query, key, chunk);
        query
            .build()
            .execute(&mut *conn)
            .await
            .map_err(ProjectionError::db(operation))?;
    }
    Ok(())
}

/// Pushes ` CASE {key} WHEN id THEN … ` for each `(id, value)` of `chunk` (padded), `then`
/// pushing the value's expression; the caller closes it (` END`, ` ELSE {column} END`).
/// A padded pair repeats the last one, and CASE takes the first match, so it counts once.
pub(crate) fn push_case<V>(
    query: &mut QueryBuilder<Any>,
    key: &str,
    chunk: &[(i64, V)],
    mut then: impl FnMut(&mut QueryBuilder<Any>, &V),
) {
    query.push(format!(" CASE {key}"));
    for (id, value) in padded(chunk) {
        query.push(" WHEN ").push_bind(*id).push(" THEN ");
        then(query, value);
    }
}

/// Pushes `{key} IN (…)` with the ids of `chunk` (padded).
pub(crate) fn push_in<V>(query: &mut QueryBuilder<Any>, key: &str, chunk: &[(i64, V)]) {
    query.push(format!("{key} IN ("));
    let mut list = query.separated(", ");
    for (id, _) in padded(chunk) {
        list.push_bind(*id);
    }
    query.push(")");
}

/// Which of `ids` (distinct) have a row in `table` (within `scope`).
pub(crate) async fn existing_keys(
    conn: &mut AnyConnection,
    table: &'static str,
    key: &'static str,
    scope: Scope<'_>,
    ids: &[i64],
    operation: &'static str,
) -> Result<Vec<i64>, ProjectionError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(MAX_LIST) {
        let mut query = QueryBuilder::<Any>::new(format!("SELECT {key} FROM {table} WHERE "));
        push_scope(&mut query, scope);
        query.push(format!("{key} IN ("));
        let mut list = query.separated(", ");
        for id in padded(chunk) {
            list.push_bind(*id);
        }
        query.push(")");
        let rows: Vec<(i64,)> = query
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(ProjectionError::db(operation))?;
        found.extend(rows.into_iter().map(|(id,)| id));
    }
    Ok(found)
}

/// Inserts `rows` with `head` (`INSERT INTO t (a, b) `) in fixed-size chunks; `bind`
/// pushes one row's values, which must be the same number of binds for every row.
pub(crate) async fn insert_rows<T>(
    conn: &mut AnyConnection,
    head: &'static str,
    rows: &[T],
    mut bind: impl FnMut(Separated<'_, Any, &'static str>, &T),
    operation: &'static str,
) -> Result<(), ProjectionError> {
    for chunk in insert_chunks(rows) {
        let mut query = QueryBuilder::<Any>::new(head);
        query.push_values(chunk, &mut bind);
        query
            .build()
            .execute(&mut *conn)
            .await
            .map_err(ProjectionError::db(operation))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_padded_to_fixed_lengths_with_the_last_item() {
        let padded_to = |n: usize| padded(&(0..n).collect::<Vec<_>>()).count();
        assert_eq!(padded_to(1), 1);
        assert_eq!(padded_to(3), 4);
        assert_eq!(padded_to(17), 64);
        assert_eq!(padded_to(200), 200);
        let items = [7, 8, 9];
        assert_eq!(padded(&items).copied().collect::<Vec<_>>(), [7, 8, 9, 9]);
    }

    #[test]
    fn inserts_split_into_fixed_chunk_sizes_in_order() {
        let sizes = |n: usize| {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = insert_chunks(&items).collect();
            assert_eq!(chunks.concat(), items);
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(75), [64, 8, 1, 1, 1]);
        assert_eq!(sizes(1000), [256, 256, 256, 64, 64, 64, 8, 8, 8, 8, 8]);
    }
}
