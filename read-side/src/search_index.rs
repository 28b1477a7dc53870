//! The in-memory index a query API process searches: for each gram (a character, or a
//! pair of adjacent characters, of a name's compact form, see `events::search_text`)
//! every place it occurs, as (doc, position), and for each doc what a hit shows (name,
//! price, stock). Pure: `search_follow` fills it from the search projection's table.
//!
//! Why positions: a term of n characters occurs at position p of a name exactly when its
//! i-th pair is at p + i for every i, so matching and ranking are merges of sorted integer
//! lists, and no name is read. The earlier index kept gram sets per doc and read each
//! candidate's name to confirm and rank it; on the benchmark's long tail those reads were
//! most of a search (docs/performance.md, "Product search").
//!
//! Why a doc is numbered by its rank keys (name length, then product id) rather than in
//! the order it arrived: lists sorted by doc are then in rank order within each tier, so a
//! page is the first docs of each tier as the merge meets them; nothing is sorted and no
//! per-doc keys are looked up per search. Looking those keys up for every match was the
//! largest single cost of a search that matches thousands of names.
//!
//! Why in memory rather than SQL over a gram table: a word shared by thousands of names
//! (`라떼` is in 5 % of the benchmark catalog) makes any SQL plan fetch and rank thousands of
//! rows for one page and its total; that measured 10 to 30 ms per query in SQLite.

use crate::products::ProductView;
use events::search_text::{FoldedName, MAX_QUERY_CHARS, SearchQuery};
use std::collections::HashMap;

/// A product in the index: `chars << PRODUCT_BITS | product_id`, where `chars` is the
/// length of its compact name. Ordering docs orders them by the search's tie-breaks.
type Doc = u64;
/// One place a gram occurs: `doc << DOC_SHIFT | position << PLACE_SHIFT | CROSSES |
/// WORD_START`, where the position is in characters of the doc's compact name. Lists
/// stay sorted (`merge_sorted`).
type Posting = u64;
/// A word of the name begins at this position.
const WORD_START: Posting = 1;
/// A pair whose second character begins the next word: a term over it is not inside one word.
const CROSSES: Posting = 2;
const FLAGS: Posting = WORD_START | CROSSES;
const PLACE_SHIFT: u32 = 2;
/// A name of `domain::product::MAX_NAME_CHARS` (200) characters folds to at most 3,600
/// (NFKC expands one character to at most 18), so positions and lengths fit 12 bits, and
/// a term's places plus its length never carry into the doc's bits.
const POSITION_BITS: u32 = 12;
const DOC_SHIFT: u32 = PLACE_SHIFT + POSITION_BITS;
const PRODUCT_BITS: u32 = 38;
const CHARS_BITS: u32 = 64 - DOC_SHIFT - PRODUCT_BITS;
const MAX_POSITION: usize = (1 << POSITION_BITS) - 1;
const _: () = assert!(CHARS_BITS >= POSITION_BITS);

/// A gram as a number: its first character, and its second (0 for a single one, which no
/// folded name has, since only letters and digits are kept).
type Gram = u64;

fn gram(first: char, second: Option<char>) -> Gram {
    u64::from(first) << 32 | second.map_or(0, u64::from)
}

/// The doc of a product, or `None` past the bounds of a `Doc` (a product id of 2^38, a
/// compact name longer than any name the command API accepts folds to).
fn doc(product_id: i64, chars: i64) -> Option<Doc> {
    let product_id = u64::try_from(product_id)
        .ok()
        .filter(|id| *id >> PRODUCT_BITS == 0)?;
    // Room for a query's length past the last position: `confirmed` adds it to places.
    let chars = u64::try_from(chars)
        .ok()
        .filter(|chars| *chars + MAX_QUERY_CHARS as u64 <= MAX_POSITION as u64)?;
    Some(chars << PRODUCT_BITS | product_id)
}

fn chars_of(doc: Doc) -> u64 {
    doc >> PRODUCT_BITS
}

/// One page of a search: the products, best first, and how many match in all.
#[derive(Clone, Default)]
pub(crate) struct Hits {
    pub(crate) items: Vec<ProductView>,
    pub(crate) total: usize,
}

