//! Appliers run off the loop's task, so one that blocks its thread (a
//! `std::thread::sleep`, a synchronous database call) cannot stall the loop:
//! each knob's applier runs on a thread of its own (its *lane*), one call at a
//! time and in order, and the loop waits for its answer no longer than the
//! apply timeout.
//!
//! A call that outlives the timeout keeps its lane busy until it returns; the
//! call restoring the previous value queues behind it, so what the knob drives
//! ends on the value the knob says. A lane holds one call queued behind the
//! running one; more are refused at once with an error that says why.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::knob::Applier;
use crate::util::panic_message;

/// An applier's answer, in words when it failed.
pub(crate) type Answer = oneshot::Receiver<Result<(), String>>;

/// One applier call.
struct Call {
    applier: Applier,
    bits: u64,
    runtime: Handle,
    timeout: Duration,
    reply: oneshot::Sender<Result<(), String>>,
}

/// Calls a lane holds at most: the one running and one queued behind it.
const DEPTH: usize = 2;

/// A knob's lane: its thread's queue, and the calls in it not yet answered.
#[derive(Clone)]
struct Lane {
    calls: Sender<Call>,
    busy: Arc<AtomicUsize>,
}

/// The lanes of the knobs whose appliers ran, by knob name.
#[derive(Default)]
pub(crate) struct Lanes {
    lanes: Mutex<HashMap<String, Lane>>,
}

impl Lanes {
    /// Starts `applier(bits)` on the lane of `knob`; its answer comes on the
    /// receiver. Fails at once when the lane is still busy with earlier calls
    /// (or no thread can be started for it).
    pub(crate) fn submit(
        &self,
        knob: &str,
        applier: Applier,
        bits: u64,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let runtime = Handle::try_current().map_err(|_| {
            format!("the applier of `{knob}` needs a tokio runtime; run the loop inside one")
        })?;
        let (reply, answer) = oneshot::channel();
        let mut call = Call {
            applier,
            bits,
            runtime,
            timeout,
            reply,
        };
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        // A lane whose thread is gone is replaced, once.
        for _ in 0..2 {
            let lane = match lanes.get(knob) {
                Some(lane) => lane.clone(),
                None => {
                    let lane = open(knob)?;
                    lanes.insert(knob.to_string(), lane.clone());
                    lane
                }
            };
            if lane.busy.load(Ordering::Acquire) >= DEPTH {
                return Err(format!(
                    "the applier of `{knob}` has not returned from earlier changes; make it \
                     return within the apply timeout ({timeout:?}) or raise \
                     `Config::apply_timeout`"
                ));
            }
            lane.busy.fetch_add(1, Ordering::AcqRel);
            match lane.calls.send(call) {
                Ok(()) => return Ok(answer),
                Err(back) => {
                    lanes.remove(knob);
                    call = back.0;
                }
            }
        }
        Err(format!("the applier of `{knob}` could not be started"))
    }
}

/// Starts the thread of a lane; it ends when the lane is dropped.
fn open(knob: &str) -> Result<Lane, String> {
    let (lane, calls) = channel::<Call>();
    let busy = Arc::new(AtomicUsize::new(0));
    let name = knob.to_string();
    let done = Arc::clone(&busy);
    std::thread::Builder::new()
        .name("finch-applier".into())
        .spawn(move || {
            for call in calls {
                let answer = run(&name, call.applier, call.bits, &call.runtime, call.timeout);
                done.fetch_sub(1, Ordering::AcqRel);
                // The loop may have stopped waiting; the answer then goes nowhere.
                let _ = call.reply.send(answer);
            }
        })
        .map_err(|e| format!("cannot start a thread for the applier of `{knob}`: {e}"))?;
    Ok(Lane { calls: lane, busy })
}

/// Runs one call: the applier's synchronous part, then its future, cut off
/// at the timeout when it yields.
fn run(
    knob: &str,
    applier: Applier,
    bits: u64,
    runtime: &Handle,
    timeout: Duration,
) -> Result<(), String> {
    let ran = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async move { tokio::time::timeout(timeout, applier(bits)).await })
    }));
    match ran {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!(
            "applier of `{knob}` failed: {}",
            crate::error::Chain(&e)
        )),
        Ok(Err(_)) => Err(timed_out(knob, timeout)),
        Err(panic) => Err(format!(
            "applier of `{knob}` panicked: {}",
            panic_message(&*panic)
        )),
    }
}

/// The error of an applier that did not answer in time.
pub(crate) fn timed_out(knob: &str, timeout: Duration) -> String {
    format!(
        "applier of `{knob}` timed out after {timeout:?}; make it return sooner or raise \
         `Config::apply_timeout`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApplyError;

    #[tokio::test(flavor = "current_thread")]
    async fn a_blocking_call_holds_its_lane_and_the_next_waits_behind_it() {
        let lanes = Lanes::default();
        let (release, gate) = channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let order = Arc::new(Mutex::new(Vec::new()));
        let applier: Applier = {
            let order = Arc::clone(&order);
            Arc::new(move |bits| {
                if bits == 1 {
                    // Blocks this thread until the test releases it.
                    let _ = gate.lock().unwrap_or_else(|p| p.into_inner()).recv();
                }
                order.lock().unwrap_or_else(|p| p.into_inner()).push(bits);
                Box::pin(async { Ok::<(), ApplyError>(()) })
            })
        };
        let t = Duration::from_millis(20);
        let first = lanes.submit("k", Arc::clone(&applier), 1, t).unwrap();
        let second = lanes.submit("k", Arc::clone(&applier), 2, t).unwrap();
        let refused = lanes.submit("k", Arc::clone(&applier), 3, t).unwrap_err();
        assert!(refused.contains("has not returned"), "{refused}");
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(second.await.unwrap(), Ok(()));
        assert_eq!(*order.lock().unwrap(), vec![1, 2], "calls run in order");
        let again = lanes.submit("k", applier, 4, t).unwrap();
        assert_eq!(again.await.unwrap(), Ok(()), "the lane is free again");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_applier_is_an_error_and_its_lane_goes_on() {
        let lanes = Lanes::default();
        let applier: Applier = Arc::new(|bits| {
            assert!(bits != 0, "no zero here");
            Box::pin(async { Ok::<(), ApplyError>(()) })
        });
        let t = Duration::from_secs(5);
        let panicked = lanes
            .submit("p", Arc::clone(&applier), 0, t)
            .unwrap()
            .await
            .unwrap();
        assert!(panicked.unwrap_err().contains("no zero here"));
        let fine = lanes.submit("p", applier, 1, t).unwrap().await.unwrap();
        assert_eq!(fine, Ok(()));
    }
}
