//! The in-memory gram index a query API process searches: every product's folded name,
//! and for each gram (a character or a pair of adjacent characters, see
//! `events::search_text`) the products whose name has it, in the order they were added.
//! Pure: `search_follow` fills it from the search projection's table.
//!
//! Why in memory rather than SQL over a gram table: a word shared by thousands of names
//! (`라떼` is in 5 % of the benchmark catalog) makes any SQL plan fetch and rank thousands of
//! rows for one page and its total; that measured 10 to 30 ms per query in SQLite, here it
//! is a scan of one sorted list (docs/performance.md, "Product search").

use events::search_text::{FoldedName, SearchQuery, name_grams};
use std::collections::HashMap;

struct Doc {
    product_id: i64,
    name: FoldedName,
}

/// One page of a search: the product ids, best first, and how many match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hits {
    pub(crate) product_ids: Vec<i64>,
    pub(crate) total: usize,
}

#[derive(Default)]
pub(crate) struct Index {
    /// The copy of the table this index follows (`search_head.generation`); `None` before
    /// the first load.
    pub(crate) generation: Option<String>,
    /// The highest `seq` added.
    pub(crate) seq: i64,
    docs: Vec<Doc>,
    /// Doc numbers per gram, ascending (docs are only appended).
    postings: HashMap<String, Vec<u32>>,
}

impl Index {
    pub(crate) fn new(generation: String) -> Self {
        Self {
            generation: Some(generation),
            ..Self::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.docs.len()
    }

    pub(crate) fn add(&mut self, product_id: i64, name: FoldedName, seq: i64) {
        // Doc numbers are u32 to halve the postings; four billion products is not a catalog.
        let Ok(doc) = u32::try_from(self.docs.len()) else {
            return;
        };
        for gram in name_grams(&name.compact) {
            self.postings.entry(gram).or_default().push(doc);
        }
        self.docs.push(Doc { product_id, name });
        self.seq = self.seq.max(seq);
    }

    /// The page `offset..offset + size` of the products matching `query`, ranked by
    /// (`SearchQuery::tier`, name length, product id).
    pub(crate) fn search(&self, query: &SearchQuery, offset: usize, size: usize) -> Hits {
        let mut lists = Vec::new();
        for gram in query.grams() {
            match self.postings.get(&gram) {
                Some(list) => lists.push(list.as_slice()),
                // A gram no name has: nothing can match.
                None => return Hits::default(),
            }
        }
        lists.sort_by_key(|list| list.len());
        let Some((shortest, others)) = lists.split_first() else {
            return Hits::default();
        };
        let mut ranked: Vec<(u8, i64, i64)> = shortest
            .iter()
            .filter(|doc| others.iter().all(|list| list.binary_search(doc).is_ok()))
            .filter_map(|doc| self.docs.get(usize::try_from(*doc).ok()?))
            .filter(|doc| query.matches(&doc.name))
            .map(|doc| (query.tier(&doc.name), doc.name.chars, doc.product_id))
            .collect();
        let total = ranked.len();
        let end = offset.saturating_add(size).min(total);
        if offset >= end {
            return Hits {
                product_ids: Vec::new(),
                total,
            };
        }
        // Only the first `end` need sorting: partition around the last of them first.
        if end < total {
            ranked.select_nth_unstable(end - 1);
            ranked.truncate(end);
        }
        ranked.sort_unstable();
        Hits {
            product_ids: ranked[offset..].iter().map(|(_, _, id)| *id).collect(),
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::search_text::fold_name;

    fn index(names: &[&str]) -> Index {
        let mut index = Index::new("g".to_owned());
        for (id, name) in (1..).zip(names) {
            index.add(id, fold_name(name), id);
        }
        index
    }

    fn search(index: &Index, q: &str, offset: usize, size: usize) -> (Vec<i64>, usize) {
        let hits = index.search(&SearchQuery::parse(q).unwrap(), offset, size);
        (hits.product_ids, hits.total)
    }

    const NAMES: [&str; 6] = [
        "라떼",
        "카페라떼",
        "바닐라 라떼",
        "latte",
        "Latte Macchiato",
        "바닐라 Latte",
    ];

    #[test]
    fn matches_rank_by_tier_then_length_then_id() {
        let index = index(&NAMES);
        assert_eq!(search(&index, "라떼", 0, 20), (vec![1, 3, 2], 3));
        assert_eq!(search(&index, "latt", 0, 20), (vec![4, 5, 6], 3));
        assert_eq!(search(&index, "바닐라 latte", 0, 20), (vec![6], 1));
        assert_eq!(search(&index, "라", 0, 20), (vec![1, 3, 2, 6], 4));
        assert_eq!(search(&index, "mocha", 0, 20), (vec![], 0));
        assert_eq!(search(&index, "페라카", 0, 20), (vec![], 0));
    }

    #[test]
    fn having_every_gram_is_not_enough() {
        // 라떼 and 떼라 are both in 라떼떼라, `라떼라` is not.
        let index = index(&["라떼떼라", "라떼라"]);
        assert_eq!(search(&index, "라떼라", 0, 20), (vec![2], 1));
    }

    #[test]
    fn equal_keys_go_by_product_id() {
        let index = index(&["latte", "latte", "latte"]);
        assert_eq!(search(&index, "latte", 0, 20), (vec![1, 2, 3], 3));
    }

    #[test]
    fn pages_cut_the_same_order() {
        let index = index(&NAMES);
        assert_eq!(search(&index, "라", 0, 2), (vec![1, 3], 4));
        assert_eq!(search(&index, "라", 2, 2), (vec![2, 6], 4));
        assert_eq!(search(&index, "라", 3, 5), (vec![6], 4));
        assert_eq!(search(&index, "라", 4, 5), (vec![], 4));
        assert_eq!(search(&index, "라", usize::MAX, 5), (vec![], 4));
    }

    #[test]
    fn the_index_remembers_its_highest_seq() {
        let mut index = index(&NAMES);
        assert_eq!((index.len(), index.seq), (6, 6));
        index.add(7, fold_name("라떼 2"), 9);
        assert_eq!(index.seq, 9);
        assert_eq!(search(&index, "라떼", 0, 20), (vec![1, 7, 3, 2], 4));
    }
}