#[derive(Default)]
pub(crate) struct Index {
    /// The copy of the table this index follows (`search_head.generation`); `None` before
    /// the first load.
    pub(crate) generation: Option<String>,
    /// The highest `seq` added.
    pub(crate) seq: i64,
    shown: HashMap<Doc, ProductView>,
    postings: HashMap<Gram, Vec<Posting>>,
}

/// A row of the search projection's table.
pub(crate) struct Row {
    pub(crate) product_id: i64,
    pub(crate) name: String,
    pub(crate) folded: FoldedName,
    pub(crate) price: i64,
    pub(crate) stock: i64,
    pub(crate) seq: i64,
}

impl Index {
    pub(crate) fn new(generation: String) -> Self {
        Self {
            generation: Some(generation),
            ..Self::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shown.len()
    }

    /// Adds products, or, for one already here (its stock moved, which gives its row a
    /// new `seq`), takes its new price and stock. A product's name never changes. The
    /// places of a whole batch are merged into each list once.
    pub(crate) fn add(&mut self, rows: impl IntoIterator<Item = Row>) {
        let mut added: HashMap<Gram, Vec<Posting>> = HashMap::new();
        for row in rows {
            self.seq = self.seq.max(row.seq);
            let Some(doc) = doc(row.product_id, row.folded.chars) else {
                tracing::warn!(
                    product_id = row.product_id,
                    chars = row.folded.chars,
                    "product not indexed for search: its id or name length is out of range"
                );
                continue;
            };
            let shown = ProductView::new(row.product_id, row.name, row.price, row.stock);
            if self.shown.insert(doc, shown).is_some() {
                continue;
            }
            places(doc, &row.folded, |gram, place| {
                added.entry(gram).or_default().push(place);
            });
        }
        for (gram, places) in added {
            merge_sorted(self.postings.entry(gram).or_default(), places);
        }
    }

    /// The page `offset..offset + size` of the products matching `query`, ranked by
    /// (`SearchQuery::tier`, name length, product id).
    pub(crate) fn search(&self, query: &SearchQuery, offset: usize, size: usize) -> Hits {
        let end = offset.saturating_add(size);
        // Per tier, its first `end` docs: matches come in doc order, which is rank order
        // within a tier.
        let mut firsts: [Vec<Doc>; 4] = Default::default();
        let mut total = 0;
        self.each_match(query, |tier, doc| {
            total += 1;
            if let Some(tier) = firsts.get_mut(usize::from(tier))
                && tier.len() < end
            {
                tier.push(doc);
            }
        });
        let items = firsts
            .iter()
            .flatten()
            .skip(offset)
            .take(size)
            .filter_map(|doc| self.shown.get(doc).cloned())
            .collect();
        Hits { items, total }
    }

    /// Calls `found(tier, doc)` for every matching doc, in doc order.
    fn each_match(&self, query: &SearchQuery, mut found: impl FnMut(u8, Doc)) {
        let terms: Vec<Vec<char>> = query.terms.iter().map(|t| t.chars().collect()).collect();
        let compact: Vec<char> = query.compact.chars().collect();
        let Some((first, rest)) = terms.split_first() else {
            return;
        };
        // Per doc that has every term: whether every term begins a word in it.
        let mut matched = by_doc(&self.occurrences(first, false));
        for term in rest {
            if matched.is_empty() {
                break;
            }
            matched = both(&matched, &by_doc(&self.occurrences(term, false)));
        }
        // Whether a name begins with the whole query: a term that is the whole query
        // knows from its own places; otherwise, the docs where the whole query is at 0.
        let whole_query_term = terms.len() == 1 && *first == compact;
        let beginning: Vec<Doc> = if whole_query_term {
            Vec::new()
        } else {
            self.occurrences(&compact, true)
                .iter()
                .map(|place| doc_of(*place))
                .collect()
        };
        let length = compact.len() as u64;
        let mut beginning = beginning.into_iter().peekable();
        for doc in matched {
            let begins = if whole_query_term {
                doc.at_start
            } else {
                while beginning.next_if(|begins| *begins < doc.doc).is_some() {}
                beginning.peek() == Some(&doc.doc)
            };
            let tier = if begins {
                if chars_of(doc.doc) == length { 0 } else { 1 }
            } else if doc.in_words {
                2
            } else {
                3
            };
            found(tier, doc.doc);
        }
    }

    /// Where `term` occurs: one posting per occurrence, its start as the place, with
    /// `WORD_START` if a word begins there and `CROSSES` if the term runs into the next
    /// word. Sorted. `at_start`: only occurrences at the beginning of a name.
    fn occurrences(&self, term: &[char], at_start: bool) -> Vec<Posting> {
        // (how far into the term, its list): one character's own list, or each pair's.
        let mut lists: Vec<(u64, &[Posting])> = Vec::with_capacity(term.len());
        let grams: Vec<Gram> = match term {
            [] => return Vec::new(),
            [only] => vec![gram(*only, None)],
            _ => term
                .windows(2)
                .map(|pair| gram(pair[0], Some(pair[1])))
                .collect(),
        };
        for (at, g) in (0..).zip(grams) {
            match self.postings.get(&g) {
                Some(list) => lists.push((at, list.as_slice())),
                // A gram no name has: nothing can match.
                None => return Vec::new(),
            }
        }
        lists.sort_unstable_by_key(|(_, list)| list.len());
        let Some(((shift, shortest), others)) = lists.split_first() else {
            return Vec::new();
        };
        // Start from the shortest list, each place moved back to where the term would
        // begin; then keep those every other list confirms at its own distance.
        let mut found: Vec<Posting> = shortest
            .iter()
            .filter_map(|place| {
                let position = position_of(*place);
                if position < *shift || (at_start && position != *shift) {
                    return None;
                }
                let moved = place - (shift << PLACE_SHIFT);
                // Where the term begins is the word-start flag of its first pair.
                let flags = if *shift == 0 {
                    place & FLAGS
                } else {
                    place & CROSSES
                };
                Some((moved & !FLAGS) | flags)
            })
            .collect();
        for (shift, list) in others {
            found = confirmed(&found, list, *shift);
            if found.is_empty() {
                break;
            }
        }
        found
    }
}

/// The places of `found` (sorted) whose gram at distance `shift` is in `list` (sorted),
/// with that posting's flags added (`WORD_START` from the first pair only). Gallops
/// through `list`, so a short `found` costs its length times the log of the gap.
fn confirmed(found: &[Posting], list: &[Posting], shift: u64) -> Vec<Posting> {
    let mut kept = Vec::with_capacity(found.len());
    let mut rest = list;
    for &place in found {
        let target = (place >> PLACE_SHIFT) + shift;
        let key = |entry: &Posting| entry >> PLACE_SHIFT;
        // Grow a step until it passes `target`, then search inside the last step.
        let mut step = 1;
        while step < rest.len() && key(&rest[step]) < target {
            step *= 2;
        }
        let window = &rest[..rest.len().min(step + 1)];
        let at = window.partition_point(|entry| key(entry) < target);
        rest = &rest[at..];
        match rest.first() {
            Some(entry) if key(entry) == target => {
                let flags = if shift == 0 {
                    entry & FLAGS
                } else {
                    entry & CROSSES
                };
                kept.push(place | flags);
            }
            Some(_) => {}
            None => break,
        }
    }
    kept
}

/// A doc that has a term (or every term so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    doc: Doc,
    /// The term occurs at the beginning of the name.
    at_start: bool,
    /// Every term so far begins a word and ends inside it somewhere in the name.
    in_words: bool,
}

