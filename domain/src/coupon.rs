//! A first-come-first-served coupon (`coupon-{couponId}`): registration, issuing to users
//! in arrival order, and the order saga's use and restore of an issued coupon.
//!
//! All issues of one coupon go through this one stream, so "exactly `total_quantity`" and
//! "one per user" are plain checks against the state, with no race between them.
//!
//! The state that grows with the holders (who holds which user coupon, which order uses
//! it, which orders were compensated) is kept as keyed entries (`super::entries`): the
//! store holds them beside the events, the state a bounded view. So the snapshot is the
//! registration and a count, the same few bytes for the 1,000th holder as for the
//! 1,000,000th, and loading a coupon after a restart reads no holder at all.

use super::entries::{Entries, EntryWrite, Known};
use super::{Aggregate, EntryError};
use chrono::{DateTime, Utc};
use events::coupon::{CouponIssued, CouponRegistered, CouponRestored, CouponUseVoided, CouponUsed};
use events::{CouponEvent, CouponId, Discount, DiscountKind, OrderId, UserCouponId, UserId};
use serde::{Deserialize, Serialize};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_FIXED_DISCOUNT: i64 = 1_000_000_000;
pub const MAX_PERCENT_DISCOUNT: i64 = 100;
pub const MAX_TOTAL_QUANTITY: i64 = 10_000_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// `None` until registered.
    info: Option<CouponInfo>,
    /// How many were issued; also the sequence number of the latest issue.
    issued_quantity: i64,
    /// Which user coupon each user holds (at most one per user): entries `h:{userId}`,
    /// each written once (a guard: the store refuses a second holder entry).
    #[serde(skip)]
    holders: Entries<UserId, UserCouponId>,
    /// Each issued user coupon: entries `c:{userCouponId}`.
    #[serde(skip)]
    user_coupons: Entries<UserCouponId, UserCoupon>,
    /// Orders compensated here, whether a use was restored or there was none to restore
    /// (`CouponUseVoided`): entries `o:{orderId}`. A saga step for such an order that
    /// arrives late (a second driver, or one resumed after a crash) must not take the
    /// coupon again.
    #[serde(skip)]
    compensated: Entries<OrderId, ()>,
}

/// The keys of a coupon's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Holder(UserId),
    UserCoupon(UserCouponId),
    Compensated(OrderId),
}

impl Key {
    fn name(self) -> String {
        match self {
            Key::Holder(user) => format!("h:{user}"),
            Key::UserCoupon(id) => format!("c:{id}"),
            Key::Compensated(order) => format!("o:{order}"),
        }
    }

    fn parse(name: &str) -> Option<Key> {
        let (kind, id) = name.split_once(':')?;
        let id: i64 = id.parse().ok()?;
        match kind {
            "h" => UserId::new(id).ok().map(Key::Holder),
            "c" => UserCouponId::new(id).ok().map(Key::UserCoupon),
            "o" => OrderId::new(id).ok().map(Key::Compensated),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponInfo {
    pub coupon_id: CouponId,
    pub name: String,
    pub discount: Discount,
    pub total_quantity: i64,
    /// Issuable and usable from this instant (inclusive); `None` means no lower bound.
    pub valid_from: Option<DateTime<Utc>>,
    /// Issuable and usable until this instant (exclusive); `None` means no upper bound.
    pub valid_until: Option<DateTime<Utc>>,
}

impl CouponInfo {
    /// Whether `now` lies in `[valid_from, valid_until)`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }
}

/// One issued coupon, as held by one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCoupon {
    pub user_coupon_id: UserCouponId,
    pub user_id: UserId,
    /// 1 for the first issued, `total_quantity` for the last.
    pub sequence: i64,
    /// The order currently using it; `None` when unused or restored.
    pub used_by: Option<OrderId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CouponCommand {
    Register {
        coupon_id: CouponId,
        name: String,
        discount: Discount,
        total_quantity: i64,
        valid_from: Option<DateTime<Utc>>,
        valid_until: Option<DateTime<Utc>>,
    },
    /// The user coupon id is composed from the coupon id and the issue's sequence
    /// (`UserCouponId::compose`), so it needs no allocation and names its coupon.
    Issue { user_id: UserId, now: DateTime<Utc> },
    Use {
        user_coupon_id: UserCouponId,
        user_id: UserId,
        order_id: OrderId,
        now: DateTime<Utc>,
    },
    Restore {
        user_coupon_id: UserCouponId,
        order_id: OrderId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    #[error("coupon not found")]
    NotFound,
    #[error("coupon is already registered")]
    AlreadyRegistered,
    #[error("a coupon name must be 1 to {MAX_NAME_CHARS} characters and not blank")]
    InvalidName,
    #[error(
        "invalid discount: fixed must be 1 to {MAX_FIXED_DISCOUNT} won, percent 1 to {MAX_PERCENT_DISCOUNT}"
    )]
    InvalidDiscount,
    #[error("total quantity must be between 1 and {MAX_TOTAL_QUANTITY}, got {0}")]
    InvalidTotalQuantity(i64),
    #[error("validFrom must be before validUntil")]
    InvalidValidity,
    #[error("coupon is not active now")]
    NotActive,
    #[error("this user already holds this coupon")]
    AlreadyIssued,
    #[error("coupon is sold out")]
    SoldOut,
    #[error("this coupon's id is too large to compose user coupon ids")]
    IdSpaceExhausted,
    #[error("coupon is not available for this order")]
    Unavailable,
    /// The order was already compensated here (it was cancelled): only a late saga step
    /// asks to use the coupon for it.
    #[error("order {0} was already compensated on this coupon")]
    OrderCompensated(OrderId),
}

/// What the caller learns after a coupon command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CouponReply {
    /// The registered coupon; `None` only if it is not registered.
    pub coupon: Option<CouponInfo>,
    pub issued_quantity: i64,
    /// `total_quantity - issued_quantity` (0 if not registered).
    pub remaining: i64,
    /// For `Issue`, the coupon that user holds; for `Use` and `Restore`, the addressed
    /// user coupon; `None` for `Register`.
    pub user_coupon: Option<UserCoupon>,
}

impl Coupon {
    pub fn info(&self) -> Option<&CouponInfo> {
        self.info.as_ref()
    }

