//! Where blocking work runs, and at what CPU priority.
//!
//! Bulk work (a Sync, a FolderSync, a search, a password hash) goes to smol's blocking pool
//! through [`unblock`], whose threads lower their own priority (nice +10) the first time they
//! run our work. On a 2-core box a burst of Syncs would otherwise take the CPU from the async
//! threads in proportion to the pool's size: a held Ping whose folder changed, or a datagram
//! announcing the change, then waited behind the very Syncs that earlier wake-ups caused.
//!
//! The [`Lane`] is a few threads of normal priority for the short, read-only checks an announced
//! change queues for held requests (has this device's folder changed?), so a burst of wake-ups is
//! not queued in the same first-come line as the Syncs. Upkeep that no request waits on (the
//! search index's catch-up) runs at the lowest priority, below the bulk pool.

use smol::channel::{Receiver, Sender, unbounded};
use std::cell::Cell;
use std::sync::OnceLock;

/// How much lower than the async threads the bulk pool runs (added to the process's nice value).
const BULK_NICE: libc::c_int = 10;
/// How much lower upkeep no request waits for (the search index's catch-up) runs: as low as nice
/// goes, so that a search reading the messages the index has not reached gets the CPU first.
const UPKEEP_NICE: libc::c_int = 19;

/// Runs `f` on the blocking pool at bulk priority.
pub async fn unblock<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    bulk(f).await
}

/// `f` as a task on the blocking pool, at bulk priority.
fn bulk<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> smol::Task<T> {
    smol::unblock(move || {
        lower_this_thread();
        f()
    })
}

/// Lowers the calling thread's priority to bulk once; on Linux the nice value is per thread.
pub fn lower_this_thread() {
    lower_by(BULK_NICE);
}

/// Lowers the calling thread's priority to the lowest once: for upkeep threads that hold
/// nothing a request waits on.
pub fn upkeep_this_thread() {
    lower_by(UPKEEP_NICE);
}

fn lower_by(by: libc::c_int) {
    thread_local!(static LOWERED: Cell<bool> = const { Cell::new(false) });
    if LOWERED.with(|l| l.replace(true)) {
        return;
    }
    // SAFETY: getpriority/setpriority only read and set the calling thread's nice value.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now == -1 && *libc::__errno_location() != 0 {
            return;
        }
        let want = (now + by).min(19);
        if libc::setpriority(libc::PRIO_PROCESS, tid, want) != 0 {
            log::debug!(
                "cannot lower a pool thread's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A small pool of normal-priority threads, started on first use.
pub struct Lane {
    name: &'static str,
    threads: usize,
    jobs: OnceLock<Sender<Job>>,
}

impl Lane {
    pub const fn new(name: &'static str, threads: usize) -> Lane {
        Lane {
            name,
            threads,
            jobs: OnceLock::new(),
        }
    }

    /// Queues `f` on one of the lane's threads (on the bulk pool if they could not be started)
    /// without waiting for it: the hub queues checks from whatever thread announced a change.
    pub fn submit(&self, f: impl FnOnce() + Send + 'static) {
        let job: Job = Box::new(f);
        let refused = match self.sender() {
            Some(s) => s.try_send(job).err().map(|e| e.into_inner()),
            None => Some(job),
        };
        if let Some(job) = refused {
            bulk(job).detach();
        }
    }

    fn sender(&self) -> Option<&Sender<Job>> {
        if let Some(s) = self.jobs.get() {
            return Some(s);
        }
        let (tx, rx) = unbounded::<Job>();
        for i in 0..self.threads.max(1) {
            let rx: Receiver<Job> = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("easd-{}-{i}", self.name))
                .spawn(move || {
                    while let Ok(job) = rx.recv_blocking() {
                        job();
                    }
                });
            if let Err(e) = started {
                log::warn!("cannot start the {} lane: {e}", self.name);
                return None;
            }
        }
        Some(self.jobs.get_or_init(|| tx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> libc::c_int {
        // SAFETY: reads the calling thread's nice value.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn bulk_work_runs_below_the_caller_and_lane_work_does_not() {
        let ours = nice_of_this_thread();
        let bulk = smol::block_on(unblock(nice_of_this_thread));
        assert_eq!(bulk, (ours + BULK_NICE).min(19));
        let lane = Lane::new("test", 1);
        let (tx, rx) = std::sync::mpsc::channel();
        lane.submit(move || {
            let name = std::thread::current().name().map(String::from);
            let _ = tx.send((nice_of_this_thread(), name));
        });
        let (quick, name) = rx.recv().expect("the lane ran the job");
        assert_eq!(quick, ours);
        assert_eq!(name.as_deref(), Some("easd-test-0"));
        let upkeep = std::thread::spawn(|| {
            upkeep_this_thread();
            nice_of_this_thread()
        });
        assert_eq!(upkeep.join().ok(), Some((ours + UPKEEP_NICE).min(19)));
    }
}
