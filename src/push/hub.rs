//! Wake-ups per user and collection. A held Ping or Sync registers a [`Subscription`] naming the
//! collections it watches; a change to one of them wakes every subscription of that user watching it,
//! and only those. A subscription is a slot in a map and a small signal: no timer, no thread, and
//! dropping it (the client hung up, the connection dropped the handler) unregisters it at once.
//! A subscription with a [`Precheck`] is not woken by a change but has its check queued on the
//! hub's push lane, and is woken by the check's answer.
//!
//! The signal is a four-wake queue and an event rather than a channel: every held Ping owns one,
//! and a bounded channel's cache-padded counters and three events cost about 0.8 KB a Ping, a
//! tenth of a held Ping's whole budget (issue #4).

use super::precheck::Precheck;
use crate::work::Lane;
use event_listener::Event;
use heapless::Deque;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a waiter was woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Something changed in this collection (or, `None`, somewhere in the user's data).
    Changed(Option<u32>),
    /// The subscription's precheck left an answer to take.
    Checked,
    /// The same device sent a new request: the held one must end now.
    Superseded,
}

/// Which collections a waiter watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    Collections(Vec<u32>),
    /// The folder hierarchy itself (a Ping answering Status 7 needs no watch; FolderSync-ish waits do).
    Everything,
}

impl Watch {
    fn covers(&self, collection: Option<u32>) -> bool {
        match (self, collection) {
            (Watch::Everything, _) | (_, None) => true,
            (Watch::Collections(c), Some(id)) => c.contains(&id),
        }
    }
}

/// Wake-ups not yet taken, and the event a waiting subscription listens to. A few are kept: a
/// burst of changes needs only one to be seen, and one Superseded must not be lost behind them.
#[derive(Default)]
pub(super) struct Signal {
    queue: Mutex<Deque<Wake, 4>>,
    event: Event,
}

impl Signal {
    fn queue(&self) -> MutexGuard<'_, Deque<Wake, 4>> {
        // The queue holds plain values: a panic elsewhere cannot leave it half-written.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, wake: Wake) {
        let mut queue = self.queue();
        if queue.is_full() && wake == Wake::Superseded {
            queue.pop_back();
        }
        // A full queue already has a wake-up for the waiter to see.
        let _ = queue.push_back(wake);
        drop(queue);
        self.event.notify(1);
    }

    /// Wakes the waiter for its precheck's answer.
    pub(super) fn checked(&self) {
        self.push(Wake::Checked);
    }
}

struct Slot {
    id: u64,
    /// As given (canonical), while the map is keyed case-insensitively.
    user: String,
    device: String,
    watch: Watch,
    signal: Arc<Signal>,
    precheck: Option<Arc<Precheck>>,
}

/// A slot's signal and precheck, taken out of the map to be woken.
type Picked = (Arc<Signal>, Option<Arc<Precheck>>);

pub struct Hub {
    users: Mutex<HashMap<String, Vec<Slot>>>,
    next_id: AtomicU64,
    /// Where prechecks run: a few threads apart from the bulk pool (see `work`).
    lane: Lane,
}

/// A registered waiter; unregisters itself when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    user: String,
    id: u64,
    signal: Arc<Signal>,
}

impl Subscription {
    /// Waits for the next wake-up.
    pub async fn next(&self) -> Wake {
        loop {
            if let Some(wake) = self.try_next() {
                return wake;
            }
            // Listen before looking again, so a wake-up between the two is not missed.
            let listener = self.signal.event.listen();
            if let Some(wake) = self.try_next() {
                return wake;
            }
            listener.await;
        }
    }

    /// A wake-up that already arrived, without waiting.
    pub fn try_next(&self) -> Option<Wake> {
        self.signal.queue().pop_front()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(&self.user, self.id);
    }
}

