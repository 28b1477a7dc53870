//! A catalog product and its stock (`product-{productId}`).
//!
//! The order saga reserves and releases stock per order; both steps are idempotent by
//! order id so a replayed saga step neither reserves twice nor releases twice. A release
//! always leaves a mark, even for an order that reserved nothing here (a `StockReleased`
//! of quantity 0): several drivers may run one order, and a reserve from one of them
//! that arrives after the order was compensated must be refused, not take stock nobody
//! will give back.

use super::Aggregate;
use events::product::{ProductRegistered, ProductRestocked, StockReleased, StockReserved};
use events::{Krw, OrderId, ProductEvent, ProductId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_PRICE: i64 = 1_000_000_000;
/// Stock may never exceed this, whether registered or restocked.
pub const MAX_STOCK: i64 = 1_000_000_000;
pub const MAX_RESTOCK: i64 = 1_000_000;
/// Most units one order line may reserve.
pub const MAX_RESERVE: i64 = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// `None` until registered.
    info: Option<ProductInfo>,
    /// Every order that ever reserved or released this product. Kept after release so a
    /// late or replayed reserve for a compensated order is refused; an order released
    /// without having reserved is kept with quantity 0.
    reservations: BTreeMap<OrderId, Reservation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInfo {
    pub product_id: ProductId,
    pub name: String,
    pub price: Krw,
    /// Units available to reserve (reserved units are already taken out).
    pub stock: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub quantity: i64,
    pub released: bool,
}

/// A product's price is set by `Register` and never changes: the order saga keeps the
/// prices it has quoted for good. A command that changed a price would have to reach
/// that cache too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    Register {
        product_id: ProductId,
        name: String,
        price: Krw,
        stock: i64,
    },
    Restock {
        quantity: i64,
    },
    Reserve {
        order_id: OrderId,
        quantity: i64,
    },
    Release {
        order_id: OrderId,
    },
    /// Reads the price and stock (what an order is priced at) without changing anything.
    Quote,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("product not found")]
    NotFound,
    #[error("product is already registered")]
    AlreadyRegistered,
    #[error("a product name must be 1 to {MAX_NAME_CHARS} characters and not blank")]
    InvalidName,
    #[error("a price must be between 1 and {MAX_PRICE} won, got {0}")]
    InvalidPrice(Krw),
    #[error("initial stock must be between 0 and {MAX_STOCK}, got {0}")]
    InvalidStock(i64),
    #[error("quantity must be between 1 and {max}, got {quantity}")]
    InvalidQuantity { quantity: i64, max: i64 },
    #[error("stock may not exceed {MAX_STOCK} (stock {stock}, restock {quantity})")]
    StockLimitExceeded { stock: i64, quantity: i64 },
    #[error("insufficient stock: {available} available, {requested} requested")]
    InsufficientStock { available: i64, requested: i64 },
    /// The order's stock here was already released (the order was cancelled): only a
    /// late saga step asks for it.
    #[error("order {0} was already compensated on this product")]
    OrderCompensated(OrderId),
}

/// The product as the caller sees it after the command; `product_id` is `None` only if
/// the product is not registered (never after a successful command).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProductReply {
    pub product_id: Option<ProductId>,
    pub name: String,
    pub price: Krw,
    pub stock: i64,
}

impl Product {
    pub fn info(&self) -> Option<&ProductInfo> {
        self.info.as_ref()
    }

    pub fn stock(&self) -> i64 {
        self.info.as_ref().map_or(0, |info| info.stock)
    }

    pub fn reservation(&self, order_id: OrderId) -> Option<Reservation> {
        self.reservations.get(&order_id).copied()
    }

    fn registered(&self) -> Result<&ProductInfo, ProductError> {
        self.info.as_ref().ok_or(ProductError::NotFound)
    }

