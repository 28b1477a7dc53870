//! The names that tie the crates together, defined once: stream categories (the aggregate
//! types, the prefix of every stream id and the suffix of every Kafka topic) and the
//! projections with the categories each applies. Writers and readers both use these, so
//! renaming one is a compile error everywhere it matters, not a silent mismatch.

/// A stream category: the aggregate type a stream belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Wallet,
    Product,
    Coupon,
    Order,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Wallet,
        Category::Product,
        Category::Coupon,
        Category::Order,
    ];

    /// Every category's name, in `ALL`'s order (the topics a full reader subscribes to).
    pub const NAMES: [&'static str; 4] = [
        Category::Wallet.as_str(),
        Category::Product.as_str(),
        Category::Coupon.as_str(),
        Category::Order.as_str(),
    ];

    /// This category's place in `ALL` (and `NAMES`), for tables indexed by category.
    pub const fn index(self) -> usize {
        match self {
            Category::Wallet => 0,
            Category::Product => 1,
            Category::Coupon => 2,
            Category::Order => 3,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Wallet => "wallet",
            Category::Product => "product",
            Category::Coupon => "coupon",
            Category::Order => "order",
        }
    }

    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

const WALLET: &[&str] = &[Category::Wallet.as_str()];
const PRODUCT: &[&str] = &[Category::Product.as_str()];
const COUPON: &[&str] = &[Category::Coupon.as_str()];
const ORDER: &[&str] = &[Category::Order.as_str()];

/// A projection: its name (checkpoints, consumer groups, progress and `/readyz` go by it)
/// and the categories whose events it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ProjectionName {
    Balances = 0,
    Catalog = 1,
    Coupons = 2,
    Orders = 3,
    Sales = 4,
    RedisViews = 5,
    /// The product-name search index (`search_products`, `search_grams`).
    Search = 6,
}

