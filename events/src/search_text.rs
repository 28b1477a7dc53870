//! How product names and search queries are folded into comparable text, and which grams
//! index a name. This is the contract between the search projection, which writes the
//! index, and the query API, which reads it: both must fold alike, so it is defined once.
//!
//! Folding: Unicode NFKC (so decomposed Hangul jamo and full-width Latin compare equal to
//! what a keyboard types), lower case, and only letters and digits kept; everything else
//! separates words. A name is indexed by its *compact* form, its words joined without
//! spaces, because Korean names are spaced inconsistently (`바닐라라떼` and `바닐라 라떼`
//! are the same product to a shopper). Every single character and every pair of adjacent
//! characters of the compact form is a gram: a query term of two or more characters is
//! found through its pairs, one of one character through itself.

use std::collections::{BTreeMap, BTreeSet};
use unicode_normalization::UnicodeNormalization;

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// A product name as the index stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedName {
    /// The folded words without separators: what terms must be substrings of.
    pub compact: String,
    /// The folded words, each preceded by one space (` latte macchiato`), so that
    /// "a word starts with the term" is a substring test for ` term`.
    pub spaced: String,
    /// Characters in `compact`: a shorter name a query covers more of ranks first.
    pub chars: i64,
}

/// The folded words of `text`, in order.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

pub fn fold_name(name: &str) -> FoldedName {
    let words = words(name);
    let compact = words.concat();
    let spaced = words.iter().map(|word| format!(" {word}")).collect();
    let chars = i64::try_from(compact.chars().count()).unwrap_or(i64::MAX);
    FoldedName {
        compact,
        spaced,
        chars,
    }
}

/// Where a gram occurs in a name: what a one-gram query needs to rank the name without
/// looking at it (`SearchQuery::tier` for a term of one or two characters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GramPlaces {
    /// At the very beginning of the compact name.
    pub at_start: bool,
    /// At the beginning of some word.
    pub at_word_start: bool,
}

/// Every gram of a name (each character and each adjacent pair of its compact form, once
/// each) and where it occurs.
pub fn name_grams(name: &FoldedName) -> BTreeMap<String, GramPlaces> {
    let chars: Vec<char> = name.compact.chars().collect();
    // Character offsets in `compact` at which a word begins.
    let mut word_starts = BTreeSet::new();
    let mut offset = 0;
    for word in name.spaced.split(' ').filter(|word| !word.is_empty()) {
        word_starts.insert(offset);
        offset += word.chars().count();
    }
    let mut grams: BTreeMap<String, GramPlaces> = BTreeMap::new();
    for at in 0..chars.len() {
        for length in [1, 2] {
            let Some(gram) = chars.get(at..at + length) else {
                continue;
            };
            let places = grams.entry(gram.iter().collect()).or_default();
            places.at_start |= at == 0;
            places.at_word_start |= word_starts.contains(&at);
        }
    }
    grams
}

/// The grams a name must have for `term` to be a substring of it: its pairs, or the one
/// character of a one-character term.
pub fn term_grams(term: &str) -> BTreeSet<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 2 {
        return chars.iter().map(char::to_string).collect();
    }
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

/// A query string that cannot be searched for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidQuery {
    #[error("q must not be empty")]
    Empty,
    #[error("q must be at most {MAX_QUERY_CHARS} characters, not {0}")]
    TooLong(usize),
}

/// A parsed query: every term must be a substring of a name's compact form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Distinct terms in the order typed, none a substring of another (it would add
    /// nothing to the match). Empty for a query of punctuation only: it matches nothing.
    pub terms: Vec<String>,
    /// All the query's words joined as typed: a name equal to it, or starting with it, is
    /// the best match.
    pub compact: String,
}

impl SearchQuery {
    pub fn parse(q: &str) -> Result<SearchQuery, InvalidQuery> {
        let length = q.chars().count();
        if length == 0 || q.trim().is_empty() {
            return Err(InvalidQuery::Empty);
        }
        if length > MAX_QUERY_CHARS {
            return Err(InvalidQuery::TooLong(length));
        }
        let words = words(q);
        let compact = words.concat();
        let mut terms: Vec<String> = Vec::new();
        for word in &words {
            if !words
                .iter()
                .any(|other| other.len() > word.len() && other.contains(word.as_str()))
                && !terms.contains(word)
            {
                terms.push(word.clone());
            }
        }
        Ok(SearchQuery { terms, compact })
    }

    /// The grams every matching name has (a superset test; the terms decide).
    pub fn grams(&self) -> BTreeSet<String> {
        self.terms
            .iter()
            .flat_map(|term| term_grams(term))
            .collect()
    }

    /// Whether `name` matches: every term is a substring of its compact form.
    pub fn matches(&self, name: &FoldedName) -> bool {
        self.matches_compact(&name.compact)
    }

    /// `matches` on a name's compact form alone.
    pub fn matches_compact(&self, compact: &str) -> bool {
        !self.terms.is_empty()
            && self
                .terms
                .iter()
                .all(|term| compact.contains(term.as_str()))
    }

    /// How well `name` matches, lower is better: 0 the whole name, 1 its beginning, 2
    /// every term begins a word, 3 somewhere inside. The definition the query API ranks by
    /// (`read_side::search_index`, which takes shortcuts that the tests hold to this).
    pub fn tier(&self, name: &FoldedName) -> u8 {
        self.tier_of(&name.compact, &name.spaced)
    }

