//! A user's point wallet (`wallet-{userId}`): charges from the user, and the order saga's
//! deductions and refunds.
//!
//! Every command here may be retried (a client resending its Idempotency-Key, a saga step
//! replayed after a crash), so each one is idempotent: charges by idempotency key,
//! deductions and refunds by order id. A refund always leaves a mark, even for an order
//! never deducted here (a `PointsRefunded` of 0): several drivers may run one order, and
//! a deduction from one of them that arrives after the order was compensated must be
//! refused, not take points nobody will give back.

use super::Aggregate;
use events::wallet::{PointsCharged, PointsDeducted, PointsRefunded};
use events::{Krw, OrderId, UserId, WalletEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Smallest single charge, in won.
pub const MIN_CHARGE: i64 = 1;
/// Largest single charge, in won.
pub const MAX_CHARGE: i64 = 10_000_000;
/// A charge may never take the balance above this, in won.
pub const MAX_BALANCE: i64 = 1_000_000_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    balance: Krw,
    /// Every idempotency key charged so far, so a resent request answers with the
    /// balance the first one produced instead of charging twice.
    charges: BTreeMap<String, ChargeRecord>,
    /// Orders paid from this wallet and how much each took; a refund gives back
    /// exactly that amount.
    deducted: BTreeMap<OrderId, Krw>,
    /// Orders compensated here and what each got back (0 for one never deducted), so a
    /// compensation runs once and a late deduction for such an order is refused.
    refunded: BTreeMap<OrderId, Krw>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRecord {
    pub amount: Krw,
    /// The balance right after this charge: what a repeat of the request answers.
    pub balance_after: Krw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletCommand {
    Charge {
        user_id: UserId,
        amount: Krw,
        idempotency_key: Option<String>,
    },
    Deduct {
        user_id: UserId,
        order_id: OrderId,
        amount: Krw,
    },
    /// Gives back what was deducted for `order_id`. `amount` is what the saga expects;
    /// the refund always uses the amount actually deducted.
    Refund {
        user_id: UserId,
        order_id: OrderId,
        amount: Krw,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("a charge must be between {MIN_CHARGE} and {MAX_CHARGE} won, got {0}")]
    ChargeOutOfRange(Krw),
    #[error("the balance may not exceed {MAX_BALANCE} won (balance {balance}, charge {amount})")]
    BalanceLimitExceeded { balance: Krw, amount: Krw },
    #[error("the idempotency key was already used for a charge of {original}, not {requested}")]
    IdempotencyKeyReused { original: Krw, requested: Krw },
    #[error("insufficient balance: {balance} available, {requested} requested")]
    InsufficientBalance { balance: Krw, requested: Krw },
    /// The order was already refunded here (it was cancelled): only a late saga step asks
    /// to deduct for it.
    #[error("order {0} was already compensated on this wallet")]
    OrderCompensated(OrderId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WalletReply {
    /// The balance now, or for a repeated idempotency key the balance right after the
    /// first charge with that key.
    pub balance: Krw,
}

impl Wallet {
    pub fn balance(&self) -> Krw {
        self.balance
    }

    pub fn charge_for_key(&self, idempotency_key: &str) -> Option<ChargeRecord> {
        self.charges.get(idempotency_key).copied()
    }

    pub fn is_deducted(&self, order_id: OrderId) -> bool {
        self.deducted.contains_key(&order_id)
    }

    pub fn is_refunded(&self, order_id: OrderId) -> bool {
        self.refunded.contains_key(&order_id)
    }

    fn charge(
        &self,
        user_id: UserId,
        amount: Krw,
        idempotency_key: Option<&String>,
    ) -> Result<Vec<WalletEvent>, WalletError> {
        if !(MIN_CHARGE..=MAX_CHARGE).contains(&amount.won()) {
            return Err(WalletError::ChargeOutOfRange(amount));
        }
        if let Some(previous) = idempotency_key.and_then(|key| self.charges.get(key)) {
            return if previous.amount == amount {
                Ok(Vec::new())
            } else {
                Err(WalletError::IdempotencyKeyReused {
                    original: previous.amount,
                    requested: amount,
                })
            };
        }
        let within_limit = self
            .balance
            .checked_add(amount)
            .is_some_and(|after| after.won() <= MAX_BALANCE);
        if !within_limit {
            return Err(WalletError::BalanceLimitExceeded {
                balance: self.balance,
                amount,
            });
        }
        Ok(vec![WalletEvent::PointsCharged(PointsCharged {
            user_id,
            amount,
            idempotency_key: idempotency_key.cloned(),
        })])
    }

    fn deduct(
        &self,
        user_id: UserId,
        order_id: OrderId,
        amount: Krw,
    ) -> Result<Vec<WalletEvent>, WalletError> {
        if self.refunded.contains_key(&order_id) {
            return Err(WalletError::OrderCompensated(order_id));
        }
        if self.deducted.contains_key(&order_id) {
            return Ok(Vec::new());
        }
        if self.balance.checked_sub(amount).is_none() {
            return Err(WalletError::InsufficientBalance {
                balance: self.balance,
                requested: amount,
            });
        }
        Ok(vec![WalletEvent::PointsDeducted(PointsDeducted {
            user_id,
            order_id,
            amount,
        })])
    }

    fn refund(&self, user_id: UserId, order_id: OrderId) -> Vec<WalletEvent> {
        // A compensation must never fail: already refunded is a no-op, and the balance cap
        // does not apply (the points were the user's to begin with). Nothing deducted
        // still records a refund (of 0), so a deduction for the order arriving later is
        // refused.
        if self.refunded.contains_key(&order_id) {
            return Vec::new();
        }
        let amount = self.deducted.get(&order_id).copied().unwrap_or(Krw::ZERO);
        vec![WalletEvent::PointsRefunded(PointsRefunded {
            user_id,
            order_id,
            amount,
        })]
    }
}

/// Saturating so `evolve` stays total; `decide` keeps real balances far from `i64::MAX`.
fn add(balance: Krw, amount: Krw) -> Krw {
    balance.checked_add(amount).unwrap_or(balance)
}

impl Aggregate for Wallet {
    type Command = WalletCommand;
    type Event = WalletEvent;
    type Error = WalletError;
    type Reply = WalletReply;

    /// 2: the payload starts with the layout fingerprint.
    const SNAPSHOT_VERSION: u16 = 2;

    const NAME: &'static str = "wallet";

    fn command_name(command: &Self::Command) -> &'static str {
        match command {
            WalletCommand::Charge { .. } => "charge",
            WalletCommand::Deduct { .. } => "deduct",
            WalletCommand::Refund { .. } => "refund",
        }
    }

    fn decide(&self, command: &WalletCommand) -> Result<Vec<WalletEvent>, WalletError> {
        match command {
            WalletCommand::Charge {
                user_id,
                amount,
                idempotency_key,
            } => self.charge(*user_id, *amount, idempotency_key.as_ref()),
            WalletCommand::Deduct {
                user_id,
                order_id,
                amount,
            } => self.deduct(*user_id, *order_id, *amount),
            WalletCommand::Refund {
                user_id, order_id, ..
            } => Ok(self.refund(*user_id, *order_id)),
        }
    }

    fn evolve(mut self, event: &WalletEvent) -> Self {
        match event {
            WalletEvent::PointsCharged(charged) => {
                self.balance = add(self.balance, charged.amount);
                if let Some(key) = &charged.idempotency_key {
                    self.charges.insert(
                        key.clone(),
                        ChargeRecord {
                            amount: charged.amount,
                            balance_after: self.balance,
                        },
                    );
                }
            }
            WalletEvent::PointsDeducted(deducted) => {
                self.balance = self
                    .balance
                    .checked_sub(deducted.amount)
                    .unwrap_or(Krw::ZERO);
                self.deducted.insert(deducted.order_id, deducted.amount);
            }
            WalletEvent::PointsRefunded(refunded) => {
                self.balance = add(self.balance, refunded.amount);
                self.refunded.insert(refunded.order_id, refunded.amount);
            }
        }
        self
    }

    fn reply(&self, command: &WalletCommand) -> WalletReply {
        let first_charge = match command {
            WalletCommand::Charge {
                idempotency_key: Some(key),
                ..
            } => self.charges.get(key),
            _ => None,
        };
        WalletReply {
            balance: first_charge.map_or(self.balance, |charge| charge.balance_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn won(n: i64) -> Krw {
        Krw::new(n).expect("non-negative amount")
    }

    fn user() -> UserId {
        UserId::new(7).expect("positive id")
    }

    fn order(n: i64) -> OrderId {
        OrderId::new(n).expect("positive id")
    }

    fn charge(amount: i64, key: Option<&str>) -> WalletCommand {
        WalletCommand::Charge {
            user_id: user(),
            amount: won(amount),
            idempotency_key: key.map(str::to_owned),
        }
    }

    fn charged(amount: i64, key: Option<&str>) -> WalletEvent {
        WalletEvent::PointsCharged(PointsCharged {
            user_id: user(),
            amount: won(amount),
            idempotency_key: key.map(str::to_owned),
        })
    }

    fn deduct(order_id: i64, amount: i64) -> WalletCommand {
        WalletCommand::Deduct {
            user_id: user(),
            order_id: order(order_id),
            amount: won(amount),
        }
    }

    fn deducted(order_id: i64, amount: i64) -> WalletEvent {
        WalletEvent::PointsDeducted(PointsDeducted {
            user_id: user(),
            order_id: order(order_id),
            amount: won(amount),
        })
    }

    fn refund(order_id: i64, amount: i64) -> WalletCommand {
        WalletCommand::Refund {
            user_id: user(),
            order_id: order(order_id),
            amount: won(amount),
        }
    }

    fn refunded(order_id: i64, amount: i64) -> WalletEvent {
        WalletEvent::PointsRefunded(PointsRefunded {
            user_id: user(),
            order_id: order(order_id),
            amount: won(amount),
        })
    }

    #[test]
    fn a_charge_of_zero_is_out_of_range() {
        given::<Wallet>([])
            .when(charge(0, None))
            .then_error(WalletError::ChargeOutOfRange(won(0)));
    }

    #[test]
    fn a_charge_of_one_won_is_accepted() {
        let then = given::<Wallet>([])
            .when(charge(1, None))
            .then([charged(1, None)]);
        assert_eq!(then.reply(), WalletReply { balance: won(1) });
    }

    #[test]
    fn a_charge_of_exactly_the_maximum_is_accepted() {
        given::<Wallet>([])
            .when(charge(MAX_CHARGE, None))
            .then([charged(MAX_CHARGE, None)]);
    }

    #[test]
    fn a_charge_above_the_maximum_is_out_of_range() {
        given::<Wallet>([])
            .when(charge(MAX_CHARGE + 1, None))
            .then_error(WalletError::ChargeOutOfRange(won(10_000_001)));
    }

    #[test]
    fn charges_accumulate() {
        let then = given::<Wallet>([charged(5_000, None)])
            .when(charge(3_000, Some("k")))
            .then([charged(3_000, Some("k"))]);
        assert_eq!(
            then.reply(),
            WalletReply {
                balance: won(8_000)
            }
        );
    }

    #[test]
    fn a_charge_up_to_the_balance_cap_is_accepted() {
        given::<Wallet>([charged(MAX_BALANCE - 10, None)])
            .when(charge(10, None))
            .then([charged(10, None)]);
    }

    #[test]
    fn a_charge_past_the_balance_cap_is_rejected() {
        given::<Wallet>([charged(MAX_BALANCE - 10, None)])
            .when(charge(11, None))
            .then_error(WalletError::BalanceLimitExceeded {
                balance: won(MAX_BALANCE - 10),
                amount: won(11),
            });
    }

    #[test]
    fn a_repeated_key_with_the_same_amount_charges_once_and_answers_the_first_balance() {
        let then = given::<Wallet>([
            charged(1_000, Some("k")),
            charged(500, None), // the balance moved on since the first charge
        ])
        .when(charge(1_000, Some("k")))
        .then([]);
        assert_eq!(
            then.reply(),
            WalletReply {
                balance: won(1_000)
            }
        );
        assert_eq!(then.state.balance(), won(1_500));
    }

    #[test]
    fn a_repeated_key_with_another_amount_is_rejected() {
        given::<Wallet>([charged(1_000, Some("k"))])
            .when(charge(2_000, Some("k")))
            .then_error(WalletError::IdempotencyKeyReused {
                original: won(1_000),
                requested: won(2_000),
            });
    }

    #[test]
    fn charges_without_a_key_are_never_deduplicated() {
        given::<Wallet>([charged(1_000, None)])
            .when(charge(1_000, None))
            .then([charged(1_000, None)]);
    }

    #[test]
    fn a_deduction_takes_points() {
        let then = given::<Wallet>([charged(1_000, None)])
            .when(deduct(1, 1_000))
            .then([deducted(1, 1_000)]);
        assert_eq!(then.reply(), WalletReply { balance: won(0) });
    }

    #[test]
    fn a_deduction_never_takes_the_balance_below_zero() {
        given::<Wallet>([charged(999, None)])
            .when(deduct(1, 1_000))
            .then_error(WalletError::InsufficientBalance {
                balance: won(999),
                requested: won(1_000),
            });
    }

    #[test]
    fn a_second_deduction_for_the_same_order_is_a_no_op() {
        let then = given::<Wallet>([charged(5_000, None), deducted(1, 1_000)])
            .when(deduct(1, 1_000))
            .then([]);
        assert_eq!(
            then.reply(),
            WalletReply {
                balance: won(4_000)
            }
        );
    }

    #[test]
    fn a_refund_gives_back_the_deducted_amount_once() {
        let then = given::<Wallet>([charged(5_000, None), deducted(1, 1_000)])
            .when(refund(1, 1_000))
            .then([refunded(1, 1_000)]);
        assert_eq!(
            then.reply(),
            WalletReply {
                balance: won(5_000)
            }
        );

        given::<Wallet>([charged(5_000, None), deducted(1, 1_000), refunded(1, 1_000)])
            .when(refund(1, 1_000))
            .then([]);
    }

    #[test]
    fn a_refund_for_an_order_never_deducted_records_a_refund_of_nothing_once() {
        let then = given::<Wallet>([charged(5_000, None), deducted(1, 1_000)])
            .when(refund(2, 1_000))
            .then([refunded(2, 0)]);
        assert_eq!(
            then.reply(),
            WalletReply {
                balance: won(4_000)
            }
        );
        assert!(then.state.is_refunded(order(2)));

        given::<Wallet>([charged(5_000, None), refunded(2, 0)])
            .when(refund(2, 1_000))
            .then([]);
    }

    #[test]
    fn a_deduction_after_a_refund_of_nothing_is_refused() {
        given::<Wallet>([charged(5_000, None), refunded(2, 0)])
            .when(deduct(2, 1_000))
            .then_error(WalletError::OrderCompensated(order(2)));
    }

    #[test]
    fn a_refund_is_not_capped_by_the_balance_limit() {
        given::<Wallet>([
            charged(MAX_BALANCE, None),
            deducted(1, 100),
            charged(100, None),
        ])
        .when(refund(1, 100))
        .then([refunded(1, 100)]);
    }

    #[test]
    fn a_deduction_after_its_refund_is_refused() {
        given::<Wallet>([charged(5_000, None), deducted(1, 1_000), refunded(1, 1_000)])
            .when(deduct(1, 1_000))
            .then_error(WalletError::OrderCompensated(order(1)));
    }

    #[test]
    fn the_state_survives_a_postcard_round_trip() {
        let state = super::super::replay(
            Wallet::default(),
            &[
                charged(5_000, Some("k")),
                deducted(1, 1_000),
                deducted(2, 500),
                refunded(2, 500),
            ],
        );
        let bytes = postcard::to_stdvec(&state).expect("encodes");
        let back: Wallet = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, state);
    }
}