    fn register(
        &self,
        product_id: ProductId,
        name: &str,
        price: Krw,
        stock: i64,
    ) -> Result<Vec<ProductEvent>, ProductError> {
        if self.info.is_some() {
            return Err(ProductError::AlreadyRegistered);
        }
        if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(ProductError::InvalidName);
        }
        if !(1..=MAX_PRICE).contains(&price.won()) {
            return Err(ProductError::InvalidPrice(price));
        }
        if !(0..=MAX_STOCK).contains(&stock) {
            return Err(ProductError::InvalidStock(stock));
        }
        Ok(vec![ProductEvent::ProductRegistered(ProductRegistered {
            product_id,
            name: name.to_owned(),
            price,
            stock,
        })])
    }

    fn restock(&self, quantity: i64) -> Result<Vec<ProductEvent>, ProductError> {
        let info = self.registered()?;
        if !(1..=MAX_RESTOCK).contains(&quantity) {
            return Err(ProductError::InvalidQuantity {
                quantity,
                max: MAX_RESTOCK,
            });
        }
        // Both operands are bounded (stock <= MAX_STOCK, quantity <= MAX_RESTOCK), so
        // this sum cannot overflow.
        if info.stock + quantity > MAX_STOCK {
            return Err(ProductError::StockLimitExceeded {
                stock: info.stock,
                quantity,
            });
        }
        Ok(vec![ProductEvent::ProductRestocked(ProductRestocked {
            product_id: info.product_id,
            quantity,
        })])
    }

    fn reserve(&self, order_id: OrderId, quantity: i64) -> Result<Vec<ProductEvent>, ProductError> {
        let info = self.registered()?;
        if !(1..=MAX_RESERVE).contains(&quantity) {
            return Err(ProductError::InvalidQuantity {
                quantity,
                max: MAX_RESERVE,
            });
        }
        match self.reservations.get(&order_id) {
            // A replayed step: already reserved.
            Some(reservation) if !reservation.released => return Ok(Vec::new()),
            Some(_) => return Err(ProductError::OrderCompensated(order_id)),
            None => {}
        }
        if info.stock < quantity {
            return Err(ProductError::InsufficientStock {
                available: info.stock,
                requested: quantity,
            });
        }
        Ok(vec![ProductEvent::StockReserved(StockReserved {
            product_id: info.product_id,
            order_id,
            quantity,
        })])
    }

    fn release(&self, order_id: OrderId) -> Result<Vec<ProductEvent>, ProductError> {
        let info = self.registered()?;
        // A compensation never fails. Nothing reserved still records a release (of 0),
        // so a reserve for the order that arrives later is refused.
        let quantity = match self.reservations.get(&order_id) {
            Some(reservation) if reservation.released => return Ok(Vec::new()),
            Some(reservation) => reservation.quantity,
            None => 0,
        };
        Ok(vec![ProductEvent::StockReleased(StockReleased {
            product_id: info.product_id,
            order_id,
            quantity,
        })])
    }
}

impl Aggregate for Product {
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = ProductError;
    type Reply = ProductReply;

    /// 2: the payload starts with the layout fingerprint.
    const SNAPSHOT_VERSION: u16 = 2;

    const NAME: &'static str = "product";

