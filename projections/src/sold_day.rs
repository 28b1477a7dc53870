//! Which calendar day a sale counts on, and the per-day totals a batch of completions adds
//! up to. "A day" is a calendar day in `SHOP_TIMEZONE`, not in UTC: in Asia/Seoul an order
//! completed at 2026-11-24T15:00:00Z sold on 2026-11-25. Pure; no I/O.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use events::order::OrderCompleted;
use events::{DomainEvent, OrderEvent};
use std::collections::BTreeMap;

/// How long Redis keeps a day's sorted set: longer than the widest ranking window (30
/// days), so every day a ranking can ask for is there, and old days clean themselves up.
pub const SALES_RETENTION_DAYS: u64 = 40;

/// Units sold per (day, product id); ordered so writers touch rows in one order.
pub(crate) type DailyTotals = BTreeMap<(NaiveDate, i64), i64>;

pub(crate) fn sold_date(at: DateTime<Utc>, timezone: Tz) -> NaiveDate {
    at.with_timezone(&timezone).date_naive()
}

/// `YYYY-MM-DD`, the form days take in SQL, Redis keys and the HTTP API.
pub(crate) fn day_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The completion in `event`, if it is one.
pub(crate) fn completion(event: &DomainEvent) -> Option<&OrderCompleted> {
    match event {
        DomainEvent::Order(OrderEvent::OrderCompleted(e)) => Some(e),
        _ => None,
    }
}

/// Adds a completed order's lines to the day it completed on.
pub(crate) fn add_completion(totals: &mut DailyTotals, completed: &OrderCompleted, timezone: Tz) {
    let date = sold_date(completed.completed_at, timezone);
    for line in &completed.lines {
        *totals.entry((date, line.product_id.get())).or_default() += line.quantity;
    }
}

/// When Redis should drop the sorted set of `date` (Unix seconds): the start of the day
/// `SALES_RETENTION_DAYS` after it, in `timezone`. A replay of old history therefore
/// writes days that expire at once instead of filling Redis.
pub(crate) fn expire_at(date: NaiveDate, timezone: Tz) -> i64 {
    let until = date
        .checked_add_days(Days::new(SALES_RETENTION_DAYS))
        .unwrap_or(date);
    until
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(timezone).earliest())
        .map_or(i64::MAX, |start| start.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use events::{Krw, OrderId, OrderLine, ProductId, UserId};

    fn completed(at: DateTime<Utc>, lines: &[(i64, i64)]) -> OrderCompleted {
        OrderCompleted {
            order_id: OrderId::new(1).unwrap(),
            user_id: UserId::new(1).unwrap(),
            lines: lines
                .iter()
                .map(|(product, quantity)| OrderLine {
                    product_id: ProductId::new(*product).unwrap(),
                    quantity: *quantity,
                    unit_price: Krw::new(100).unwrap(),
                })
                .collect(),
            total_amount: Krw::ZERO,
            discount_amount: Krw::ZERO,
            paid_amount: Krw::ZERO,
            completed_at: at,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_day_turns_at_midnight_in_the_configured_zone_not_in_utc() {
        let seoul = chrono_tz::Asia::Seoul;
        let before = Utc.with_ymd_and_hms(2026, 11, 24, 14, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        assert_eq!(sold_date(before, seoul), date(2026, 11, 24));
        assert_eq!(sold_date(after, seoul), date(2026, 11, 25));
        assert_eq!(sold_date(after, chrono_tz::UTC), date(2026, 11, 24));
        assert_eq!(day_key(date(2026, 1, 2)), "2026-01-02");
    }

    #[test]
    fn completions_add_up_per_day_and_product() {
        let seoul = chrono_tz::Asia::Seoul;
        let mut totals = DailyTotals::new();
        let late = Utc.with_ymd_and_hms(2026, 11, 24, 14, 59, 59).unwrap();
        let next_day = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        add_completion(&mut totals, &completed(late, &[(7, 2), (8, 1)]), seoul);
        add_completion(&mut totals, &completed(late, &[(7, 3)]), seoul);
        add_completion(&mut totals, &completed(next_day, &[(7, 4)]), seoul);
        let expected = DailyTotals::from([
            ((date(2026, 11, 24), 7), 5),
            ((date(2026, 11, 24), 8), 1),
            ((date(2026, 11, 25), 7), 4),
        ]);
        assert_eq!(totals, expected);
    }

    #[test]
    fn a_day_expires_retention_days_after_its_start_in_the_zone() {
        let seoul = chrono_tz::Asia::Seoul;
        // 2027-01-04T00:00:00+09:00 = 2027-01-03T15:00:00Z.
        let expected = Utc.with_ymd_and_hms(2027, 1, 3, 15, 0, 0).unwrap();
        assert_eq!(expire_at(date(2026, 11, 25), seoul), expected.timestamp());
    }
}
