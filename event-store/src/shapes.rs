//! Row chunks of a few fixed sizes, so a multi-row statement comes in few shapes.
//!
//! sqlx prepares each distinct SQL text once per connection and caches it (LRU). A
//! multi-row INSERT of exactly the group's row count has a new text for almost every
//! group, so most groups paid a server-side prepare of a statement with hundreds of
//! placeholders (about a tenth of MariaDB's CPU per order, docs/performance.md). Split as
//! a multiple of `STEP` and a remainder below it, a batch of up to `max` rows takes at
//! most two statements, of at most `max / STEP + STEP` shapes in all, which stay cached.

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

/// How many distinct chunk sizes `chunks` can yield for at most `max` rows per chunk.
pub(crate) const fn shapes(max: usize) -> usize {
    max / STEP + STEP
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