    fn command_name(command: &Self::Command) -> &'static str {
        match command {
            ProductCommand::Register { .. } => "register",
            ProductCommand::Restock { .. } => "restock",
            ProductCommand::Reserve { .. } => "reserve",
            ProductCommand::Release { .. } => "release",
            ProductCommand::Quote => "quote",
        }
    }

    fn decide(&self, command: &ProductCommand) -> Result<Vec<ProductEvent>, ProductError> {
        match command {
            ProductCommand::Register {
                product_id,
                name,
                price,
                stock,
            } => self.register(*product_id, name, *price, *stock),
            ProductCommand::Restock { quantity } => self.restock(*quantity),
            ProductCommand::Reserve { order_id, quantity } => self.reserve(*order_id, *quantity),
            ProductCommand::Release { order_id } => self.release(*order_id),
            ProductCommand::Quote => self.registered().map(|_| Vec::new()),
        }
    }

    /// Events that need a registered product are ignored before registration, and a
    /// second registration is ignored; neither is ever decided, so this only keeps
    /// `evolve` total. Arithmetic saturates for the same reason.
    fn evolve(mut self, event: &ProductEvent) -> Self {
        match (event, self.info.as_mut()) {
            (ProductEvent::ProductRegistered(registered), None) => {
                self.info = Some(ProductInfo {
                    product_id: registered.product_id,
                    name: registered.name.clone(),
                    price: registered.price,
                    stock: registered.stock,
                });
            }
            (ProductEvent::ProductRestocked(restocked), Some(info)) => {
                info.stock = info.stock.saturating_add(restocked.quantity);
            }
            (ProductEvent::StockReserved(reserved), Some(info)) => {
                info.stock = info.stock.saturating_sub(reserved.quantity);
                self.reservations.insert(
                    reserved.order_id,
                    Reservation {
                        quantity: reserved.quantity,
                        released: false,
                    },
                );
            }
            (ProductEvent::StockReleased(released), Some(info)) => {
                info.stock = info.stock.saturating_add(released.quantity);
                self.reservations.insert(
                    released.order_id,
                    Reservation {
                        quantity: released.quantity,
                        released: true,
                    },
                );
            }
            _ => {}
        }
        self
    }

    fn reply(&self, _command: &ProductCommand) -> ProductReply {
        match &self.info {
            Some(info) => ProductReply {
                product_id: Some(info.product_id),
                name: info.name.clone(),
                price: info.price,
                stock: info.stock,
            },
            None => ProductReply {
                product_id: None,
                name: String::new(),
                price: Krw::ZERO,
                stock: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn pid() -> ProductId {
        ProductId::new(3).expect("positive id")
    }

    fn order(n: i64) -> OrderId {
        OrderId::new(n).expect("positive id")
    }

    fn won(n: i64) -> Krw {
        Krw::new(n).expect("non-negative amount")
    }

    fn register(name: &str, price: i64, stock: i64) -> ProductCommand {
        ProductCommand::Register {
            product_id: pid(),
            name: name.to_owned(),
            price: won(price),
            stock,
        }
    }

    fn registered(stock: i64) -> ProductEvent {
        ProductEvent::ProductRegistered(ProductRegistered {
            product_id: pid(),
            name: "Tea".to_owned(),
            price: won(4_500),
            stock,
        })
    }

    fn restocked(quantity: i64) -> ProductEvent {
        ProductEvent::ProductRestocked(ProductRestocked {
            product_id: pid(),
            quantity,
        })
    }

    fn reserve(order_id: i64, quantity: i64) -> ProductCommand {
        ProductCommand::Reserve {
            order_id: order(order_id),
            quantity,
        }
    }

    fn reserved(order_id: i64, quantity: i64) -> ProductEvent {
        ProductEvent::StockReserved(StockReserved {
            product_id: pid(),
            order_id: order(order_id),
            quantity,
        })
    }

    fn release(order_id: i64) -> ProductCommand {
        ProductCommand::Release {
            order_id: order(order_id),
        }
    }

    fn released(order_id: i64, quantity: i64) -> ProductEvent {
        ProductEvent::StockReleased(StockReleased {
            product_id: pid(),
            order_id: order(order_id),
            quantity,
        })
    }

    #[test]
    fn registering_answers_the_product() {
        let then = given::<Product>([]).when(register("Tea", 4_500, 10)).then([
            ProductEvent::ProductRegistered(ProductRegistered {
                product_id: pid(),
                name: "Tea".to_owned(),
                price: won(4_500),
                stock: 10,
            }),
        ]);
        assert_eq!(
            then.reply(),
            ProductReply {
                product_id: Some(pid()),
                name: "Tea".to_owned(),
                price: won(4_500),
                stock: 10,
            }
        );
    }

    #[test]
    fn registering_twice_is_rejected() {
        given::<Product>([registered(10)])
            .when(register("Tea", 4_500, 10))
            .then_error(ProductError::AlreadyRegistered);
    }

    #[test]
    fn names_must_be_present_and_at_most_200_characters() {
        for bad in ["", "   ", &"가".repeat(201)] {
            given::<Product>([])
                .when(register(bad, 100, 1))
                .then_error(ProductError::InvalidName);
        }
        // 200 multi-byte characters is fine: the limit counts characters, not bytes.
        let name = "가".repeat(200);
        given::<Product>([])
            .when(register(&name, 100, 1))
            .then([ProductEvent::ProductRegistered(ProductRegistered {
                product_id: pid(),
                name: name.clone(),
                price: won(100),
                stock: 1,
            })]);
    }

    #[test]
    fn price_must_be_positive_and_bounded() {
        given::<Product>([])
            .when(register("Tea", 0, 1))
            .then_error(ProductError::InvalidPrice(won(0)));
        given::<Product>([])
            .when(register("Tea", MAX_PRICE + 1, 1))
            .then_error(ProductError::InvalidPrice(won(MAX_PRICE + 1)));
        given::<Product>([])
            .when(register("Tea", MAX_PRICE, 1))
            .then([ProductEvent::ProductRegistered(ProductRegistered {
                product_id: pid(),
                name: "Tea".to_owned(),
                price: won(MAX_PRICE),
                stock: 1,
            })]);
    }

    #[test]
    fn initial_stock_must_be_between_zero_and_the_cap() {
        given::<Product>([])
            .when(register("Tea", 100, -1))
            .then_error(ProductError::InvalidStock(-1));
        given::<Product>([])
            .when(register("Tea", 100, MAX_STOCK + 1))
            .then_error(ProductError::InvalidStock(MAX_STOCK + 1));
        for stock in [0, MAX_STOCK] {
            given::<Product>([])
                .when(register("Tea", 100, stock))
                .then([ProductEvent::ProductRegistered(ProductRegistered {
                    product_id: pid(),
                    name: "Tea".to_owned(),
                    price: won(100),
                    stock,
                })]);
        }
    }

    #[test]
    fn commands_on_an_unregistered_product_are_not_found() {
        for command in [
            ProductCommand::Restock { quantity: 1 },
            reserve(1, 1),
            release(1),
        ] {
            given::<Product>([])
                .when(command)
                .then_error(ProductError::NotFound);
        }
    }

    #[test]
    fn restocking_adds_stock() {
        let then = given::<Product>([registered(10)])
            .when(ProductCommand::Restock { quantity: 5 })
            .then([restocked(5)]);
        assert_eq!(then.reply().stock, 15);
    }

    #[test]
    fn restock_quantity_must_be_between_1_and_1_000_000() {
        for quantity in [0, -1, MAX_RESTOCK + 1] {
            given::<Product>([registered(10)])
                .when(ProductCommand::Restock { quantity })
                .then_error(ProductError::InvalidQuantity {
                    quantity,
                    max: MAX_RESTOCK,
                });
        }
        given::<Product>([registered(10)])
            .when(ProductCommand::Restock {
                quantity: MAX_RESTOCK,
            })
            .then([restocked(MAX_RESTOCK)]);
    }

    #[test]
    fn restocking_never_takes_stock_past_the_cap() {
        given::<Product>([registered(MAX_STOCK - 5)])
            .when(ProductCommand::Restock { quantity: 5 })
            .then([restocked(5)]);
        given::<Product>([registered(MAX_STOCK - 5)])
            .when(ProductCommand::Restock { quantity: 6 })
            .then_error(ProductError::StockLimitExceeded {
                stock: MAX_STOCK - 5,
                quantity: 6,
            });
    }

    #[test]
    fn reserving_takes_stock_down_to_exactly_zero() {
        let then = given::<Product>([registered(3)])
            .when(reserve(1, 3))
            .then([reserved(1, 3)]);
        assert_eq!(then.reply().stock, 0);
    }

    #[test]
    fn stock_never_goes_negative() {
        given::<Product>([registered(3), reserved(1, 2)])
            .when(reserve(2, 2))
            .then_error(ProductError::InsufficientStock {
                available: 1,
                requested: 2,
            });
    }

    #[test]
    fn reserve_quantity_must_be_between_1_and_1000() {
        for quantity in [0, -3, MAX_RESERVE + 1] {
            given::<Product>([registered(5_000)])
                .when(reserve(1, quantity))
                .then_error(ProductError::InvalidQuantity {
                    quantity,
                    max: MAX_RESERVE,
                });
        }
        given::<Product>([registered(5_000)])
            .when(reserve(1, MAX_RESERVE))
            .then([reserved(1, MAX_RESERVE)]);
    }

    #[test]
    fn a_second_reserve_for_the_same_order_is_a_no_op() {
        let then = given::<Product>([registered(10), reserved(1, 4)])
            .when(reserve(1, 4))
            .then([]);
        assert_eq!(then.reply().stock, 6);
    }

    #[test]
    fn a_reserve_after_that_order_was_released_is_refused() {
        given::<Product>([registered(10), reserved(1, 4), released(1, 4)])
            .when(reserve(1, 4))
            .then_error(ProductError::OrderCompensated(order(1)));
    }

    #[test]
    fn a_reserve_after_a_release_that_found_nothing_is_refused() {
        given::<Product>([registered(10), released(1, 0)])
            .when(reserve(1, 4))
            .then_error(ProductError::OrderCompensated(order(1)));
    }

    #[test]
    fn release_gives_back_exactly_the_reserved_quantity_once() {
        let then = given::<Product>([registered(10), reserved(1, 4), reserved(2, 1)])
            .when(release(1))
            .then([released(1, 4)]);
        assert_eq!(then.reply().stock, 9);

        given::<Product>([registered(10), reserved(1, 4), released(1, 4)])
            .when(release(1))
            .then([]);
    }

    #[test]
    fn releasing_an_order_that_reserved_nothing_records_a_release_of_nothing_once() {
        let then = given::<Product>([registered(10), reserved(1, 4)])
            .when(release(2))
            .then([released(2, 0)]);
        assert_eq!(then.reply().stock, 6);
        assert_eq!(
            then.state.reservation(order(2)),
            Some(Reservation {
                quantity: 0,
                released: true
            })
        );

        given::<Product>([registered(10), released(2, 0)])
            .when(release(2))
            .then([]);
    }

    #[test]
    fn events_before_registration_are_ignored() {
        let state = super::super::replay(Product::default(), &[restocked(5), reserved(1, 1)]);
        assert_eq!(state, Product::default());
    }

    #[test]
    fn a_quote_reads_the_price_and_changes_nothing() {
        let then = given::<Product>([registered(10)])
            .when(ProductCommand::Quote)
            .then([]);
        assert_eq!(then.reply().product_id, Some(pid()));
        given::<Product>([])
            .when(ProductCommand::Quote)
            .then_error(ProductError::NotFound);
    }

    #[test]
    fn the_state_survives_a_postcard_round_trip() {
        let state = super::super::replay(
            Product::default(),
            &[
                registered(10),
                reserved(1, 4),
                reserved(2, 1),
                released(2, 1),
            ],
        );
        let bytes = postcard::to_stdvec(&state).expect("encodes");
        let back: Product = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, state);
    }
}
