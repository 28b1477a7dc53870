//! `cargo run --release --bin bench -- <scenario>`: rushes one hot coupon with many
//! concurrent HTTP clients and prints throughput, latency percentiles and the count issued
//! (the run fails unless it is exact).
//!
//! - `coupon-rush`: the embedded service in this process, the mailbox executor (group
//!   commit) and the naive direct one (one optimistic append per command) side by side.
//! - `full-coupon-rush`: the full stack as separate processes (two command nodes on MySQL,
//!   relay, Kafka, projector, Redis, query API), plus write -> read-model lag.
//! - `ranking`: the original top-5 SQL over 2M `daily_sales` rows in MariaDB (without and
//!   with the covering index) against `GET /v1/rankings/top-products` from Redis and moka.
//! - `orders`: a mixed order load on the embedded service (the saga end to end).

mod embedded;
mod full;
mod orders;
mod ranking;
mod rush;

use anyhow::bail;
use clap::{Parser, Subcommand};
use embedded::Outcome;
use rush::ms;
use shop::settings::{ExecutorStrategy, SqliteSync};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Embedded: distinct users rush one coupon; 3/4 of them can win.
    CouponRush {
        /// Concurrent HTTP clients (each a keep-alive connection).
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Issue requests per run of the mailbox executor.
        #[arg(long, default_value_t = 40_000)]
        requests: i64,
        /// Issue requests per run of the direct executor: it manages a few hundred a
        /// second under this contention, so a full-size run would take minutes.
        #[arg(long, default_value_t = 2_000)]
        direct_requests: i64,
        /// `both`, `mailbox` or `direct`.
        #[arg(long, default_value = "both")]
        strategy: String,
        /// SQLite fsync policy for the run.
        #[arg(long, default_value = "full")]
        sync: String,
    },
    /// Full stack across processes (needs `scripts/services.sh up` and a release `shop`).
    FullCouponRush {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 40_000)]
        requests: i64,
    },
    /// The seed's top-5 SQL over `rows` daily_sales rows in MariaDB, with and without the
    /// covering index, against the ranking API (needs `scripts/services.sh up`).
    Ranking {
        /// daily_sales rows to load.
        #[arg(long, default_value_t = 2_000_000)]
        rows: usize,
        /// Days the rows spread over, ending today in Asia/Seoul (queries cover the last
        /// 3 and all of them).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(3..=365))]
        days: u32,
        /// Timed runs of each SQL variant.
        #[arg(long, default_value_t = 21)]
        sql_runs: usize,
        /// Sequential API requests timed.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
    },
    /// Embedded: a mixed order load (completions, refusals for stock, balance, coupons).
    Orders {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 20_000)]
        orders: i64,
        #[arg(long, default_value_t = 5_000)]
        users: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let results = match Cli::parse().scenario {
        Scenario::Ranking {
            rows,
            days,
            sql_runs,
            requests,
        } => {
            return ranking::run(ranking::Options {
                rows,
                days: days as usize,
                sql_runs,
                requests,
            })
            .await;
        }
        Scenario::Orders {
            clients,
            orders,
            users,
        } => {
            return orders::run(orders::OrderLoad {
                clients,
                orders,
                users,
            })
            .await;
        }
        Scenario::CouponRush {
            clients,
            requests,
            direct_requests,
            strategy,
            sync,
        } => {
            let sync = match sync.as_str() {
                "full" => SqliteSync::Full,
                "normal" => SqliteSync::Normal,
                other => bail!("--sync must be full or normal, not {other}"),
            };
            let strategies: &[(&'static str, ExecutorStrategy, i64)] = match strategy.as_str() {
                "both" => &[
                    (
                        "mailbox (group commit)",
                        ExecutorStrategy::Mailbox,
                        requests,
                    ),
                    (
                        "direct (naive optimistic)",
                        ExecutorStrategy::Direct,
                        direct_requests,
                    ),
                ],
                "mailbox" => &[(
                    "mailbox (group commit)",
                    ExecutorStrategy::Mailbox,
                    requests,
                )],
                "direct" => &[(
                    "direct (naive optimistic)",
                    ExecutorStrategy::Direct,
                    direct_requests,
                )],
                other => bail!("--strategy must be both, mailbox or direct, not {other}"),
            };
            println!(
                "coupon rush (embedded): distinct users rush one coupon of 3/4 as many as \
                 requests, {clients} concurrent clients, SQLite synchronous={sync:?}"
            );
            let mut results = Vec::new();
            for &(label, executor, requests) in strategies {
                results.push((
                    label,
                    embedded::run(executor, sync, clients, requests).await?,
                ));
            }
            results
        }
        Scenario::FullCouponRush { clients, requests } => {
            println!(
                "coupon rush (full stack): two command-api processes on MySQL, relay, Kafka, \
                 projector, Redis, query API; {clients} clients spread over both nodes"
            );
            vec![("full: 2 command nodes", full::run(clients, requests).await?)]
        }
    };
    print_table(&results);
    for (label, result) in &results {
        if result.rush.created != result.total_quantity
            || result.issued_in_read_model != result.total_quantity
        {
            bail!("{label}: not exact");
        }
    }
    Ok(())
}

fn print_table(results: &[(&str, Outcome)]) {
    println!(
        "\n{:<28} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9} {:>6} {:>13} {:>9} {:>9}",
        "run",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "201",
        "409",
        "other",
        "read model",
        "lag p50",
        "lag p99"
    );
    for (label, r) in results {
        let lag = |q: f64| {
            if r.rush.lag.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.1}", ms(&r.rush.lag, q))
            }
        };
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>9} {:>6} {:>13} {:>9} {:>9}",
            label,
            r.rush.requests_per_second(),
            ms(&r.rush.latencies, 0.50),
            ms(&r.rush.latencies, 0.95),
            ms(&r.rush.latencies, 0.99),
            r.rush.latencies.max() as f64 / 1000.0,
            r.rush.created,
            r.rush.sold_out,
            r.rush.other,
            format!("{}/{}", r.issued_in_read_model, r.total_quantity),
            lag(0.50),
            lag(0.99),
        );
    }
    if results.iter().any(|(_, r)| !r.rush.lag.is_empty()) {
        println!(
            "(lag: from a win's 201 to the query API showing it when asked with the win's consistency token, ms, every 100th win)"
        );
    }
}
