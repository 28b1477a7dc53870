//! HTTP plumbing both APIs share, so the command side and the query side answer errors,
//! limits, request ids and shutdown the same way without importing each other.

pub mod auth;
pub mod extract;
pub mod in_flight;
pub mod layers;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod outage;
pub mod problem;
pub mod serve;
pub mod shutdown;
pub mod users;

pub use auth::AdminToken;
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use problem::{ErrorCode, Problem};
pub use users::UserGuard;
