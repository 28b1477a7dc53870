//! `shop rebuild <projection>|all`: replays the event store into fresh copies of read
//! models and swaps them in once caught up (blue/green), with a progress bar (indicatif)
//! on stderr and the events/s figure at the end. Live projectors and queries keep going.

use crate::backend;
use crate::feed::StoreFeed;
use crate::settings::Settings;
use anyhow::Context;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use projections::{Projection, RebuildProgress, RedisViews};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RebuildTarget {
    /// `balances`.
    Balances,
    /// `products`.
    Catalog,
    /// `coupons` and `user_coupons`.
    Coupons,
    /// `orders` and `order_lines`.
    Orders,
    /// `daily_sales` (SQL only; `ranking` also refills the Redis day keys).
    Sales,
    /// `search_products` and `search_grams`, the product-name search index.
    Search,
    /// `daily_sales`, and the Redis per-day sales keys when Redis and Kafka are configured.
    Ranking,
    /// The Redis hot views (balances, products, coupons, orders, sales days), built under
    /// a shadow key prefix and renamed in; needs Redis and Kafka configured.
    RedisViews,
    /// Every SQL read model, swapped in together, then the Redis views if configured.
    All,
}

impl RebuildTarget {
    /// The SQL projection this target names, if it is one.
    fn projection(self) -> Option<&'static str> {
        match self {
            Self::Balances => Some(events::ProjectionName::Balances.name()),
            Self::Catalog => Some(events::ProjectionName::Catalog.name()),
            Self::Coupons => Some(events::ProjectionName::Coupons.name()),
            Self::Orders => Some(events::ProjectionName::Orders.name()),
            Self::Sales => Some(events::ProjectionName::Sales.name()),
            Self::Search => Some(events::ProjectionName::Search.name()),
            Self::Ranking | Self::RedisViews | Self::All => None,
        }
    }
}

pub async fn run(settings: &Settings, target: RebuildTarget) -> anyhow::Result<()> {
    let feed = StoreFeed(backend::open_event_store(settings).await?.store);
    match target {
        RebuildTarget::Ranking => ranking(settings, &feed).await,
        RebuildTarget::RedisViews => {
            let views = redis_views(settings)?.context(
                "the Redis views exist only with SHOP_REDIS_URL and SHOP_KAFKA_BROKERS set",
            )?;
            redis(settings, &feed, &views).await
        }
        RebuildTarget::All => {
            read_models(settings, &feed, projections::all(settings.timezone)).await?;
            match redis_views(settings)? {
                Some(views) => redis(settings, &feed, &views).await,
                None => Ok(()),
            }
        }
        named => {
            let selected = projections::all(settings.timezone)
                .into_iter()
                .filter(|projection| Some(projection.name()) == named.projection())
                .collect();
            read_models(settings, &feed, selected).await
        }
    }
}

async fn read_models(
    settings: &Settings,
    feed: &StoreFeed,
    selected: Vec<Box<dyn Projection>>,
) -> anyhow::Result<()> {
    let names: Vec<&str> = selected
        .iter()
        .map(|projection| projection.name())
        .collect();
    let names = names.join(", ");
    let pool = backend::open_read_models(settings).await?;
    let bar = progress_bar();
    let report = projections::rebuild_read_models(
        &pool,
        &settings.read_model_url(),
        selected,
        feed,
        &|progress| show(&bar, progress),
    )
    .await
    .with_context(|| format!("rebuilding {names} failed; the live read models are untouched"))?;
    bar.finish();
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|(table, rows)| format!("{table} {rows}"))
        .collect();
    println!(
        "rebuilt {names} at position {}: {} events -> rows: {} in {:.2} s, {:.0} events/s (the swap held live projectors for {} ms)",
        report.position,
        report.events,
        rows.join(", "),
        report.elapsed.as_secs_f64(),
        report.events_per_second(),
        report.swap.as_millis(),
    );
    Ok(())
}

async fn ranking(settings: &Settings, feed: &StoreFeed) -> anyhow::Result<()> {
    let pool = backend::open_read_models(settings).await?;
    let redis = redis_views(settings)?;
    let bar = progress_bar();
    let report = projections::rebuild_ranking(
        &pool,
        feed,
        redis.as_ref(),
        settings.timezone,
        &|progress| show(&bar, progress),
    )
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

async fn redis(settings: &Settings, feed: &StoreFeed, views: &RedisViews) -> anyhow::Result<()> {
    let bar = progress_bar();
    let report = projections::rebuild_redis_views(views, feed, settings.timezone, &|progress| {
        show(&bar, progress)
    })
    .await
    .context("rebuilding the Redis views failed; the live views are untouched")?;
    bar.finish();
    println!(
        "rebuilt the Redis views at position {}: {} events -> {} keys swapped in, {} stale keys removed in {:.2} s, {:.0} events/s",
        report.position,
        report.events,
        report.keys_swapped,
        report.stale_keys_removed,
        report.elapsed.as_secs_f64(),
        report.events_per_second(),
    );
    Ok(())
}

/// The Redis views, if this deployment has them. Only a Kafka projector keeps them up to
/// date afterwards; filling them without one would leave views in Redis that stop moving.
fn redis_views(settings: &Settings) -> anyhow::Result<Option<RedisViews>> {
    match (&settings.redis_url, &settings.kafka_brokers) {
        (Some(url), Some(_)) => Ok(Some(
            RedisViews::connect(url, &settings.redis_prefix).with_context(|| {
                format!(
                    "SHOP_REDIS_URL={} is not usable",
                    crate::secret::SecretUrl::from(url.as_str())
                )
            })?,
        )),
        _ => Ok(None),
    }
}

fn progress_bar() -> ProgressBar {
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} positions, {msg} ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-"),
    )
}

fn show(bar: &ProgressBar, progress: RebuildProgress) {
    if let Some(head) = progress.head {
        bar.set_length(u64::try_from(head).unwrap_or(0));
    }
    bar.set_position(u64::try_from(progress.position).unwrap_or(0));
    bar.set_message(format!("{} events", progress.events));
}
