//! A TCP proxy between a role and a server, for cutting the connection mid-run: `cut`
//! resets every open connection and refuses new ones until `restore`. From the role's
//! side that is the server gone (killed, or the network down); the server itself runs on,
//! so other tests sharing it see nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    /// Bumped on every cut; open connections watch it and drop.
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy to the server of `url` (`mysql://user:pass@host:port/db`), and that URL
    /// with the proxy's address in place of the server's.
    pub async fn for_database(url: &str) -> (Self, String) {
        let at = url.find('@').expect("a database URL has user@host");
        let slash = at
            + url[at..]
                .find('/')
                .expect("a database URL names its database");
        let proxy = Self::start(url[at + 1..slash].to_owned()).await;
        let through = format!("{}@{}{}", &url[..at], proxy.addr, &url[slash..]);
        (proxy, through)
    }

    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let task = {
            let cut = cut.clone();
            let generation = generation.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        drop(client); // refused: the connection closes at once
                        continue;
                    }
                    let upstream = upstream.clone();
                    let mut cuts = generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = copy_bidirectional(&mut client, &mut server) => {}
                            _ = cuts.changed() => {
                                // Reset rather than close: what a dead peer looks like.
                                let _ = client.set_zero_linger();
                            }
                        }
                    });
                }
            })
        };
        Self {
            addr,
            cut,
            generation,
            task,
        }
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
