//! A backlog of 30,000 events over 500 wallets plus the catalog drains into MySQL and Redis
//! exactly. It also prints the rate (the check is exactness, not speed):
//! `cargo test -p projections --release --test it kafka_throughput -- --nocapture`.
#![allow(clippy::unwrap_used)]

use crate::kafka_support;

use kafka_support::TestEnv;
use kafka_support::history::shop_history;
use kafka_support::model::Model;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_drains_exactly() {
    let mut env = TestEnv::new().await;
    let history = shop_history(500, 60);
    env.produce(&history.messages()).await;
    let shutdown = CancellationToken::new();
    let started = std::time::Instant::now();
    let handles = env.spawn(Some(env.views()), &shutdown);
    env.wait_for(&Model::of(&history, &env.redis_prefix), true)
        .await;
    let elapsed = started.elapsed();
    let events = history.events.len();
    eprintln!(
        "{events} events into every read model in {elapsed:?}: {:.0} events/s \
         (including consumer group joins)",
        events as f64 / elapsed.as_secs_f64()
    );
    for (name, lag) in handles.lag() {
        eprintln!("{name}: {:?}", *lag.borrow());
    }
    shutdown.cancel();
    handles.join().await;
    env.clean_up().await;
}
