//! The in-memory gram index a query API process searches: every product's folded name,
//! and for each gram (a character or a pair of adjacent characters, see
//! `events::search_text`) the products whose name has it, in the order they were added.
//! Pure: `search_follow` fills it from the search projection's table.
//!
//! Why in memory rather than SQL over a gram table: a word shared by thousands of names
//! (`라떼` is in 5 % of the benchmark catalog) makes any SQL plan fetch and rank thousands of
//! rows for one page and its total; that measured 10 to 30 ms per query in SQLite, here it
//! is a scan of one sorted list (docs/performance.md, "Product search").

use events::search_text::{FoldedName, GramPlaces, SearchQuery, name_grams};

use std::collections::HashMap;

/// A posting: the doc number shifted left by two, and where the gram is in that name
/// (`AT_START`, `AT_WORD_START`), so a one-gram query ranks without reading the name.
/// Postings stay sorted by doc, since docs are only appended.
type Posting = u32;
const AT_START: Posting = 1;
const AT_WORD_START: Posting = 2;
const DOC_SHIFT: u32 = 2;

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
    /// Per doc: the name length and product id, the tie-breaks of the rank.
    keys: Vec<(i64, i64)>,
    /// Every doc's compact and spaced name, one after another in doc order, and where
    /// each begins and ends: a scan of a posting list walks them forward instead of
    /// chasing two allocations per candidate.
    compact: String,
    spaced: String,
    spans: Vec<(usize, usize, usize, usize)>,
    postings: HashMap<String, Vec<Posting>>,
}