impl ProjectionName {
    pub const ALL: [ProjectionName; 7] = [
        ProjectionName::Balances,
        ProjectionName::Catalog,
        ProjectionName::Coupons,
        ProjectionName::Orders,
        ProjectionName::Sales,
        ProjectionName::RedisViews,
        ProjectionName::Search,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            ProjectionName::Balances => "balances",
            ProjectionName::Catalog => "catalog",
            ProjectionName::Coupons => "coupons",
            ProjectionName::Orders => "orders",
            ProjectionName::Sales => "sales",
            ProjectionName::RedisViews => "redis-views",
            ProjectionName::Search => "search",
        }
    }

    pub const fn categories(self) -> &'static [&'static str] {
        match self {
            ProjectionName::Balances => WALLET,
            ProjectionName::Catalog | ProjectionName::Search => PRODUCT,
            ProjectionName::Coupons => COUPON,
            ProjectionName::Orders | ProjectionName::Sales => ORDER,
            ProjectionName::RedisViews => &Category::NAMES,
        }
    }

    /// The projection a number names, for const generics (`read_side`'s `Consistent<P>`),
    /// which cannot take an enum yet. Evaluated at compile time there, so a number that
    /// names no projection fails the build.
    pub const fn from_number(number: u8) -> ProjectionName {
        match number {
            0 => ProjectionName::Balances,
            1 => ProjectionName::Catalog,
            2 => ProjectionName::Coupons,
            3 => ProjectionName::Orders,
            4 => ProjectionName::Sales,
            5 => ProjectionName::RedisViews,
            6 => ProjectionName::Search,
            _ => panic!("no projection has this number"),
        }
    }

    pub fn parse(name: &str) -> Option<ProjectionName> {
        ProjectionName::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the projection applies events of `category`.
    pub fn consumes(self, category: &str) -> bool {
        self.categories().contains(&category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_numbers_are_the_discriminants() {
        for (place, category) in Category::ALL.into_iter().enumerate() {
            assert_eq!(Category::parse(category.as_str()), Some(category));
            assert_eq!(category.index(), place);
            assert_eq!(Category::NAMES[category.index()], category.as_str());
        }
        for projection in ProjectionName::ALL {
            assert_eq!(ProjectionName::parse(projection.name()), Some(projection));
            assert_eq!(ProjectionName::from_number(projection as u8), projection);
        }
        assert!(ProjectionName::Sales.consumes("order"));
        assert!(!ProjectionName::Balances.consumes("order"));
        assert!(ProjectionName::RedisViews.consumes("coupon"));
        assert!(ProjectionName::Search.consumes("product"));
    }
}

/// The Redis hot views: one hash per entity at `{prefix}{kind}:{id}`, written by the Redis
/// projector and read by the query API, with these field names.
pub mod hot_view {
    /// `SHOP_REDIS_PREFIX`'s default.
    pub const DEFAULT_PREFIX: &str = "shop:";

    /// The entity a hash holds.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum View {
        Balance,
        Product,
        Coupon,
        Order,
    }

    impl View {
        pub const ALL: [View; 4] = [View::Balance, View::Product, View::Coupon, View::Order];

        pub const fn kind(self) -> &'static str {
            match self {
                View::Balance => "balance",
                View::Product => "product",
                View::Coupon => "coupon",
                View::Order => "order",
            }
        }

        /// The hash's key under `prefix`.
        pub fn key(self, prefix: &str, id: impl std::fmt::Display) -> String {
            format!("{prefix}{}:{id}", self.kind())
        }
    }

    /// The sales ranking, written by the Redis projector and ranked by the query API.
    pub mod sales {
        /// What every day key starts with after the prefix.
        pub const DAY_KEY_START: &str = "sales:";

        /// `{prefix}sales:{YYYY-MM-DD}`: a sorted set of product id -> units sold that day
        /// (Asia/Seoul days).
        pub fn day(prefix: &str, day: impl std::fmt::Display) -> String {
            format!("{prefix}{DAY_KEY_START}{day}")
        }

        /// `{prefix}sales:ready`: present while the day keys are complete (a projector kept
        /// them from the start, or a rebuild filled them); readers rank from SQL without it.
        pub fn ready(prefix: &str) -> String {
            format!("{prefix}sales:ready")
        }
    }

    /// Field names of the hashes.
    pub mod field {
        /// The version of the entity's stream the hash reflects (every view has it).
        pub const VERSION: &str = "v";
        pub const BALANCE: &str = "balance";
        pub const PRODUCT_ID: &str = "productId";
        pub const NAME: &str = "name";
        pub const PRICE: &str = "price";
        pub const STOCK: &str = "stock";
        pub const COUPON_ID: &str = "couponId";
        pub const DISCOUNT_KIND: &str = "discountKind";
        pub const DISCOUNT_VALUE: &str = "discountValue";
        pub const TOTAL_QUANTITY: &str = "totalQuantity";
        pub const ISSUED_QUANTITY: &str = "issuedQuantity";
        pub const VALID_FROM: &str = "validFrom";
        pub const VALID_UNTIL: &str = "validUntil";
        pub const ORDER_ID: &str = "orderId";
        pub const USER_ID: &str = "userId";
        pub const STATUS: &str = "status";
        pub const ITEMS: &str = "items";
        pub const TOTAL_AMOUNT: &str = "totalAmount";
        pub const DISCOUNT_AMOUNT: &str = "discountAmount";
        pub const PAID_AMOUNT: &str = "paidAmount";
        pub const REASON: &str = "reason";
    }
}

/// The Kafka projector's consumer for every SQL projection at once (their consumer group is
/// `{prefix}projector.{SQL_READ_MODELS}`); `redis-views` has a group of its own.
pub const SQL_READ_MODELS: &str = "read-models";

/// The `tracing` target of the spans that carry a W3C trace across processes (an HTTP
/// request, a projected event, a recovered saga): exported over OTLP when that is on,
/// below the log's level otherwise, so the log is unchanged by them.
pub const TRACE_TARGET: &str = "shop_trace";

/// The Kafka message headers the relay writes and consumers read (docs/events.md,
/// docs/asyncapi.json). Each is a UTF-8 string.
pub mod header {
    pub const EVENT_TYPE: &str = "event-type";
    pub const SCHEMA_VERSION: &str = "schema-version";
    pub const EVENT_ID: &str = "event-id";
    pub const STREAM_ID: &str = "stream-id";
    pub const STREAM_VERSION: &str = "stream-version";
    pub const GLOBAL_POSITION: &str = "global-position";
    pub const CORRELATION_ID: &str = "correlation-id";
    pub const CAUSATION_ID: &str = "causation-id";
    pub const RECORDED_AT: &str = "recorded-at";
    /// Also CloudEvents' `datacontenttype` in Kafka binary mode.
    pub const CONTENT_TYPE: &str = "content-type";
    /// W3C trace context of the request that caused the event, when there was one.
    pub const TRACEPARENT: &str = "traceparent";

    /// CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode.
    pub const CE_SPECVERSION: &str = "ce_specversion";
    pub const CE_ID: &str = "ce_id";
    pub const CE_SOURCE: &str = "ce_source";
    pub const CE_TYPE: &str = "ce_type";
    pub const CE_TIME: &str = "ce_time";
    pub const CE_SUBJECT: &str = "ce_subject";
}
