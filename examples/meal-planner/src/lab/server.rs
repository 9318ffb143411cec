//! The service in a child process (`meal-planner serve`), as the lab's
//! subject starts it: its address, its finch status route (on the operator
//! listener, with a token made for the child), its CPU time, a clean stop.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::http::Method;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::admin;
use crate::loadgen::client::{Client, Target};

/// What `serve` prints once it listens; the address follows.
const ANNOUNCE: &str = "meal-planner on http://";

/// How long a child may take to listen, and then to answer HTTP.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a child may take to exit after `SIGINT`.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Starting, reaching, reading or stopping the child.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServerError(pub String);

/// The service in a child process. The child is killed if this value is
/// dropped before [`stop`](Self::stop).
#[derive(Debug)]
pub struct Server {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    /// The operator routes' client and token, when finch runs.
    admin: Option<(Client, String)>,
}

impl Server {
    /// Runs `exe serve --addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 ARGS` with
    /// `env` and a fresh operator token added to this process's environment,
    /// and waits until it says where it listens.
    pub async fn start(
        exe: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Self, ServerError> {
        let token = admin::random_token();
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
            ])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(admin::TOKEN_VAR, &token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ServerError(format!("cannot run {} serve: {e}", exe.display())))?;
        let pid = child
            .id()
            .ok_or_else(|| ServerError("the server exited at once".to_string()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ServerError("the server's output is not piped".to_string()))?;
        let (addr, admin_addr) = match tokio::time::timeout(START_TIMEOUT, announced(stdout)).await
        {
            Ok(Ok(addrs)) => addrs,
            Ok(Err(e)) => {
                let status = child.wait().await.map_or_else(
                    |e| format!("cannot wait for it: {e}"),
                    |s| format!("it exited with {s}"),
                );
                return Err(ServerError(format!("{e} ({status}; its errors are above)")));
            }
            Err(_) => {
                return Err(ServerError(format!(
                    "the server did not listen within {START_TIMEOUT:?}"
                )));
            }
        };
        let admin = match admin_addr {
            Some(a) => {
                let target = Target::new(a).map_err(|e| ServerError(e.to_string()))?;
                Some((Client::new(target), token))
            }
            None => None,
        };
        Ok(Server {
            child,
            pid,
            addr,
            admin,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until the server answers HTTP (any status).
    pub async fn wait_until_answering(&self, client: &Client) -> Result<(), ServerError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match client.send(Method::GET, "/lab/ready", None).await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(ServerError(format!(
                        "{} does not answer HTTP: {e}",
                        self.addr
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// finch's status (`GET /finch/status` on the operator listener) as JSON;
    /// `None` when the server runs without finch.
    pub async fn status(&self) -> Result<Option<serde_json::Value>, ServerError> {
        let Some((client, token)) = &self.admin else {
            return Ok(None);
        };
        let reply = client
            .send_as(Some(token), Method::GET, "/finch/status", None)
            .await
            .map_err(|e| ServerError(format!("GET /finch/status: {e}")))?;
        if !reply.status.is_success() {
            return Err(ServerError(format!(
                "GET /finch/status answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            )));
        }
        serde_json::from_slice(&reply.body)
            .map(Some)
            .map_err(|e| ServerError(format!("GET /finch/status is not JSON: {e}")))
    }

    /// Kills the child with `SIGKILL`, as a crash would (no shutdown: finch
    /// flushes nothing more, finch-postgres restores nothing), and waits for
    /// it to be gone.
    pub async fn kill(&mut self) -> Result<(), ServerError> {
        self.child
            .kill()
            .await
            .map_err(|e| ServerError(format!("cannot kill the server ({}): {e}", self.pid)))
    }

    /// Sends `SIGINT` (the server's Ctrl-C path: finch shuts down and
    /// finch-postgres restores what it changed) and waits for a clean exit.
    pub async fn stop(&mut self) -> Result<(), ServerError> {
        let signalled = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status()
            .await
            .map_err(|e| ServerError(format!("cannot run kill: {e}")))?;
        if !signalled.success() {
            return Err(ServerError(format!(
                "kill -INT {} failed ({signalled})",
                self.pid
            )));
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(ServerError(format!(
                "the server exited with {status} after SIGINT"
            ))),
            Ok(Err(e)) => Err(ServerError(format!("cannot wait for the server: {e}"))),
            Err(_) => {
                self.child.start_kill().ok();
                Err(ServerError(format!(
                    "the server did not exit within {STOP_TIMEOUT:?} of SIGINT; killed"
                )))
            }
        }
    }
}

/// Reads the child's output until `serve` announces its address (and, before
/// it, the operator routes' address when finch runs); the rest of the output
/// is read (and dropped) in the background so the child never blocks on a
/// full pipe.
async fn announced(stdout: ChildStdout) -> Result<(SocketAddr, Option<SocketAddr>), ServerError> {
    let parse = |rest: &str| -> Result<SocketAddr, ServerError> {
        rest.parse().map_err(|e| {
            ServerError(format!(
                "the server announced {rest:?}, not an address: {e}"
            ))
        })
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut admin_addr = None;
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| ServerError(format!("cannot read the server's output: {e}")))?
            .ok_or_else(|| ServerError("the server ended before it listened".to_string()))?;
        if let Some(rest) = line.trim().strip_prefix(admin::ANNOUNCE) {
            admin_addr = Some(parse(rest)?);
        } else if let Some(rest) = line.trim().strip_prefix(ANNOUNCE) {
            let addr = parse(rest)?;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((addr, admin_addr));
        }
    }
}

/// CPU time of another process: user + system from `/proc/<pid>/stat`, which
/// counts every thread, including those that ended, read through `sysinfo`.
#[derive(Debug)]
pub struct CpuClock {
    system: System,
    pid: Pid,
}

impl CpuClock {
    /// A clock for process `pid`.
    pub fn new(pid: u32) -> Result<Self, ServerError> {
        let system = System::new().map_err(|e| {
            ServerError(format!(
                "cannot read process statistics on this platform: {e}"
            ))
        })?;
        Ok(CpuClock {
            system,
            pid: Pid::from_u32(pid),
        })
    }

    /// The process's CPU time so far, in milliseconds (10 ms resolution on Linux).
    pub fn read(&mut self) -> Result<u64, ServerError> {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu(),
        );
        self.system
            .process(self.pid)
            .map(sysinfo::Process::accumulated_cpu_time)
            .ok_or_else(|| {
                ServerError(format!(
                    "process {} is gone or unreadable in /proc",
                    self.pid
                ))
            })
    }
}