impl Index {
    pub(crate) fn new(generation: String) -> Self {
        Self {
            generation: Some(generation),
            ..Self::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Doc `doc`'s compact and spaced name.
    fn name(&self, doc: usize) -> Option<(&str, &str)> {
        let &(compact_at, compact_end, spaced_at, spaced_end) = self.spans.get(doc)?;
        Some((
            self.compact.get(compact_at..compact_end)?,
            self.spaced.get(spaced_at..spaced_end)?,
        ))
    }

    pub(crate) fn add(&mut self, product_id: i64, name: FoldedName, seq: i64) {
        // A billion products is not a catalog; past it names are not indexed.
        let Some(doc) = u32::try_from(self.keys.len())
            .ok()
            .filter(|doc| doc.leading_zeros() >= DOC_SHIFT)
        else {
            return;
        };
        for (gram, places) in name_grams(&name) {
            self.postings
                .entry(gram)
                .or_default()
                .push(posting(doc, places));
        }
        self.keys.push((name.chars, product_id));
        let (compact_at, spaced_at) = (self.compact.len(), self.spaced.len());
        self.compact.push_str(&name.compact);
        self.spaced.push_str(&name.spaced);
        self.spans
            .push((compact_at, self.compact.len(), spaced_at, self.spaced.len()));
        self.seq = self.seq.max(seq);
    }

    /// The page `offset..offset + size` of the products matching `query`, ranked by
    /// (`SearchQuery::tier`, name length, product id).
    pub(crate) fn search(&self, query: &SearchQuery, offset: usize, size: usize) -> Hits {
        let ranked = match query.terms.as_slice() {
            [term] if term.chars().count() <= 2 => self.one_gram(term),
            _ => self.verified(query),
        };
        page(ranked, offset, size)
    }

    /// A single term of one or two characters is one gram: its postings are exactly the
    /// matches, and say where in each name it is.
    fn one_gram(&self, term: &str) -> Vec<(u8, i64, i64)> {
        let Some(list) = self.postings.get(term) else {
            return Vec::new();
        };
        let length = i64::try_from(term.chars().count()).unwrap_or(i64::MAX);
        list.iter()
            .filter_map(|entry| {
                let &(chars, product_id) = self.keys.get(doc_of(*entry))?;
                let tier = if entry & AT_START != 0 {
                    if chars == length { 0 } else { 1 }
                } else if entry & AT_WORD_START != 0 {
                    2
                } else {
                    3
                };
                Some((tier, chars, product_id))
            })
            .collect()
    }

    /// Anything longer: the docs in the query's rarest grams' lists (the shortest list,
    /// narrowed by the next `NARROW_BY` shortest), each checked against the terms.
    /// Narrowing is integer work on sorted lists; checking a name reads it from wherever
    /// it lies in memory, which is what a scan of a long list spent its time on.
    fn verified(&self, query: &SearchQuery) -> Vec<(u8, i64, i64)> {
        let mut lists: Vec<&[Posting]> = Vec::new();
        for gram in query.grams() {
            match self.postings.get(&gram) {
                Some(list) => lists.push(list.as_slice()),
                // A gram no name has: nothing can match.
                None => return Vec::new(),
            }
        }
        lists.sort_unstable_by_key(|list| list.len());
        let Some((shortest, others)) = lists.split_first() else {
            return Vec::new();
        };
        let mut docs: Vec<usize> = shortest.iter().map(|entry| doc_of(*entry)).collect();
        for other in others.iter().take(NARROW_BY) {
            docs = intersect(&docs, other);
            if docs.is_empty() {
                return Vec::new();
            }
        }
        let docs = docs.into_iter();
        match query.terms.as_slice() {
            // One term, the whole query: one substring search ranks it too.
            [term] if *term == query.compact => {
                let word_start = format!(" {term}");
                docs.filter_map(|doc| {
                    let (compact, spaced) = self.name(doc)?;
                    let at = compact.find(term.as_str())?;
                    let tier = match at {
                        0 if compact.len() == term.len() => 0,
                        0 => 1,
                        _ if spaced.contains(word_start.as_str()) => 2,
                        _ => 3,
                    };
                    let &(chars, product_id) = self.keys.get(doc)?;
                    Some((tier, chars, product_id))
                })
                .collect()
            }
            _ => docs
                .filter_map(|doc| {
                    let (compact, spaced) = self.name(doc)?;
                    if !query.matches_compact(compact) {
                        return None;
                    }
                    let &(chars, product_id) = self.keys.get(doc)?;
                    Some((query.tier_of(compact, spaced), chars, product_id))
                })
                .collect(),
        }
    }
}

/// How many lists besides the shortest narrow the candidates before names are read.
const NARROW_BY: usize = 2;

/// The docs of `docs` (ascending) that `list` (sorted by doc) has too. Gallops through
/// `list`, so a short `docs` costs its length times the log of the gap, not `list`'s length.
fn intersect(docs: &[usize], list: &[Posting]) -> Vec<usize> {
    let mut kept = Vec::with_capacity(docs.len());
    let mut rest = list;
    for &doc in docs {
        // Grow a step until it passes `doc`, then search inside the last step.
        let mut step = 1;
        while step < rest.len() && doc_of(rest[step]) < doc {
            step *= 2;
        }
        let window = &rest[..rest.len().min(step + 1)];
        let at = window.partition_point(|entry| doc_of(*entry) < doc);
        rest = &rest[at..];
        match rest.first() {
            Some(entry) if doc_of(*entry) == doc => kept.push(doc),
            Some(_) => {}
            None => break,
        }
    }
    kept
}

fn posting(doc: u32, places: GramPlaces) -> Posting {
    let mut entry = doc << DOC_SHIFT;
    if places.at_start {
        entry |= AT_START;
    }
    if places.at_word_start {
        entry |= AT_WORD_START;
    }
    entry
}

fn doc_of(entry: Posting) -> usize {
    usize::try_from(entry >> DOC_SHIFT).unwrap_or(usize::MAX)
}

/// The page `offset..offset + size` of `ranked` in rank order, sorting only what it needs.
fn page(mut ranked: Vec<(u8, i64, i64)>, offset: usize, size: usize) -> Hits {
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
    fn one_gram_queries_rank_from_their_postings_as_the_names_would() {
        let index = index(&NAMES);
        for q in ["라", "떼", "라떼", "바닐", "la", "at", "te", "l"] {
            let query = SearchQuery::parse(q).unwrap();
            let mut by_names = index.verified(&query);
            let mut by_postings = index.one_gram(&query.terms[0]);
            by_names.sort_unstable();
            by_postings.sort_unstable();
            assert_eq!(by_postings, by_names, "{q}");
        }
    }

    #[test]
    fn every_path_ranks_as_the_definition_does() {
        let index = index(&NAMES);
        for q in [
            "라떼",
            "바닐라",
            "latte",
            "latt",
            "atte",
            "바닐라 latte",
            "라 떼",
            "latte latte",
            "macchiato latte",
        ] {
            let query = SearchQuery::parse(q).unwrap();
            let mut expected: Vec<(u8, i64, i64)> = (1..)
                .zip(NAMES)
                .map(|(id, name)| (id, fold_name(name)))
                .filter(|(_, name)| query.matches(name))
                .map(|(id, name)| (query.tier(&name), name.chars, id))
                .collect();
            expected.sort_unstable();
            let ids: Vec<i64> = expected.iter().map(|(_, _, id)| *id).collect();
            assert_eq!(search(&index, q, 0, 20), (ids, expected.len()), "{q}");
        }
    }

    #[test]
    fn intersecting_keeps_exactly_the_shared_docs() {
        let list: Vec<Posting> = [1, 2, 5, 9, 10, 40, 41, 100]
            .iter()
            .map(|doc| posting(*doc, GramPlaces::default()))
            .collect();
        assert_eq!(
            intersect(&[0, 2, 3, 9, 41, 99, 100, 101], &list),
            vec![2, 9, 41, 100]
        );
        assert_eq!(intersect(&[], &list), Vec::<usize>::new());
        assert_eq!(intersect(&[5], &[]), Vec::<usize>::new());
        let every: Vec<usize> = (0..200).collect();
        let odd: Vec<Posting> = (1..200)
            .step_by(2)
            .map(|d| posting(d, GramPlaces::default()))
            .collect();
        assert_eq!(
            intersect(&every, &odd),
            (1..200).step_by(2).map(|d| d as usize).collect::<Vec<_>>()
        );
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