    /// `tier` on a name's `compact` and `spaced` forms.
    pub fn tier_of(&self, compact: &str, spaced: &str) -> u8 {
        if compact == self.compact {
            0
        } else if compact.starts_with(self.compact.as_str()) {
            1
        } else if self.terms.iter().all(|term| begins_a_word(spaced, term)) {
            2
        } else {
            3
        }
    }
}

/// Whether `term` occurs in `spaced` right after a space, i.e. at a word's beginning.
/// Checked per candidate, so it allocates nothing.
fn begins_a_word(spaced: &str, term: &str) -> bool {
    spaced
        .match_indices(term)
        .any(|(at, _)| spaced[..at].ends_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grams(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_fold_to_lower_case_letters_and_digits() {
        let name = fold_name("  Latte-Macchiato (ICE) 500ml ");
        assert_eq!(name.compact, "lattemacchiatoice500ml");
        assert_eq!(name.spaced, " latte macchiato ice 500ml");
        assert_eq!(name.chars, 22);
        assert_eq!(fold_name("바닐라 라떼").compact, "바닐라라떼");
        // Full-width Latin and decomposed Hangul (as some keyboards send it) fold alike.
        assert_eq!(fold_name("ＬＡＴＴＥ").compact, "latte");
        assert_eq!(
            fold_name("\u{1105}\u{1161}\u{1104}\u{1166}").compact,
            "라떼"
        );
    }

    #[test]
    fn a_name_is_indexed_by_its_characters_and_adjacent_pairs() {
        let indexed = |name: &str| {
            name_grams(&fold_name(name))
                .into_keys()
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(
            indexed("카페라떼"),
            grams(&["카", "페", "라", "떼", "카페", "페라", "라떼"])
        );
        assert_eq!(indexed("aa"), grams(&["a", "aa"]));
        assert!(indexed("").is_empty());
    }

    #[test]
    fn grams_know_whether_they_begin_the_name_or_a_word() {
        let places = name_grams(&fold_name("바닐라 라떼"));
        let at = |start, word| GramPlaces {
            at_start: start,
            at_word_start: word,
        };
        assert_eq!(places["바닐"], at(true, true));
        assert_eq!(places["라떼"], at(false, true));
        // 라 begins the second word and also sits inside the first.
        assert_eq!(places["라"], at(false, true));
        assert_eq!(places["닐라"], at(false, false));
        assert_eq!(places["라라"], at(false, false));
    }

    #[test]
    fn terms_need_their_pairs_or_their_one_character() {
        assert_eq!(term_grams("라떼"), grams(&["라떼"]));
        assert_eq!(term_grams("latt"), grams(&["la", "at", "tt"]));
        assert_eq!(term_grams("라"), grams(&["라"]));
    }

    #[test]
    fn queries_keep_distinct_terms_that_add_something() {
        let query = SearchQuery::parse("Latte 라떼 latte lat").unwrap();
        assert_eq!(query.terms, ["latte", "라떼"]);
        assert_eq!(query.compact, "latte라떼lattelat");
        assert_eq!(
            SearchQuery::parse("!!!").unwrap().terms,
            Vec::<String>::new()
        );
    }

    #[test]
    fn queries_must_have_one_to_a_hundred_characters() {
        assert_eq!(SearchQuery::parse(""), Err(InvalidQuery::Empty));
        assert_eq!(SearchQuery::parse("   "), Err(InvalidQuery::Empty));
        assert!(SearchQuery::parse(&"라".repeat(100)).is_ok());
        assert_eq!(
            SearchQuery::parse(&"라".repeat(101)),
            Err(InvalidQuery::TooLong(101))
        );
    }

    #[test]
    fn korean_parts_english_prefixes_and_mixed_terms_match() {
        let matches =
            |q: &str, name: &str| SearchQuery::parse(q).unwrap().matches(&fold_name(name));
        assert!(matches("라떼", "카페라떼"));
        assert!(matches("카페", "카페라떼"));
        assert!(matches("페라", "카페라떼"));
        assert!(matches("바닐라라떼", "바닐라 라떼"));
        assert!(matches("latt", "Latte Macchiato"));
        assert!(matches("MACCHIATO latte", "Latte Macchiato"));
        assert!(matches("바닐라 latte", "바닐라 Latte"));
        assert!(!matches("라떼", "latte"));
        assert!(!matches("카페 latte", "카페라떼"));
        assert!(!matches("!!!", "latte"));
    }

    #[test]
    fn whole_names_beat_beginnings_beat_words_beat_insides() {
        let tier = |q: &str, name: &str| SearchQuery::parse(q).unwrap().tier(&fold_name(name));
        assert_eq!(tier("라떼", "라떼"), 0);
        assert_eq!(tier("바닐라라떼", "바닐라 라떼"), 0);
        assert_eq!(tier("카페", "카페라떼"), 1);
        assert_eq!(tier("latt", "Latte Macchiato"), 1);
        assert_eq!(tier("라떼", "바닐라 라떼"), 2);
        assert_eq!(tier("macchiato latte", "Latte Macchiato"), 2);
        assert_eq!(tier("라떼", "카페라떼"), 3);
    }
}