fn key(user: &str) -> String {
    user.to_ascii_lowercase()
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub {
            users: Mutex::default(),
            next_id: AtomicU64::default(),
            lane: Lane::new("push", 2),
        })
    }

    /// Registers a waiter for `device` of `user`. With a `precheck`, a change queues it on the
    /// push lane, and the waiter is woken only by its answer ([`Wake::Checked`]).
    pub fn subscribe(
        self: &Arc<Hub>,
        user: &str,
        device: &str,
        watch: Watch,
        precheck: Option<Arc<Precheck>>,
    ) -> Subscription {
        let signal = Arc::new(Signal::default());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            id,
            user: user.to_string(),
            device: device.to_string(),
            watch,
            signal: signal.clone(),
            precheck,
        };
        let map_key = key(user);
        if let Ok(mut users) = self.users.lock() {
            users.entry(map_key).or_default().push(slot);
        }
        Subscription {
            hub: self.clone(),
            user: key(user),
            id,
            signal,
        }
    }

    fn remove(&self, user: &str, id: u64) {
        let removed = self.users.lock().ok().and_then(|mut users| {
            let slots = users.get_mut(user)?;
            let at = slots.iter().position(|s| s.id == id)?;
            let slot = slots.remove(at);
            if slots.is_empty() {
                users.remove(user);
            }
            Some(slot)
        });
        // Dropped after the lock: the slot may hold the last reference to a precheck, whose
        // captured folders and limits take a while to free, and the UDP thread's wake-ups wait on
        // this lock (in a burst, removals under it were 2 % of the server's CPU).
        drop(removed);
    }

    /// Wakes every waiter of `user` watching `collection` (`None`: all of them), or queues its
    /// precheck. Returns how many.
    pub fn notify(&self, user: &str, collection: Option<u32>) -> usize {
        let picked = self.pick(user, |s| s.watch.covers(collection));
        for (signal, precheck) in &picked {
            match precheck {
                Some(check) => check.announce(collection, signal, &self.lane),
                None => signal.push(Wake::Changed(collection)),
            }
        }
        picked.len()
    }

    /// Ends the held requests of one device, because it sent a new one.
    pub fn supersede(&self, user: &str, device: &str) -> usize {
        let picked = self.pick(user, |s| s.device == device);
        for (signal, _) in &picked {
            signal.push(Wake::Superseded);
        }
        picked.len()
    }

    /// The signals and prechecks of the slots of `user` that are `chosen`. Waking them happens
    /// after the lock is released: a wake-up schedules a task or a lane job, and every Ping that
    /// starts or ends, and every datagram, waits on this lock.
    fn pick(&self, user: &str, chosen: impl Fn(&Slot) -> bool) -> Vec<Picked> {
        let user = key(user);
        let Ok(users) = self.users.lock() else {
            return Vec::new();
        };
        let Some(slots) = users.get(&user) else {
            return Vec::new();
        };
        slots
            .iter()
            .filter(|s| chosen(s))
            .map(|s| (s.signal.clone(), s.precheck.clone()))
            .collect()
    }

    /// How many waiters are registered, for the stats endpoint and tests.
    pub fn waiting(&self) -> usize {
        self.users
            .lock()
            .map_or(0, |u| u.values().map(Vec::len).sum())
    }

    /// The users with at least one waiter and the collections they watch (the fallback watcher checks
    /// only these).
    pub fn watched(&self) -> Vec<(String, Watch)> {
        let Ok(users) = self.users.lock() else {
            return Vec::new();
        };
        users
            .values()
            .flat_map(|slots| slots.iter().map(|s| (s.user.clone(), s.watch.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_only_the_watchers_of_a_collection() {
        let hub = Hub::new();
        let a1 = hub.subscribe("alice@x", "phone", Watch::Collections(vec![1, 2]), None);
        let a2 = hub.subscribe("Alice@X", "tablet", Watch::Collections(vec![3]), None);
        let b = hub.subscribe("bob@x", "phone", Watch::Collections(vec![1]), None);
        assert_eq!(hub.notify("alice@x", Some(1)), 1);
        assert_eq!(a1.try_next(), Some(Wake::Changed(Some(1))));
        assert_eq!(a2.try_next(), None);
        assert_eq!(b.try_next(), None);
        assert_eq!(hub.notify("ALICE@x", None), 2);
        assert_eq!(a2.try_next(), Some(Wake::Changed(None)));
        assert_eq!(hub.notify("nobody@x", None), 0);
    }

    #[test]
    fn supersede_and_drop() {
        let hub = Hub::new();
        let a = hub.subscribe("alice@x", "phone", Watch::Collections(vec![1]), None);
        let other = hub.subscribe("alice@x", "tablet", Watch::Collections(vec![1]), None);
        assert_eq!(hub.waiting(), 2);
        assert_eq!(hub.supersede("alice@x", "phone"), 1);
        assert_eq!(smol::block_on(a.next()), Wake::Superseded);
        assert_eq!(other.try_next(), None);
        drop(a);
        drop(other);
        assert_eq!(hub.waiting(), 0);
        assert!(hub.watched().is_empty());
    }

    #[test]
    fn bursts_do_not_block_the_notifier() {
        let hub = Hub::new();
        let a = hub.subscribe("alice@x", "phone", Watch::Everything, None);
        for _ in 0..100 {
            assert_eq!(hub.notify("alice@x", Some(9)), 1);
        }
        assert_eq!(a.try_next(), Some(Wake::Changed(Some(9))));
        // A supersede after a burst is still seen.
        assert_eq!(hub.supersede("alice@x", "phone"), 1);
        let seen: Vec<Wake> = std::iter::from_fn(|| a.try_next()).collect();
        assert_eq!(seen.last(), Some(&Wake::Superseded));
    }

    #[test]
    fn a_waiter_is_woken_from_another_thread() {
        let hub = Hub::new();
        let a = hub.subscribe("alice@x", "phone", Watch::Collections(vec![4]), None);
        let notifier = {
            let hub = hub.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                hub.notify("alice@x", Some(4))
            })
        };
        assert_eq!(smol::block_on(a.next()), Wake::Changed(Some(4)));
        assert_eq!(notifier.join().unwrap(), 1);
    }
}
