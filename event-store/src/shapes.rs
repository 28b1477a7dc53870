//! The appender's statement shapes (`sql_shapes` says why they are fixed).
//!
//! Its multi-row INSERTs run inside the serial writer's transaction, so each chunk of up to
//! `max` rows goes as a multiple of `STEP` rows and a remainder: at most two statements,
//! of at most `max / STEP + STEP` shapes in all, which stay cached on its own connection.
//! The projectors (`projections/src/bulk.rs`) cut largest-first instead, in more
//! statements of fewer shapes. `IN (...)` lists are padded to a few lengths.

/// The granularity of a chunk's size.
pub(crate) const STEP: usize = 16;

/// `rows` in chunks of at most `max` rows, each split into a multiple of `STEP` rows and
/// the remainder; in order, and every row exactly once.
pub(crate) fn chunks<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    sql_shapes::stepped(rows, max, STEP)
}

/// Lengths an `IN (...)` list is padded to; the last is the most items per statement.
const LIST_LENGTHS: [usize; 6] = [1, 4, 16, 64, 256, 1_024];
pub(crate) const MAX_LIST: usize = LIST_LENGTHS[LIST_LENGTHS.len() - 1];

/// `items` (at most `MAX_LIST`) padded to the next of `LIST_LENGTHS` by repeating the last
/// one, which changes no answer of an `IN (...)`.
pub(crate) fn padded<T>(items: &[T]) -> impl Iterator<Item = &T> {
    sql_shapes::padded(items, &LIST_LENGTHS)
}

/// How many distinct statements `padded` lists come in.
pub(crate) const LIST_SHAPES: usize = LIST_LENGTHS.len();

/// How many distinct chunk sizes `chunks` can yield for at most `max` rows per chunk.
pub(crate) const fn shapes(max: usize) -> usize {
    sql_shapes::stepped_shapes(max, STEP)
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
