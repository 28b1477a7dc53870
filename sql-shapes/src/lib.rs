//! Multi-row SQL statements in a few fixed shapes.
//!
//! sqlx prepares each distinct SQL text once per connection and keeps it in an LRU cache.
//! A statement whose text follows the batch (an `IN (...)` list of the batch's ids, an
//! INSERT of its rows) has a new text for almost every batch: MariaDB prepares it again,
//! pushes cached statements out, and on MySQL closing the evicted one (which gets no reply)
//! can stall the next command by a delayed ACK. So:
//! - `IN (...)` lists are padded to a few lengths by repeating their last item, which
//!   changes no answer ([`padded`]);
//! - INSERTs, which cannot repeat a row, are cut into chunks of a few sizes, either largest
//!   first ([`largest_first`], many statements of few shapes) or as a multiple of a step and
//!   a remainder ([`stepped`], at most two statements per chunk).
//!
//! Used by the event store's appender (`event-store/src/shapes.rs`) and the projectors
//! (`projections/src/bulk.rs`), each with its own sizes.
//!
//! ```
//! let ids = [1, 2, 3];
//! let list: Vec<_> = sql_shapes::padded(&ids, &[1, 4, 16]).copied().collect();
//! assert_eq!(list, [1, 2, 3, 3]);
//! ```

/// `items` padded to the first of `lengths` (ascending) that holds them, by repeating the
/// last item; as they are if none does. Empty stays empty.
pub fn padded<'a, T>(items: &'a [T], lengths: &[usize]) -> impl Iterator<Item = &'a T> {
    let length = lengths
        .iter()
        .copied()
        .find(|length| *length >= items.len())
        .unwrap_or(items.len());
    let last = items.last();
    items
        .iter()
        .chain(std::iter::repeat_n(last, length - items.len()).flatten())
}

/// `items` in consecutive chunks whose lengths are all in `sizes` (descending, ending in 1
/// so that every count splits), each the largest that fits.
pub fn largest_first<'a, T>(
    mut items: &'a [T],
    sizes: &'static [usize],
) -> impl Iterator<Item = &'a [T]> {
    debug_assert_eq!(sizes.last(), Some(&1), "sizes must end in 1");
    std::iter::from_fn(move || {
        let size = sizes.iter().copied().find(|size| *size <= items.len())?;
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

/// `rows` in chunks of at most `max` rows, each split into a multiple of `step` rows and
/// the remainder below `step`: at most two statements per chunk, of at most
/// [`stepped_shapes`]`(max, step)` sizes in all. In order, and every row exactly once.
pub fn stepped<T>(rows: &[T], max: usize, step: usize) -> impl Iterator<Item = &[T]> {
    rows.chunks(max).flat_map(move |chunk| {
        let (whole, rest) = chunk.split_at(chunk.len() - chunk.len() % step);
        [whole, rest].into_iter().filter(|part| !part.is_empty())
    })
}

/// How many distinct chunk sizes [`stepped`] can yield.
pub const fn stepped_shapes(max: usize, step: usize) -> usize {
    max / step + step
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const LENGTHS: [usize; 5] = [1, 4, 16, 64, 200];

    #[test]
    fn lists_are_padded_with_their_last_item_to_a_fixed_length() {
        assert_eq!(padded::<u8>(&[], &LENGTHS).count(), 0);
        assert_eq!(padded(&[7], &LENGTHS).copied().collect::<Vec<_>>(), [7]);
        assert_eq!(
            padded(&[7, 8], &LENGTHS).copied().collect::<Vec<_>>(),
            [7, 8, 8, 8]
        );
        let lengths: BTreeSet<usize> = (1..=200)
            .map(|n| padded(&vec![0; n], &LENGTHS).count())
            .collect();
        assert_eq!(lengths.into_iter().collect::<Vec<_>>(), LENGTHS);
        assert_eq!(
            padded(&[0; 300], &LENGTHS).count(),
            300,
            "too long: as it is"
        );
    }

    #[test]
    fn largest_first_covers_every_item_in_order_with_known_sizes() {
        const SIZES: &[usize] = &[256, 64, 8, 1];
        for n in 0..600 {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = largest_first(&items, SIZES).collect();
            assert!(chunks.iter().all(|c| SIZES.contains(&c.len())), "{n}");
            let joined: Vec<usize> = chunks.concat();
            assert_eq!(joined, items, "{n} items");
        }
        let sizes: Vec<usize> = largest_first(&[(); 330], SIZES).map(<[()]>::len).collect();
        assert_eq!(sizes, [256, 64, 8, 1, 1]);
    }

    #[test]
    fn stepped_covers_every_row_once_in_order() {
        for n in 0..1_100 {
            let rows: Vec<usize> = (0..n).collect();
            let joined: Vec<usize> = stepped(&rows, 500, 16).flatten().copied().collect();
            assert_eq!(joined, rows, "{n} rows");
        }
    }

    #[test]
    fn stepped_takes_at_most_two_statements_per_chunk_and_few_shapes() {
        let mut sizes = BTreeSet::new();
        for n in 1..=500 {
            let rows = vec![(); n];
            let parts: Vec<usize> = stepped(&rows, 500, 16).map(<[()]>::len).collect();
            assert!(parts.len() <= 2, "{n} rows took {parts:?}");
            assert!(
                parts.iter().all(|&len| len < 16 || len % 16 == 0),
                "{parts:?}"
            );
            sizes.extend(parts);
        }
        assert!(
            sizes.len() <= stepped_shapes(500, 16),
            "{} shapes",
            sizes.len()
        );
    }
}
