//! The in-memory maps of the command path (the saga's settled orders and price quotes, and
//! the hasher of the executors' mailbox registry), hashed with foldhash instead of moka's default SipHash: every
//! command hashes its stream id into these several times (look-up, insert, the waiter of a
//! first load), and SipHash was 3 % of the command API's CPU in the order row's profile.

/// A bounded moka cache with the command path's hasher.
pub(crate) type Memo<K, V> = moka::sync::Cache<K, V, foldhash::fast::RandomState>;

/// The hasher a `Memo` is built with (`CacheBuilder::build_with_hasher`).
pub(crate) fn hasher() -> foldhash::fast::RandomState {
    foldhash::fast::RandomState::default()
}
