//! `shop rebuild <projection>`: replays the event store into a fresh copy of a read model
//! and swaps it in, with a progress line on stderr. Only the sales ranking so far.

use crate::backend;
use crate::feed::StoreFeed;
use crate::settings::Settings;
use anyhow::Context;
use clap::ValueEnum;
use projections::{RebuildProgress, RedisViews};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RebuildTarget {
    /// `daily_sales`, and the Redis per-day sales keys when Redis and Kafka are configured.
    Ranking,
}

const PROGRESS_EVERY: Duration = Duration::from_millis(250);

pub async fn run(settings: &Settings, target: RebuildTarget) -> anyhow::Result<()> {
    match target {
        RebuildTarget::Ranking => ranking(settings).await,
    }
}

async fn ranking(settings: &Settings) -> anyhow::Result<()> {
    let events = backend::open_event_store(settings).await?;
    let pool = backend::open_read_models(settings).await?;
    // Only a Kafka projector keeps the Redis day keys up to date afterwards; filling them
    // without one would leave a ranking in Redis that stops moving.
    let redis = match (&settings.redis_url, &settings.kafka_brokers) {
        (Some(url), Some(_)) => Some(
            RedisViews::connect(url, &settings.redis_prefix)
                .with_context(|| format!("SHOP_REDIS_URL={url} is not usable"))?,
        ),
        _ => None,
    };
    let feed = StoreFeed(events.store);
    let last_shown = Mutex::new(Instant::now() - PROGRESS_EVERY);
    let show = |progress: RebuildProgress| {
        let Ok(mut last) = last_shown.lock() else {
            return;
        };
        if last.elapsed() < PROGRESS_EVERY {
            return;
        }
        *last = Instant::now();
        eprint!("\r{}", progress_line(&progress));
        let _ = std::io::stderr().flush();
    };
    let report =
        projections::rebuild_ranking(&pool, &feed, redis.as_ref(), settings.timezone, &show)
            .await
            .context("the ranking rebuild failed; the live ranking is untouched")?;
    eprintln!();
    println!(
        "rebuilt the ranking at position {}: {} events ({} orders, {} completions) -> {} daily_sales rows{} in {:.2} s, {:.0} events/s",
        report.position,
        report.events,
        report.orders,
        report.completions,
        report.rows,
        if report.redis {
            " and the Redis day keys"
        } else {
            ""
        },
        report.elapsed.as_secs_f64(),
        report.events_per_second(),
    );
    Ok(())
}

/// `[#####-----]  42% 4200/10000 events`, or without a known head just the count.
fn progress_line(progress: &RebuildProgress) -> String {
    match progress.head {
        Some(head) if head > 0 => {
            let done = (progress.position.min(head) as f64 / head as f64).clamp(0.0, 1.0);
            let filled = (done * 30.0).round() as usize;
            format!(
                "[{}{}] {:>3.0}% {}/{} positions, {} events",
                "#".repeat(filled),
                "-".repeat(30 - filled),
                done * 100.0,
                progress.position,
                head,
                progress.events
            )
        }
        _ => format!("{} events", progress.events),
    }
}