    pub fn issued_quantity(&self) -> i64 {
        self.issued_quantity
    }

    pub fn remaining(&self) -> i64 {
        self.info.as_ref().map_or(0, |info| {
            info.total_quantity.saturating_sub(self.issued_quantity)
        })
    }

    pub fn user_coupon(&self, user_coupon_id: UserCouponId) -> Option<&UserCoupon> {
        match self.user_coupons.get(&user_coupon_id) {
            Known::Present(held) => Some(held),
            Known::Absent | Known::Unknown => None,
        }
    }

    pub fn held_by(&self, user_id: UserId) -> Option<&UserCoupon> {
        match self.holders.get(&user_id) {
            Known::Present(id) => self.user_coupon(*id),
            Known::Absent | Known::Unknown => None,
        }
    }

    /// The keys `command` reads, known or not.
    fn keys(command: &CouponCommand) -> Vec<Key> {
        match command {
            CouponCommand::Register { .. } => Vec::new(),
            // A refused issue replies nothing, an accepted one writes what its reply shows.
            CouponCommand::Issue { user_id, .. } => vec![Key::Holder(*user_id)],
            CouponCommand::Use {
                user_coupon_id,
                order_id,
                ..
            } => vec![
                Key::UserCoupon(*user_coupon_id),
                Key::Compensated(*order_id),
            ],
            CouponCommand::Restore {
                user_coupon_id,
                order_id,
            } => vec![
                Key::UserCoupon(*user_coupon_id),
                Key::Compensated(*order_id),
            ],
        }
    }

    fn knows(&self, key: Key) -> bool {
        match key {
            Key::Holder(user) => self.holders.knows(&user),
            Key::UserCoupon(id) => self.user_coupons.knows(&id),
            Key::Compensated(order) => self.compensated.knows(&order),
        }
    }

    fn registered(&self) -> Result<&CouponInfo, CouponError> {
        self.info.as_ref().ok_or(CouponError::NotFound)
    }

    /// Validates a registration; the event is the registration itself.
    fn register(&self, registration: CouponRegistered) -> Result<Vec<CouponEvent>, CouponError> {
        if self.info.is_some() {
            return Err(CouponError::AlreadyRegistered);
        }
        let name = &registration.name;
        if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(CouponError::InvalidName);
        }
        let max_value = match registration.discount.kind {
            DiscountKind::Fixed => MAX_FIXED_DISCOUNT,
            DiscountKind::Percent => MAX_PERCENT_DISCOUNT,
        };
        if !(1..=max_value).contains(&registration.discount.value) {
            return Err(CouponError::InvalidDiscount);
        }
        if !(1..=MAX_TOTAL_QUANTITY).contains(&registration.total_quantity) {
            return Err(CouponError::InvalidTotalQuantity(
                registration.total_quantity,
            ));
        }
        if let (Some(from), Some(until)) = (registration.valid_from, registration.valid_until)
            && from >= until
        {
            return Err(CouponError::InvalidValidity);
        }
        Ok(vec![CouponEvent::CouponRegistered(registration)])
    }

