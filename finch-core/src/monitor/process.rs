//! Process CPU, memory and tokio runtime load.

use std::time::Duration;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::signals::Signal;

pub(crate) struct ProcessSampler {
    system: Option<(System, Pid)>,
    last_cpu_ms: Option<u64>,
}

impl ProcessSampler {
    pub(crate) fn new() -> Self {
        let system = match (System::new(), sysinfo::get_current_pid()) {
            (Ok(s), Ok(pid)) => Some((s, pid)),
            _ => {
                tracing::info!("finch: process signals are not available on this platform");
                None
            }
        };
        ProcessSampler {
            system,
            last_cpu_ms: None,
        }
    }

    pub(crate) fn sample(&mut self, window: Duration) -> Vec<Signal> {
        let mut out = Vec::new();
        if let Some((system, pid)) = &mut self.system {
            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[*pid]),
                false,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
            if let Some(p) = system.process(*pid) {
                let cpu_ms = p.accumulated_cpu_time();
                if let Some(last) = self.last_cpu_ms {
                    let secs = window.as_secs_f64().max(1e-3);
                    let used = cpu_ms.saturating_sub(last) as f64 / 1e3;
                    out.push(Signal::internal("process.cpu", used / secs));
                }
                self.last_cpu_ms = Some(cpu_ms);
                out.push(Signal::internal("process.rss_bytes", p.memory() as f64));
            }
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let m = rt.metrics();
            out.push(Signal::internal("runtime.workers", m.num_workers() as f64));
            out.push(Signal::internal(
                "runtime.alive_tasks",
                m.num_alive_tasks() as f64,
            ));
            out.push(Signal::internal(
                "runtime.global_queue_depth",
                m.global_queue_depth() as f64,
            ));
        }
        out
    }
}