/// Occurrences (sorted) grouped per doc.
fn by_doc(places: &[Posting]) -> Vec<Found> {
    let mut docs: Vec<Found> = Vec::new();
    for &place in places {
        let doc = doc_of(place);
        let in_word = place & FLAGS == WORD_START;
        let at_start = position_of(place) == 0;
        match docs.last_mut() {
            Some(last) if last.doc == doc => {
                last.in_words |= in_word;
                last.at_start |= at_start;
            }
            _ => docs.push(Found {
                doc,
                at_start,
                in_words: in_word,
            }),
        }
    }
    docs
}

/// The docs in both (each sorted by doc), each in words only if in words in both.
fn both(left: &[Found], right: &[Found]) -> Vec<Found> {
    let mut kept = Vec::with_capacity(left.len().min(right.len()));
    let mut right = right.iter().peekable();
    for found in left {
        while right.next_if(|other| other.doc < found.doc).is_some() {}
        match right.peek() {
            Some(other) if other.doc == found.doc => kept.push(Found {
                doc: found.doc,
                at_start: found.at_start && other.at_start,
                in_words: found.in_words && other.in_words,
            }),
            Some(_) => {}
            None => break,
        }
    }
    kept
}

/// For each character of a compact name of `chars` characters, whether a word begins
/// there (from the spaced form, ` word word`).
fn word_starts(spaced: &str, chars: usize) -> Vec<bool> {
    let mut starts = vec![false; chars];
    let mut offset = 0;
    for word in spaced.split(' ').filter(|word| !word.is_empty()) {
        if let Some(start) = starts.get_mut(offset) {
            *start = true;
        }
        offset += word.chars().count();
    }
    starts
}

