//! Field access for the Redis hot-view hashes (`HGETALL` gives strings).

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub(crate) enum MalformedView {
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{0}` is not an integer")]
    NotInteger(&'static str),
    #[error("field `{0}` is not the JSON expected")]
    NotJson(&'static str),
}

pub(crate) struct Fields<'a>(pub(crate) &'a HashMap<String, String>);

impl Fields<'_> {
    pub(crate) fn text(&self, name: &'static str) -> Result<String, MalformedView> {
        self.0
            .get(name)
            .cloned()
            .ok_or(MalformedView::Missing(name))
    }

    pub(crate) fn int(&self, name: &'static str) -> Result<i64, MalformedView> {
        self.0
            .get(name)
            .ok_or(MalformedView::Missing(name))?
            .trim()
            .parse()
            .map_err(|_| MalformedView::NotInteger(name))
    }

    /// A field holding JSON (an order's items).
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        name: &'static str,
    ) -> Result<T, MalformedView> {
        let raw = self.0.get(name).ok_or(MalformedView::Missing(name))?;
        serde_json::from_str(raw).map_err(|_| MalformedView::NotJson(name))
    }

    /// Absent bounds are written as empty strings (a hash cannot hold a null).
    pub(crate) fn optional_text(&self, name: &'static str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// The last version of the entity's stream the view reflects.
    pub(crate) fn version(&self) -> Result<i64, MalformedView> {
        self.int(events::names::hot_view::field::VERSION)
    }
}
