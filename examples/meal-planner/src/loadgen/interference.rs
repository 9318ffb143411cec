//! Interference: CPU contention (busy threads) and a latency-injecting TCP proxy
//! between the service and PostgreSQL.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::LoadError;

/// Busy threads competing with the service for the CPU. They stop when this is
/// dropped or at their deadline, whichever comes first.
#[derive(Debug)]
pub struct CpuContention {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl CpuContention {
    /// Starts `threads` busy threads (at most the core count) until `deadline`.
    pub fn start(threads: u32, deadline: Instant) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..(threads as usize).min(cores))
            .filter_map(|i| {
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name(format!("cpu-contention-{i}"))
                    .spawn(move || spin(&stop, deadline))
                    .ok()
            })
            .collect();
        CpuContention { stop, threads }
    }

    /// Threads running.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }
}

fn spin(stop: &AtomicBool, deadline: Instant) {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

impl Drop for CpuContention {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::warn!("a CPU contention thread panicked");
            }
        }
    }
}

/// A TCP proxy on loopback that delays everything the upstream (PostgreSQL)
/// sends by an adjustable amount, without limiting throughput: each chunk is
/// held until its arrival time plus the delay.
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    delay_us: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LatencyProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`, which must be loopback.
    pub async fn start(upstream: SocketAddr) -> Result<Self, LoadError> {
        if !upstream.ip().is_loopback() {
            return Err(LoadError::Target(format!(
                "the proxy forwards to loopback only, not {upstream}"
            )));
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| LoadError::Io(format!("cannot bind the proxy: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LoadError::Io(e.to_string()))?;
        let delay_us = Arc::new(AtomicU64::new(0));
        let delay = Arc::clone(&delay_us);
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let delay = Arc::clone(&delay);
                tokio::spawn(async move {
                    if let Err(e) = relay(inbound, upstream, delay).await {
                        tracing::debug!(error = %e, "proxy connection ended");
                    }
                });
            }
        });
        Ok(LatencyProxy {
            addr,
            delay_us,
            task,
        })
    }

    /// Where the service should connect instead of PostgreSQL.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the added latency (for new chunks).
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_us.store(us, Ordering::Relaxed);
    }

    /// The added latency.
    pub fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_us.load(Ordering::Relaxed))
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    inbound: TcpStream,
    upstream: SocketAddr,
    delay: Arc<AtomicU64>,
) -> std::io::Result<()> {
    inbound.set_nodelay(true)?;
    let outbound = TcpStream::connect(upstream).await?;
    outbound.set_nodelay(true)?;
    let (mut client_read, mut client_write) = inbound.into_split();
    let (mut server_read, mut server_write) = outbound.into_split();
    let to_server = async {
        let r = tokio::io::copy(&mut client_read, &mut server_write).await;
        server_write.shutdown().await.ok();
        r.map(|_| ())
    };
    let (tx, mut rx) = mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(256);
    let read_server = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            let due =
                tokio::time::Instant::now() + Duration::from_micros(delay.load(Ordering::Relaxed));
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                return Ok(());
            }
        }
    };
    let write_client = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            client_write.write_all(&chunk).await?;
        }
        client_write.shutdown().await.ok();
        Ok::<(), std::io::Error>(())
    };
    let (a, b, c) = tokio::join!(to_server, read_server, write_client);
    a.and(b).and(c)
}
