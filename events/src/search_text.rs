//! How product names and search queries are folded into comparable text, and which grams
//! index a name. This is the contract between the search projection, which writes the
//! index, and the query API, which reads it: both must fold alike, so it is defined once.
//!
//! Folding: Unicode NFKC (so decomposed Hangul jamo and full-width Latin compare equal to
//! what a keyboard types), lower case, and only letters and digits kept; everything else
//! separates words. A name is indexed by its *compact* form, its words joined without
//! spaces, because Korean names are spaced inconsistently (`바닐라라떼` and `바닐라 라떼`
//! are the same product to a shopper). `SearchQuery::matches` and `tier` are the definition
//! of a match and its rank; the query API's index (`read_side::search_index`) finds the
//! same through the places of each character and adjacent pair, and its tests hold it to
//! this definition.

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

    /// Whether `name` matches: every term is a substring of its compact form.
    pub fn matches(&self, name: &FoldedName) -> bool {
        !self.terms.is_empty()
            && self
                .terms
                .iter()
                .all(|term| name.compact.contains(term.as_str()))
    }

    /// How well `name` matches, lower is better: 0 the whole name, 1 its beginning, 2
    /// every term begins a word, 3 somewhere inside. The definition the query API ranks by
    /// (`read_side::search_index`, which ranks from positions, held to this by its tests).
    pub fn tier(&self, name: &FoldedName) -> u8 {
        if name.compact == self.compact {
            0
        } else if name.compact.starts_with(self.compact.as_str()) {
            1
        } else if self
            .terms
            .iter()
            .all(|term| begins_a_word(&name.spaced, term))
        {
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
