//! Wake-ups per user and collection. A held Ping or Sync registers a [`Subscription`] naming the
//! collections it watches; a change to one of them wakes every subscription of that user watching it,
//! and only those. A subscription is a slot in a map and a channel: no timer, no thread, and dropping
//! it (the client hung up, the connection dropped the handler) unregisters it at once.

use smol::channel::{Receiver, Sender, TrySendError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Why a waiter was woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Something changed in this collection (or, `None`, somewhere in the user's data).
    Changed(Option<u32>),
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

struct Slot {
    id: u64,
    /// As given (canonical), while the map is keyed case-insensitively.
    user: String,
    device: String,
    watch: Watch,
    tx: Sender<Wake>,
}

#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<String, Vec<Slot>>>,
    next_id: AtomicU64,
}

/// A registered waiter; unregisters itself when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    user: String,
    id: u64,
    rx: Receiver<Wake>,
}

impl Subscription {
    /// Waits for the next wake-up.
    pub async fn next(&self) -> Wake {
        // The sender lives in the hub until this subscription drops it, so recv cannot fail while we
        // hold `self`; treat the impossible as a supersede, which ends the wait harmlessly.
        self.rx.recv().await.unwrap_or(Wake::Superseded)
    }

    /// A wake-up that already arrived, without waiting.
    pub fn try_next(&self) -> Option<Wake> {
        self.rx.try_recv().ok()
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
        Arc::new(Hub::default())
    }

    /// Registers a waiter for `device` of `user`.
    pub fn subscribe(self: &Arc<Hub>, user: &str, device: &str, watch: Watch) -> Subscription {
        // A few slots: a burst of changes needs only one wake-up to be seen.
        let (tx, rx) = smol::channel::bounded(4);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut users) = self.users.lock() {
            users.entry(key(user)).or_default().push(Slot {
                id,
                user: user.to_string(),
                device: device.to_string(),
                watch,
                tx,
            });
        }
        Subscription {
            hub: self.clone(),
            user: key(user),
            id,
            rx,
        }
    }

    fn remove(&self, user: &str, id: u64) {
        if let Ok(mut users) = self.users.lock()
            && let Some(slots) = users.get_mut(user)
        {
            slots.retain(|s| s.id != id);
            if slots.is_empty() {
                users.remove(user);
            }
        }
    }

    /// Wakes every waiter of `user` watching `collection` (`None`: all of them). Returns how many.
    pub fn notify(&self, user: &str, collection: Option<u32>) -> usize {
        self.send(
            user,
            |s| s.watch.covers(collection),
            Wake::Changed(collection),
        )
    }

    /// Ends the held requests of one device, because it sent a new one.
    pub fn supersede(&self, user: &str, device: &str) -> usize {
        self.send(user, |s| s.device == device, Wake::Superseded)
    }

    fn send(&self, user: &str, pick: impl Fn(&Slot) -> bool, wake: Wake) -> usize {
        let Ok(users) = self.users.lock() else {
            return 0;
        };
        let Some(slots) = users.get(&key(user)) else {
            return 0;
        };
        let mut woken = 0;
        for slot in slots.iter().filter(|s| pick(s)) {
            match slot.tx.try_send(wake) {
                Ok(()) | Err(TrySendError::Full(_)) => woken += 1,
                Err(TrySendError::Closed(_)) => {}
            }
        }
        woken
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
        let a1 = hub.subscribe("alice@x", "phone", Watch::Collections(vec![1, 2]));
        let a2 = hub.subscribe("Alice@X", "tablet", Watch::Collections(vec![3]));
        let b = hub.subscribe("bob@x", "phone", Watch::Collections(vec![1]));
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
        let a = hub.subscribe("alice@x", "phone", Watch::Collections(vec![1]));
        let other = hub.subscribe("alice@x", "tablet", Watch::Collections(vec![1]));
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
        let a = hub.subscribe("alice@x", "phone", Watch::Everything);
        for _ in 0..100 {
            assert_eq!(hub.notify("alice@x", Some(9)), 1);
        }
        assert_eq!(a.try_next(), Some(Wake::Changed(Some(9))));
    }
}