fn doc_of(place: Posting) -> Doc {
    place >> DOC_SHIFT
}

fn position_of(place: Posting) -> u64 {
    (place & ((1 << DOC_SHIFT) - 1)) >> PLACE_SHIFT
}

/// Every gram of `doc`'s compact name with its place: each character, and each pair of
/// adjacent characters, at the position of its first, flagged as in `Posting`.
fn places(doc: Doc, folded: &FoldedName, mut place_of: impl FnMut(Gram, Posting)) {
    let chars: Vec<char> = folded.compact.chars().collect();
    let word_starts = word_starts(&folded.spaced, chars.len());
    let begins_word = |at: usize| word_starts.get(at).copied().unwrap_or(false);
    for (at, first) in chars.iter().enumerate() {
        let place = doc << DOC_SHIFT | (at as u64) << PLACE_SHIFT;
        let starts = if begins_word(at) { WORD_START } else { 0 };
        place_of(gram(*first, None), place | starts);
        if let Some(second) = chars.get(at + 1) {
            let crosses = if begins_word(at + 1) { CROSSES } else { 0 };
            place_of(gram(*first, Some(*second)), place | starts | crosses);
        }
    }
}

/// Merges `places` into the sorted `list`, keeping it sorted.
fn merge_sorted(list: &mut Vec<Posting>, mut places: Vec<Posting>) {
    places.sort_unstable();
    match (list.last(), places.first()) {
        (_, None) => {}
        (None, _) => *list = places,
        (Some(last), Some(first)) if last < first => list.extend(places),
        // A product registered while the index is followed: a few places, each moved in.
        _ if places.len() <= MERGE_ONE_BY_ONE => {
            for place in places {
                let at = list.partition_point(|other| *other < place);
                list.insert(at, place);
            }
        }
        // A chunk of a load: the standard (stable) sort finds the two sorted runs and
        // merges them, linear in the list.
        _ => {
            list.extend(places);
            list.sort();
        }
    }
}

