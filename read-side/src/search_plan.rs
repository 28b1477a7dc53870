//! What a search binds, derived from the parsed query without I/O: the grams that select
//! candidates, the terms each name must contain and the word starts that rank it.

use events::search_text::SearchQuery;

/// Lengths the gram and term lists are padded to, by repeating their last item (a gram
/// twice in an `IN` list, or a condition twice in an `AND`, changes nothing). sqlx keeps a
/// prepared statement per SQL text; a text that varied with every query would be prepared
/// and closed per request, which on MySQL stalls the next command (see
/// `projections/src/bulk.rs`). A 100-character query has at most 100 distinct grams.
const LIST_LENGTHS: [usize; 5] = [1, 4, 16, 64, 128];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchPlan {
    /// The query's distinct grams, padded.
    pub(crate) grams: Vec<String>,
    /// How many of `grams` are distinct: a candidate has all of them.
    pub(crate) distinct_grams: i64,
    /// Every term must be a substring of the compact name; padded.
    pub(crate) terms: Vec<String>,
    /// ` term` for each term, to find terms that begin a word; padded.
    pub(crate) word_starts: Vec<String>,
    /// The query's words joined: equal to a whole name or its beginning ranks first.
    pub(crate) compact: String,
}

impl SearchPlan {
    /// `None` when the query has no searchable character (it matches nothing).
    pub(crate) fn new(query: &SearchQuery) -> Option<SearchPlan> {
        if query.terms.is_empty() {
            return None;
        }
        let grams: Vec<String> = query.grams().into_iter().collect();
        let distinct_grams = i64::try_from(grams.len()).unwrap_or(i64::MAX);
        let word_starts: Vec<String> = query.terms.iter().map(|t| format!(" {t}")).collect();
        Some(SearchPlan {
            grams: padded(grams),
            distinct_grams,
            terms: padded(query.terms.clone()),
            word_starts: padded(word_starts),
            compact: query.compact.clone(),
        })
    }

    /// Two queries with the same key answer alike (`Latte` and `latte!`).
    pub(crate) fn cache_key(&self) -> String {
        format!("{}\u{0}{}", self.compact, self.terms.join(" "))
    }
}

fn padded(mut items: Vec<String>) -> Vec<String> {
    let length = LIST_LENGTHS
        .iter()
        .copied()
        .find(|length| *length >= items.len())
        .unwrap_or(items.len());
    if let Some(last) = items.last().cloned() {
        items.resize(length, last);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(q: &str) -> Option<SearchPlan> {
        SearchPlan::new(&SearchQuery::parse(q).unwrap())
    }

    #[test]
    fn lists_are_padded_with_their_last_item() {
        let plan = plan("latte 라떼").unwrap();
        assert_eq!(plan.grams.len(), 16);
        assert_eq!(plan.distinct_grams, 5);
        assert_eq!(&plan.grams[..5], ["at", "la", "te", "tt", "라떼"]);
        assert!(plan.grams[5..].iter().all(|g| g == "라떼"));
        assert_eq!(plan.terms, ["latte", "라떼", "라떼", "라떼"]);
        assert_eq!(plan.word_starts, [" latte", " 라떼", " 라떼", " 라떼"]);
        assert_eq!(plan.compact, "latte라떼");
    }

    #[test]
    fn one_gram_and_one_term_need_no_padding() {
        let plan = plan("라떼").unwrap();
        assert_eq!(plan.grams, ["라떼"]);
        assert_eq!(plan.distinct_grams, 1);
        assert_eq!(plan.terms, ["라떼"]);
    }

    #[test]
    fn punctuation_only_plans_nothing_and_spelling_shares_a_key() {
        assert_eq!(plan("?!"), None);
        assert_eq!(
            plan("Latte!").unwrap().cache_key(),
            plan("latte").unwrap().cache_key()
        );
        assert_ne!(
            plan("latte mocha").unwrap().cache_key(),
            plan("mocha latte").unwrap().cache_key()
        );
    }
}
