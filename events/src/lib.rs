//! The shared language of shop: ids, money, every domain event, the envelope that
//! wraps them in a stream, the postcard codec with per-type schema versions (and the
//! upcasts that keep old versions readable), and the camelCase JSON form Kafka carries.

pub mod codec;
pub mod consistency;
pub mod contract;
pub mod coupon;
pub mod envelope;
pub mod ids;
pub mod money;
pub mod names;
pub mod order;
pub mod product;
mod schema;
pub mod search_text;
pub mod trace;
pub mod wallet;

mod domain_event;

pub use codec::{CodecError, EncodedEvent};
pub use consistency::{ConsistencyToken, InvalidToken};
pub use coupon::{CouponEvent, Discount, DiscountKind};
pub use domain_event::DomainEvent;
pub use envelope::{EventId, Metadata, NewEntry, NewEvent, RecordedEvent, StreamId};
pub use ids::{CouponId, InvalidId, OrderId, ProductId, USER_COUPON_ID_SPAN, UserCouponId, UserId};
pub use money::{InvalidAmount, Krw};
pub use names::{Category, ProjectionName};
pub use order::{CancelReason, OrderEvent, OrderLine};
pub use product::ProductEvent;
pub use trace::{InvalidTraceparent, TraceContext};
pub use wallet::WalletEvent;
