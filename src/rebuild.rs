//! `shop rebuild <projection>`: replays the event store into a fresh copy of a read model
//! and swaps it in, with a progress bar (indicatif) on stderr. Only the sales ranking so far.

use crate::backend;
use crate::feed::StoreFeed;
use crate::settings::Settings;
use anyhow::Context;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use projections::{RebuildProgress, RedisViews};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RebuildTarget {
    /// `daily_sales`, and the Redis per-day sales keys when Redis and Kafka are configured.
    Ranking,
}

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
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} positions, {msg} ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-"),
    );
    let show = |progress: RebuildProgress| {
        if let Some(head) = progress.head {
            bar.set_length(u64::try_from(head).unwrap_or(0));
        }
        bar.set_position(u64::try_from(progress.position).unwrap_or(0));
        bar.set_message(format!("{} events", progress.events));
    };
    let report =
        projections::rebuild_ranking(&pool, &feed, redis.as_ref(), settings.timezone, &show)
            .await
            .context("the ranking rebuild failed; the live ranking is untouched")?;
    bar.finish();
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
