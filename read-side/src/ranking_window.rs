//! The ranking's query parameters and the days they cover, and the order of a ranking.
//! Pure; no I/O.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;

pub(crate) const DEFAULT_DAYS: i64 = 3;
pub(crate) const MAX_DAYS: i64 = 30;
pub(crate) const DEFAULT_LIMIT: i64 = 5;
/// Rankings are computed (and cached) this deep once per window; a request takes its
/// `limit` off the top.
pub(crate) const MAX_LIMIT: i64 = 100;

/// A validated `?days=&limit=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RankingParams {
    pub days: u32,
    pub limit: usize,
}

impl RankingParams {
    pub(crate) fn new(days: Option<i64>, limit: Option<i64>) -> Result<Self, String> {
        let days = days.unwrap_or(DEFAULT_DAYS);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(format!("days must be between 1 and {MAX_DAYS}, got {days}"));
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {limit}"
            ));
        }
        Ok(Self {
            days: u32::try_from(days).map_err(|e| e.to_string())?,
            limit: usize::try_from(limit).map_err(|e| e.to_string())?,
        })
    }
}

/// The calendar days a ranking covers: `to` is today in the zone, `from` is `days - 1`
/// days before it; both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Window {
    pub(crate) fn ending_today(now: DateTime<Utc>, timezone: Tz, days: u32) -> Self {
        let to = now.with_timezone(&timezone).date_naive();
        let from = to
            .checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))
            .unwrap_or(to);
        Self { from, to }
    }

    /// Every day of the window, oldest first.
    pub(crate) fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|day| day <= &self.to)
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn day_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Most sold first; ties by product id ascending. Keeps the first `MAX_LIMIT`.
pub(crate) fn rank(mut sold: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    sold.sort_by(|(a_id, a_sold), (b_id, b_sold)| b_sold.cmp(a_sold).then(a_id.cmp(b_id)));
    sold.truncate(MAX_LIMIT as usize);
    sold
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parameters_default_and_are_bounded() {
        assert_eq!(
            RankingParams::new(None, None),
            Ok(RankingParams { days: 3, limit: 5 })
        );
        assert_eq!(
            RankingParams::new(Some(30), Some(100)),
            Ok(RankingParams {
                days: 30,
                limit: 100
            })
        );
        for (days, limit) in [(0, 5), (31, 5), (-1, 5), (3, 0), (3, 101)] {
            assert!(
                RankingParams::new(Some(days), Some(limit)).is_err(),
                "{days} {limit}"
            );
        }
    }

    #[test]
    fn the_window_ends_today_in_the_zone() {
        let seoul = chrono_tz::Asia::Seoul;
        // 2026-11-24T15:00:00Z is already 2026-11-25 in Seoul.
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        let window = Window::ending_today(now, seoul, 3);
        assert_eq!(
            (window.from, window.to),
            (date(2026, 11, 23), date(2026, 11, 25))
        );
        assert_eq!(window.days().count(), 3);
        let one = Window::ending_today(now, chrono_tz::UTC, 1);
        assert_eq!((one.from, one.to), (date(2026, 11, 24), date(2026, 11, 24)));
        assert_eq!(day_key(one.from), "2026-11-24");
    }

    #[test]
    fn ranking_breaks_ties_by_product_id() {
        assert_eq!(
            rank(vec![(9, 5), (10, 5), (2, 7), (1, 1)]),
            [(2, 7), (9, 5), (10, 5), (1, 1)]
        );
        let many: Vec<(i64, i64)> = (1..=150).map(|id| (id, 1)).collect();
        assert_eq!(rank(many).len(), 100);
    }
}