    fn issue(&self, user_id: UserId, now: DateTime<Utc>) -> Result<Vec<CouponEvent>, CouponError> {
        let info = self.registered()?;
        if !info.is_active_at(now) {
            return Err(CouponError::NotActive);
        }
        // Before sold-out, so a winner who asks again hears "already issued", not
        // "sold out".
        if let Known::Present(_) = self.holders.get(&user_id) {
            return Err(CouponError::AlreadyIssued);
        }
        if self.issued_quantity >= info.total_quantity {
            return Err(CouponError::SoldOut);
        }
        let sequence = self.issued_quantity + 1;
        let user_coupon_id =
            UserCouponId::compose(info.coupon_id, sequence).ok_or(CouponError::IdSpaceExhausted)?;
        Ok(vec![CouponEvent::CouponIssued(CouponIssued {
            coupon_id: info.coupon_id,
            user_id,
            user_coupon_id,
            sequence,
            issued_at: now,
        })])
    }

    fn use_coupon(
        &self,
        user_coupon_id: UserCouponId,
        user_id: UserId,
        order_id: OrderId,
        now: DateTime<Utc>,
    ) -> Result<Vec<CouponEvent>, CouponError> {
        let info = self.registered()?;
        // First: a compensated order takes nothing here, whatever the coupon's state.
        if self.is_compensated(order_id) {
            return Err(CouponError::OrderCompensated(order_id));
        }
        let held = self
            .user_coupon(user_coupon_id)
            .filter(|held| held.user_id == user_id)
            .ok_or(CouponError::Unavailable)?;
        match held.used_by {
            // A replayed saga step: already done, even if the window closed meanwhile.
            Some(used_by) if used_by == order_id => return Ok(Vec::new()),
            Some(_) => return Err(CouponError::Unavailable),
            None => {}
        }
        if !info.is_active_at(now) {
            return Err(CouponError::Unavailable);
        }
        Ok(vec![CouponEvent::CouponUsed(CouponUsed {
            coupon_id: info.coupon_id,
            user_coupon_id,
            order_id,
        })])
    }

    fn restore(
        &self,
        user_coupon_id: UserCouponId,
        order_id: OrderId,
    ) -> Result<Vec<CouponEvent>, CouponError> {
        let info = self.registered()?;
        // A compensation never fails: a coupon used by this very order is given back; one
        // it never used (unknown, someone else's, used by another order, not yet used)
        // records that the order is compensated here all the same, so a use for it that
        // arrives later is refused; a second compensation is a no-op.
        let used_by_order = self
            .user_coupon(user_coupon_id)
            .is_some_and(|held| held.used_by == Some(order_id));
        if used_by_order {
            return Ok(vec![CouponEvent::CouponRestored(CouponRestored {
                coupon_id: info.coupon_id,
                user_coupon_id,
                order_id,
            })]);
        }
        if self.is_compensated(order_id) {
            return Ok(Vec::new());
        }
        Ok(vec![CouponEvent::CouponUseVoided(CouponUseVoided {
            coupon_id: info.coupon_id,
            user_coupon_id,
            order_id,
        })])
    }

    /// Whether `order_id` was compensated here. The executor loads the entry before any
    /// command that asks; a history folded in full knows every entry it wrote, so an
    /// unknown one is one never written.
    fn is_compensated(&self, order_id: OrderId) -> bool {
        match self.compensated.get(&order_id) {
            Known::Present(()) => true,
            Known::Absent | Known::Unknown => false,
        }
    }
}

impl Aggregate for Coupon {
    type Command = CouponCommand;
    type Event = CouponEvent;
    type Error = CouponError;
    type Reply = CouponReply;

    /// 3: the holders moved out of the state into keyed entries. 4: the payload starts
    /// with the layout fingerprint.
    const SNAPSHOT_VERSION: u16 = 4;

    const NAME: &'static str = "coupon";

    fn trace_enums(tracer: &mut serde_reflection::Tracer) -> serde_reflection::Result<()> {
        tracer.trace_simple_type::<DiscountKind>()?;
        Ok(())
    }

