//! `shop rebuild`: replays the event store into fresh copies of read models and swaps
//! them in once caught up, while the live projectors keep running and the query API keeps
//! answering from the old copies until the swap commits.
//!
//! - `ranking.rs`: the sales ranking alone (`daily_sales` and the Redis day keys).
//! - `shadow.rs`, `sql.rs`: any SQL projection, built in a shadow schema and copied in.

mod crash;
mod pass;
mod ranking;
mod shadow;
mod sql;

pub(crate) use pass::{Cursor, Pass};
pub(crate) use ranking::Replay;
pub use ranking::{RebuildProgress, RebuildReport, rebuild_ranking};
pub use sql::{ReadModelsReport, rebuild_read_models};
