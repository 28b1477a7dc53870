//! A TCP proxy in front of the real Redis that the test can freeze (replies stop, as from a
//! hung server) or cut (connections drop, as from a crashed one), without touching the
//! shared server other tests use.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct FlakyProxy {
    pub url: String,
    frozen: Arc<AtomicBool>,
    /// Connections opened before the current generation are dropped.
    generation: Arc<AtomicU64>,
}

impl FlakyProxy {
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let frozen = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let upstream = upstream.to_owned();
        let (f, g) = (frozen.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let born = g.load(Ordering::SeqCst);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, f.clone(), g.clone(), born));
                tokio::spawn(pump(sr, cw, f.clone(), g.clone(), born));
            }
        });
        Self {
            url,
            frozen,
            generation,
        }
    }

    pub fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }

    pub fn cut(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
    born: u64,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_millis(20), from.read(&mut buffer)).await;
        if generation.load(Ordering::SeqCst) != born {
            return; // dropping both halves closes the connection
        }
        let n = match read {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            if generation.load(Ordering::SeqCst) != born {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