    fn command_name(command: &Self::Command) -> &'static str {
        match command {
            CouponCommand::Register { .. } => "register",
            CouponCommand::Issue { .. } => "issue",
            CouponCommand::Use { .. } => "use",
            CouponCommand::Restore { .. } => "restore",
        }
    }

    fn decide(&self, command: &CouponCommand) -> Result<Vec<CouponEvent>, CouponError> {
        match command {
            CouponCommand::Register {
                coupon_id,
                name,
                discount,
                total_quantity,
                valid_from,
                valid_until,
            } => self.register(CouponRegistered {
                coupon_id: *coupon_id,
                name: name.clone(),
                discount: *discount,
                total_quantity: *total_quantity,
                valid_from: *valid_from,
                valid_until: *valid_until,
            }),
            CouponCommand::Issue { user_id, now } => self.issue(*user_id, *now),
            CouponCommand::Use {
                user_coupon_id,
                user_id,
                order_id,
                now,
            } => self.use_coupon(*user_coupon_id, *user_id, *order_id, *now),
            CouponCommand::Restore {
                user_coupon_id,
                order_id,
            } => self.restore(*user_coupon_id, *order_id),
        }
    }

    /// Events that need a registered coupon are ignored before registration, a second
    /// registration is ignored, and use/restore of an unknown user coupon is ignored;
    /// none of these is ever decided, so this only keeps `evolve` total.
    fn evolve(mut self, event: &CouponEvent) -> Self {
        if self.info.is_none() {
            if let CouponEvent::CouponRegistered(registered) = event {
                self.info = Some(CouponInfo {
                    coupon_id: registered.coupon_id,
                    name: registered.name.clone(),
                    discount: registered.discount,
                    total_quantity: registered.total_quantity,
                    valid_from: registered.valid_from,
                    valid_until: registered.valid_until,
                });
            }
            return self;
        }
        match event {
            CouponEvent::CouponRegistered(_) => {}
            CouponEvent::CouponIssued(issued) => {
                self.issued_quantity = self.issued_quantity.max(issued.sequence);
                self.holders
                    .write(issued.user_id, issued.user_coupon_id, true);
                self.user_coupons.write(
                    issued.user_coupon_id,
                    UserCoupon {
                        user_coupon_id: issued.user_coupon_id,
                        user_id: issued.user_id,
                        sequence: issued.sequence,
                        used_by: None,
                    },
                    false,
                );
            }
            CouponEvent::CouponUsed(used) => {
                self.user_coupons.update(used.user_coupon_id, |held| {
                    held.used_by = Some(used.order_id)
                });
            }
            CouponEvent::CouponRestored(restored) => {
                self.user_coupons
                    .update(restored.user_coupon_id, |held| held.used_by = None);
                self.compensated.write(restored.order_id, (), false);
            }
            CouponEvent::CouponUseVoided(voided) => {
                self.compensated.write(voided.order_id, (), false);
            }
        }
        self
    }

    fn reply(&self, command: &CouponCommand) -> CouponReply {
        let user_coupon = match command {
            CouponCommand::Register { .. } => None,
            CouponCommand::Issue { user_id, .. } => self.held_by(*user_id).copied(),
            CouponCommand::Use { user_coupon_id, .. }
            | CouponCommand::Restore { user_coupon_id, .. } => {
                self.user_coupon(*user_coupon_id).copied()
            }
        };
        CouponReply {
            coupon: self.info.clone(),
            issued_quantity: self.issued_quantity,
            remaining: self.remaining(),
            user_coupon,
        }
    }

    fn missing_entries(&self, command: &CouponCommand) -> Vec<String> {
        Coupon::keys(command)
            .into_iter()
            .filter(|key| !self.knows(*key))
            .map(Key::name)
            .collect()
    }

    fn learn(&mut self, name: &str, stored: Option<&[u8]>) -> Result<(), EntryError> {
        let unreadable = |_| EntryError(name.to_owned());
        match Key::parse(name).ok_or_else(|| EntryError(name.to_owned()))? {
            Key::Holder(user) => self.holders.learn(user, stored).map_err(unreadable),
            Key::UserCoupon(id) => self.user_coupons.learn(id, stored).map_err(unreadable),
            Key::Compensated(order) => self.compensated.learn(order, stored).map_err(unreadable),
        }
    }

    fn take_entries(&mut self) -> Vec<EntryWrite> {
        let mut writes = self.holders.take_writes(|user| Key::Holder(*user).name());
        writes.extend(
            self.user_coupons
                .take_writes(|id| Key::UserCoupon(*id).name()),
        );
        writes.extend(
            self.compensated
                .take_writes(|order| Key::Compensated(*order).name()),
        );
        writes
    }

    fn forget(&mut self) {
        self.holders.forget();
        self.user_coupons.forget();
        self.compensated.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay;
    use crate::testing::{given, given_state};

    fn cid() -> CouponId {
        CouponId::new(9).expect("positive id")
    }

    fn user(n: i64) -> UserId {
        UserId::new(n).expect("positive id")
    }

    /// The user coupon of this test coupon's `sequence`-th issue.
    fn uc(sequence: i64) -> UserCouponId {
        UserCouponId::compose(cid(), sequence).expect("composable id")
    }

    fn order(n: i64) -> OrderId {
        OrderId::new(n).expect("positive id")
    }

    /// Seconds since the epoch as an instant.
    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("in range")
    }

    const FROM: i64 = 1_000;
    const UNTIL: i64 = 2_000;

    fn fixed(value: i64) -> Discount {
        Discount {
            kind: DiscountKind::Fixed,
            value,
        }
    }

    fn percent(value: i64) -> Discount {
        Discount {
            kind: DiscountKind::Percent,
            value,
        }
    }

    fn register_cmd(
        discount: Discount,
        total_quantity: i64,
        valid_from: Option<i64>,
        valid_until: Option<i64>,
    ) -> CouponCommand {
        CouponCommand::Register {
            coupon_id: cid(),
            name: "Welcome".to_owned(),
            discount,
            total_quantity,
            valid_from: valid_from.map(at),
            valid_until: valid_until.map(at),
        }
    }

    fn registered_with(discount: Discount, total_quantity: i64) -> CouponEvent {
        CouponEvent::CouponRegistered(CouponRegistered {
            coupon_id: cid(),
            name: "Welcome".to_owned(),
            discount,
            total_quantity,
            valid_from: Some(at(FROM)),
            valid_until: Some(at(UNTIL)),
        })
    }

    /// A 1,000-won coupon, `total` of them, valid in `[FROM, UNTIL)`.
    fn registered(total: i64) -> CouponEvent {
        registered_with(fixed(1_000), total)
    }

    fn issue(user_id: i64, now: i64) -> CouponCommand {
        CouponCommand::Issue {
            user_id: user(user_id),
            now: at(now),
        }
    }

    fn issued(user_id: i64, sequence: i64, now: i64) -> CouponEvent {
        CouponEvent::CouponIssued(CouponIssued {
            coupon_id: cid(),
            user_id: user(user_id),
            user_coupon_id: uc(sequence),
            sequence,
            issued_at: at(now),
        })
    }

    fn use_cmd(user_coupon_id: i64, user_id: i64, order_id: i64, now: i64) -> CouponCommand {
        CouponCommand::Use {
            user_coupon_id: uc(user_coupon_id),
            user_id: user(user_id),
            order_id: order(order_id),
            now: at(now),
        }
    }

    fn used(user_coupon_id: i64, order_id: i64) -> CouponEvent {
        CouponEvent::CouponUsed(CouponUsed {
            coupon_id: cid(),
            user_coupon_id: uc(user_coupon_id),
            order_id: order(order_id),
        })
    }

    fn restore_cmd(user_coupon_id: i64, order_id: i64) -> CouponCommand {
        CouponCommand::Restore {
            user_coupon_id: uc(user_coupon_id),
            order_id: order(order_id),
        }
    }

    fn restored(user_coupon_id: i64, order_id: i64) -> CouponEvent {
        CouponEvent::CouponRestored(CouponRestored {
            coupon_id: cid(),
            user_coupon_id: uc(user_coupon_id),
            order_id: order(order_id),
        })
    }

    #[test]
    fn registering_answers_the_coupon() {
        let then = given::<Coupon>([])
            .when(register_cmd(fixed(1_000), 100, Some(FROM), Some(UNTIL)))
            .then([registered(100)]);
        let reply = then.reply();
        assert_eq!(reply.coupon.map(|c| c.total_quantity), Some(100));
        assert_eq!((reply.issued_quantity, reply.remaining), (0, 100));
        assert_eq!(reply.user_coupon, None);
    }

    #[test]
    fn registering_twice_is_rejected() {
        given::<Coupon>([registered(100)])
            .when(register_cmd(fixed(1_000), 100, None, None))
            .then_error(CouponError::AlreadyRegistered);
    }

    #[test]
    fn names_must_be_present_and_at_most_200_characters() {
        for bad in [String::new(), " ".to_owned(), "쿠".repeat(201)] {
            let command = CouponCommand::Register {
                coupon_id: cid(),
                name: bad,
                discount: fixed(1),
                total_quantity: 1,
                valid_from: None,
                valid_until: None,
            };
            given::<Coupon>([])
                .when(command)
                .then_error(CouponError::InvalidName);
        }
    }

    #[test]
    fn fixed_discounts_are_1_to_1_000_000_000_won() {
        for value in [0, -1, MAX_FIXED_DISCOUNT + 1] {
            given::<Coupon>([])
                .when(register_cmd(fixed(value), 1, Some(FROM), Some(UNTIL)))
                .then_error(CouponError::InvalidDiscount);
        }
        for value in [1, MAX_FIXED_DISCOUNT] {
            given::<Coupon>([])
                .when(register_cmd(fixed(value), 1, Some(FROM), Some(UNTIL)))
                .then([registered_with(fixed(value), 1)]);
        }
    }

    #[test]
    fn percent_discounts_are_1_to_100() {
        for value in [0, 101] {
            given::<Coupon>([])
                .when(register_cmd(percent(value), 1, Some(FROM), Some(UNTIL)))
                .then_error(CouponError::InvalidDiscount);
        }
        for value in [1, 100] {
            given::<Coupon>([])
                .when(register_cmd(percent(value), 1, Some(FROM), Some(UNTIL)))
                .then([registered_with(percent(value), 1)]);
        }
    }

    #[test]
    fn total_quantity_is_1_to_10_000_000() {
        for total in [0, -1, MAX_TOTAL_QUANTITY + 1] {
            given::<Coupon>([])
                .when(register_cmd(fixed(1_000), total, Some(FROM), Some(UNTIL)))
                .then_error(CouponError::InvalidTotalQuantity(total));
        }
        for total in [1, MAX_TOTAL_QUANTITY] {
            given::<Coupon>([])
                .when(register_cmd(fixed(1_000), total, Some(FROM), Some(UNTIL)))
                .then([registered(total)]);
        }
    }

    #[test]
    fn the_validity_window_must_not_be_empty() {
        for (from, until) in [(FROM, FROM), (UNTIL, FROM)] {
            given::<Coupon>([])
                .when(register_cmd(fixed(1_000), 1, Some(from), Some(until)))
                .then_error(CouponError::InvalidValidity);
        }
        // Open-ended on either side is fine.
        given::<Coupon>([])
            .when(register_cmd(fixed(1_000), 1, None, Some(UNTIL)))
            .then([CouponEvent::CouponRegistered(CouponRegistered {
                coupon_id: cid(),
                name: "Welcome".to_owned(),
                discount: fixed(1_000),
                total_quantity: 1,
                valid_from: None,
                valid_until: Some(at(UNTIL)),
            })]);
    }

    #[test]
    fn commands_on_an_unregistered_coupon_are_not_found() {
        for command in [issue(1, FROM), use_cmd(1, 1, 1, FROM), restore_cmd(1, 1)] {
            given::<Coupon>([])
                .when(command)
                .then_error(CouponError::NotFound);
        }
    }

    #[test]
    fn issuing_answers_the_users_coupon_and_what_remains() {
        let then = given::<Coupon>([registered(3)])
            .when(issue(1, FROM))
            .then([issued(1, 1, FROM)]);
        let reply = then.reply();
        assert_eq!(
            reply.user_coupon,
            Some(UserCoupon {
                user_coupon_id: uc(1),
                user_id: user(1),
                sequence: 1,
                used_by: None,
            })
        );
        assert_eq!((reply.issued_quantity, reply.remaining), (1, 2));
    }

    #[test]
    fn issuing_is_allowed_from_valid_from_inclusive_to_valid_until_exclusive() {
        given::<Coupon>([registered(10)])
            .when(issue(1, FROM - 1))
            .then_error(CouponError::NotActive);
        given::<Coupon>([registered(10)])
            .when(issue(1, FROM))
            .then([issued(1, 1, FROM)]);
        given::<Coupon>([registered(10)])
            .when(issue(1, UNTIL - 1))
            .then([issued(1, 1, UNTIL - 1)]);
        given::<Coupon>([registered(10)])
            .when(issue(1, UNTIL))
            .then_error(CouponError::NotActive);
    }

    #[test]
    fn exactly_total_quantity_are_issued_with_sequences_1_to_n() {
        const TOTAL: i64 = 5;
        let mut history = vec![registered(TOTAL)];
        for n in 1..=TOTAL {
            let then = given::<Coupon>(history.clone())
                .when(issue(n, FROM))
                .then([issued(n, n, FROM)]);
            assert_eq!(then.reply().remaining, TOTAL - n);
            history.push(issued(n, n, FROM));
        }
        given::<Coupon>(history)
            .when(issue(TOTAL + 1, FROM))
            .then_error(CouponError::SoldOut);
    }

    #[test]
    fn one_coupon_per_user() {
        given::<Coupon>([registered(10), issued(1, 1, FROM)])
            .when(issue(1, FROM))
            .then_error(CouponError::AlreadyIssued);
    }

    #[test]
    fn a_winner_asking_again_after_sell_out_hears_already_issued() {
        given::<Coupon>([registered(1), issued(1, 1, FROM)])
            .when(issue(1, FROM))
            .then_error(CouponError::AlreadyIssued);
    }

    #[test]
    fn the_holder_can_use_it_inside_the_window() {
        let then = given::<Coupon>([registered(10), issued(1, 1, FROM)])
            .when(use_cmd(1, 1, 50, FROM + 1))
            .then([used(1, 50)]);
        assert_eq!(
            then.reply().user_coupon.and_then(|c| c.used_by),
            Some(order(50))
        );
    }

    #[test]
    fn an_unknown_or_someone_elses_coupon_is_unavailable() {
        given::<Coupon>([registered(10), issued(1, 1, FROM)])
            .when(use_cmd(2, 1, 50, FROM))
            .then_error(CouponError::Unavailable);
        given::<Coupon>([registered(10), issued(1, 1, FROM)])
            .when(use_cmd(1, 2, 50, FROM))
            .then_error(CouponError::Unavailable);
    }

    #[test]
    fn a_coupon_outside_its_window_is_unavailable() {
        for now in [FROM - 1, UNTIL] {
            given::<Coupon>([registered(10), issued(1, 1, FROM)])
                .when(use_cmd(1, 1, 50, now))
                .then_error(CouponError::Unavailable);
        }
        given::<Coupon>([registered(10), issued(1, 1, FROM)])
            .when(use_cmd(1, 1, 50, UNTIL - 1))
            .then([used(1, 50)]);
    }

    #[test]
    fn a_used_coupon_cannot_be_used_by_another_order() {
        given::<Coupon>([registered(10), issued(1, 1, FROM), used(1, 50)])
            .when(use_cmd(1, 1, 51, FROM))
            .then_error(CouponError::Unavailable);
    }

    #[test]
    fn using_again_for_the_same_order_is_a_no_op_even_after_the_window() {
        for now in [FROM, UNTIL + 1] {
            given::<Coupon>([registered(10), issued(1, 1, FROM), used(1, 50)])
                .when(use_cmd(1, 1, 50, now))
                .then([]);
        }
    }

    #[test]
    fn restore_frees_the_coupon_once() {
        let then = given::<Coupon>([registered(10), issued(1, 1, FROM), used(1, 50)])
            .when(restore_cmd(1, 50))
            .then([restored(1, 50)]);
        assert_eq!(then.reply().user_coupon.and_then(|c| c.used_by), None);

        given::<Coupon>([
            registered(10),
            issued(1, 1, FROM),
            used(1, 50),
            restored(1, 50),
        ])
        .when(restore_cmd(1, 50))
        .then([]);
    }

    fn voided(user_coupon_id: i64, order_id: i64) -> CouponEvent {
        CouponEvent::CouponUseVoided(CouponUseVoided {
            coupon_id: cid(),
            user_coupon_id: uc(user_coupon_id),
            order_id: order(order_id),
        })
    }

    #[test]
    fn restore_for_an_order_that_never_used_the_coupon_records_it_voided_once() {
        // Used by another order: that use stands.
        let then = given::<Coupon>([registered(10), issued(1, 1, FROM), used(1, 50)])
            .when(restore_cmd(1, 51))
            .then([voided(1, 51)]);
        assert_eq!(
            then.reply().user_coupon.and_then(|c| c.used_by),
            Some(order(50))
        );
        given::<Coupon>([registered(10), issued(1, 1, FROM)])
            .when(restore_cmd(1, 50))
            .then([voided(1, 50)]);
        given::<Coupon>([registered(10)])
            .when(restore_cmd(99, 50))
            .then([voided(99, 50)]);
        given::<Coupon>([registered(10), issued(1, 1, FROM), voided(1, 50)])
            .when(restore_cmd(1, 50))
            .then([]);
    }

    #[test]
    fn a_use_after_a_compensation_that_found_nothing_is_refused() {
        given::<Coupon>([registered(10), issued(1, 1, FROM), voided(1, 50)])
            .when(use_cmd(1, 1, 50, FROM))
            .then_error(CouponError::OrderCompensated(order(50)));
        // The coupon itself stays free for the user's other orders.
        given::<Coupon>([registered(10), issued(1, 1, FROM), voided(1, 50)])
            .when(use_cmd(1, 1, 51, FROM))
            .then([used(1, 51)]);
    }

    #[test]
    fn a_restored_coupon_can_be_used_by_another_order() {
        given::<Coupon>([
            registered(10),
            issued(1, 1, FROM),
            used(1, 50),
            restored(1, 50),
        ])
        .when(use_cmd(1, 1, 51, FROM))
        .then([used(1, 51)]);
    }

    #[test]
    fn issued_ids_name_the_coupon_and_the_sequence() {
        let then = given::<Coupon>([registered(10), issued(1, 1, FROM)])
            .when(issue(2, FROM))
            .then([issued(2, 2, FROM)]);
        let held = then.reply().user_coupon.expect("issued");
        assert_eq!(held.user_coupon_id.get(), 900_000_002);
        assert_eq!(held.user_coupon_id.coupon_id(), Some(cid()));
    }

    #[test]
    fn the_order_a_coupon_was_restored_from_cannot_take_it_again() {
        given::<Coupon>([
            registered(10),
            issued(1, 1, FROM),
            used(1, 50),
            restored(1, 50),
        ])
        .when(use_cmd(1, 1, 50, FROM))
        .then_error(CouponError::OrderCompensated(order(50)));
    }

    #[test]
    fn events_before_registration_are_ignored() {
        let state = replay(Coupon::default(), &[issued(1, 1, FROM), used(1, 50)]);
        assert_eq!(state, Coupon::default());
    }

    #[test]
    fn the_snapshot_is_the_registration_and_a_count_whatever_the_holders() {
        let history = |holders: i64| {
            let mut events = vec![registered_with(percent(15), 1_000_000)];
            events.extend((1..=holders).map(|n| issued(n, n, FROM)));
            events.push(used(1, 50));
            events
        };
        let few = replay(Coupon::default(), &history(2));
        let many = replay(Coupon::default(), &history(5_000));
        let few_bytes = postcard::to_stdvec(&few).expect("encodes");
        let many_bytes = postcard::to_stdvec(&many).expect("encodes");
        assert!(
            many_bytes.len() <= few_bytes.len() + 2,
            "{} vs {}",
            many_bytes.len(),
            few_bytes.len()
        );
        let back: Coupon = postcard::from_bytes(&many_bytes).expect("decodes");
        assert_eq!((back.info(), back.issued_quantity()), (many.info(), 5_000));
        // The holders are entries: a fresh state does not know them until it learns them.
        assert_eq!(back.held_by(user(1)), None);
        assert_eq!(
            back.missing_entries(&issue(1, FROM)),
            vec!["h:1".to_owned()]
        );
    }

    #[test]
    fn what_the_history_wrote_comes_back_as_entries_and_teaches_a_fresh_state() {
        let mut state = replay(
            Coupon::default(),
            &[
                registered(10),
                issued(1, 1, FROM),
                used(1, 50),
                restored(1, 50),
            ],
        );
        let entries = state.take_entries();
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["h:1", &format!("c:{}", uc(1)), "o:50"]);
        assert_eq!(
            entries.iter().map(|e| e.unique).collect::<Vec<_>>(),
            [true, false, false]
        );
        let bytes = postcard::to_stdvec(&state).expect("encodes");
        let mut fresh: Coupon = postcard::from_bytes(&bytes).expect("decodes");
        for entry in &entries {
            fresh
                .learn(&entry.key, Some(&entry.value))
                .expect("readable");
        }
        // Known now: user 1 holds coupon 1, restored, and order 50 may not use it again.
        given_state(fresh.clone())
            .when(issue(1, FROM + 1))
            .then_error(CouponError::AlreadyIssued);
        given_state(fresh)
            .when(use_cmd(1, 1, 50, FROM + 2))
            .then_error(CouponError::OrderCompensated(order(50)));
        assert!(state.learn("x:1", None).is_err());
    }
}