/// Up to this many places go into a list by insertion; more, by one merge.
const MERGE_ONE_BY_ONE: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use events::search_text::fold_name;
    use proptest::prelude::*;

    fn row(product_id: i64, name: &str, seq: i64) -> Row {
        Row {
            product_id,
            name: name.to_owned(),
            folded: fold_name(name),
            price: 1_000 * product_id,
            stock: 10,
            seq,
        }
    }

    fn index(names: &[&str]) -> Index {
        let mut index = Index::new("g".to_owned());
        for (id, name) in (1..).zip(names) {
            index.add([row(id, name, id)]);
        }
        index
    }

    fn search(index: &Index, q: &str, offset: usize, size: usize) -> (Vec<i64>, usize) {
        let hits = index.search(&SearchQuery::parse(q).unwrap(), offset, size);
        (
            hits.items.iter().map(ProductView::product_id).collect(),
            hits.total,
        )
    }

    /// What the definition (`SearchQuery::matches` and `tier`) ranks first, every match.
    fn by_definition(names: &[&str], q: &str) -> (Vec<i64>, usize) {
        let query = SearchQuery::parse(q).unwrap();
        let mut expected: Vec<(u8, i64, i64)> = (1..)
            .zip(names)
            .map(|(id, name)| (id, fold_name(name)))
            .filter(|(_, name)| query.matches(name))
            .map(|(id, name)| (query.tier(&name), name.chars, id))
            .collect();
        expected.sort_unstable();
        let ids: Vec<i64> = expected.iter().map(|(_, _, id)| *id).collect();
        let total = ids.len();
        (ids, total)
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
    fn having_every_pair_is_not_enough() {
        // 라떼 and 떼라 are both in 라떼떼라, `라떼라` is not.
        let index = index(&["라떼떼라", "라떼라"]);
        assert_eq!(search(&index, "라떼라", 0, 20), (vec![2], 1));
    }

    #[test]
    fn a_term_running_into_the_next_word_does_not_begin_a_word() {
        // `tema` is in `x tem ata`, beginning the word `tem`, but it ends in `ata`.
        let names = ["x tem ata", "x temata", "temata"];
        let index = index(&names);
        assert_eq!(search(&index, "tema", 0, 20), by_definition(&names, "tema"));
        assert_eq!(search(&index, "tema", 0, 20), (vec![3, 2, 1], 3));
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
            "t",
            "!!",
        ] {
            assert_eq!(search(&index, q, 0, 20), by_definition(&NAMES, q), "{q}");
        }
    }

    proptest! {
        /// Over names and queries from a few letters (so they repeat, overlap and run
        /// across words), the index finds and orders exactly what the definition does.
        #[test]
        fn the_index_agrees_with_the_definition(
            names in prop::collection::vec("[abc라떼 ]{1,12}", 1..30),
            queries in prop::collection::vec("[abc라떼 ]{1,6}", 1..10),
        ) {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let index = index(&names);
            for q in &queries {
                if SearchQuery::parse(q).is_err() {
                    continue;
                }
                prop_assert_eq!(search(&index, q, 0, 100), by_definition(&names, q), "{}", q);
            }
        }
    }

    proptest! {
        /// Products arrive in any id order and in batches of any size (a load in chunks,
        /// one registration at a time while followed, two command nodes drawing ids from
        /// different blocks): the lists stay sorted and the ranking exact.
        #[test]
        fn any_arrival_order_and_batching_ranks_alike(
            names in prop::collection::vec("[ab라떼 ]{1,8}", 1..40)
                .prop_flat_map(|names| {
                    let ids: Vec<i64> = (1..).take(names.len()).collect();
                    (Just(names), Just(ids).prop_shuffle())
                }),
            batch in 1..12usize,
            queries in prop::collection::vec("[ab라떼 ]{1,4}", 1..8),
        ) {
            let (names, ids) = names;
            let mut index = Index::new("g".to_owned());
            let mut arriving = ids.iter().map(|id| {
                let at = usize::try_from(*id - 1).unwrap();
                row(*id, &names[at], *id)
            });
            loop {
                let rows: Vec<Row> = arriving.by_ref().take(batch).collect();
                if rows.is_empty() {
                    break;
                }
                index.add(rows);
            }
            prop_assert!(index.postings.values().all(|list| list.is_sorted()));
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            for q in &queries {
                if SearchQuery::parse(q).is_err() {
                    continue;
                }
                prop_assert_eq!(search(&index, q, 0, 100), by_definition(&names, q), "{}", q);
            }
        }
    }

    #[test]
    fn a_product_past_the_doc_bounds_is_left_out_not_misranked() {
        let mut index = index(&["latte"]);
        index.add([row(1 << PRODUCT_BITS, "latte", 2)]);
        assert_eq!((index.len(), index.seq), (1, 2));
        assert_eq!(search(&index, "latte", 0, 20), (vec![1], 1));
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
    fn a_known_product_takes_its_new_stock_and_stays_one_doc() {
        let mut index = index(&NAMES);
        assert_eq!((index.len(), index.seq), (6, 6));
        let mut moved = row(3, "바닐라 라떼", 9);
        moved.stock = 4;
        index.add([moved]);
        assert_eq!((index.len(), index.seq), (6, 9));
        let hits = index.search(&SearchQuery::parse("바닐라").unwrap(), 0, 20);
        let stock: Vec<(i64, i64)> = hits
            .items
            .iter()
            .map(|item| (item.product_id(), item.stock()))
            .collect();
        assert_eq!(stock, vec![(3, 4), (6, 10)]);
        index.add([row(7, "라떼 2", 10)]);
        assert_eq!(search(&index, "라떼", 0, 20), (vec![1, 7, 3, 2], 4));
    }
}
