//! Row chunks of a few fixed sizes, so a multi-row statement comes in few shapes.
//!
//! sqlx prepares each distinct SQL text once per connection and caches it (LRU). A
//! multi-row INSERT of exactly the group's row count has a new text for almost every
//! group, so most groups paid a server-side prepare of a statement with hundreds of
//! placeholders (about a tenth of MariaDB's CPU per order, docs/performance.md). Split as
//! a multiple of `STEP` and a remainder below it, a batch of up to `max` rows takes at
//! most two statements, of at most `max / STEP + STEP` shapes in all, which stay cached.
//! `IN (...)` lists are padded to a few lengths instead, by repeating their last item.
//!
//! The projectors do the same for their statements in `projections/src/bulk.rs` (largest-
//! first chunks of 256/64/8/1 rows); the two crates share no lower crate for SQL helpers.
//! The appender's INSERTs run inside the serial writer's transaction, so they take at most
//! two statements rather than that scheme's up to fourteen.

/// The granularity of a chunk's size.
pub(crate) const STEP: usize = 16;

/// `rows` in chunks of at most `max` rows, each split into a multiple of `STEP` rows and
/// the remainder; in order, and every row exactly once.
pub(crate) fn chunks<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    rows.chunks(max).flat_map(|chunk| {
        let (whole, rest) = chunk.split_at(chunk.len() - chunk.len() % STEP);
        [whole, rest].into_iter().filter(|part| !part.is_empty())
    })
}

/// Lengths an `IN (...)` list is padded to; the last is the most items per statement.
const LIST_LENGTHS: [usize; 6] = [1, 4, 16, 64, 256, 1_024];
pub(crate) const MAX_LIST: usize = LIST_LENGTHS[LIST_LENGTHS.len() - 1];

/// `items` (at most `MAX_LIST`) padded to the next of `LIST_LENGTHS` by repeating the last
/// one, which changes no answer of an `IN (...)`.
pub(crate) fn padded<T>(items: &[T]) -> impl Iterator<Item = &T> {
    let length = LIST_LENGTHS
        .iter()
        .copied()
        .find(|length| *length >= items.len())
        .unwrap_or(items.len());
    let last = items.last();
    items
        .iter()
        .chain(std::iter::repeat_n(last, length - items.len()).flatten())
}

/// How many distinct statements `padded` lists come in.
pub(crate) const LIST_SHAPES: usize = LIST_LENGTHS.len();

/// How many distinct chunk sizes `chunks` can yield for at most `max` rows per chunk.
pub(crate) const fn shapes(max: usize) -> usize {
    max / STEP + STEP
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn lists_are_padded_with_their_last_item_to_a_fixed_length() {
        assert_eq!(padded::<u8>(&[]).count(), 0);
        assert_eq!(padded(&[7]).copied().collect::<Vec<_>>(), [7]);
        assert_eq!(padded(&[7, 8]).copied().collect::<Vec<_>>(), [7, 8, 8, 8]);
        let lengths: BTreeSet<usize> = (1..=MAX_LIST)
            .map(|n| padded(&vec![0; n]).count())
            .collect();
        assert_eq!(lengths.into_iter().collect::<Vec<_>>(), LIST_LENGTHS);
    }

    #[test]
    fn every_row_once_in_order() {
        for n in 0..1_100 {
            let rows: Vec<usize> = (0..n).collect();
            let joined: Vec<usize> = chunks(&rows, 500).flatten().copied().collect();
            assert_eq!(joined, rows, "{n} rows");
        }
    }

    #[test]
    fn at_most_two_statements_per_full_chunk_and_few_shapes() {
        let mut sizes = BTreeSet::new();
        for n in 1..=500 {
            let rows = vec![(); n];
            let parts: Vec<usize> = chunks(&rows, 500).map(<[()]>::len).collect();
            assert!(parts.len() <= 2, "{n} rows took {parts:?}");
            assert!(
                parts.iter().all(|&len| len < STEP || len % STEP == 0),
                "{parts:?}"
            );
            sizes.extend(parts);
        }
        assert!(sizes.len() <= shapes(500), "{} shapes", sizes.len());
    }
}
