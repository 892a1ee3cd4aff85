//! A held Ping's change check, run by the hub on the push lane the moment a change is announced,
//! instead of waking the Ping's task to ask for it. In a burst (a datagram for each of a thousand
//! users) the wake-up then costs one trip through the async threads, to write the answer, instead
//! of two; a wake-up that finds nothing for the device (another device's echo, a folder it already
//! has) never reaches them at all.

use super::hub::Signal;
use crate::work::Lane;
use std::sync::{Arc, Mutex, MutexGuard};

/// The folders among those watched in which the device has something to fetch, given the one
/// announced (`None`: any of them).
pub type CheckFn = dyn Fn(Option<u32>) -> Result<Vec<u32>, String> + Send + Sync;

/// What a check found for the waiter: the changed folders, or why it could not tell.
pub type Answer = Result<Vec<u32>, String>;

/// One held request's check and its state; shared by the hub's slot, the lane job and the waiter.
pub struct Precheck {
    check: Box<CheckFn>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// A check is queued or running on the lane.
    busy: bool,
    /// Announced while busy: what the next check covers (`Some(None)`: every watched folder).
    again: Option<Option<u32>>,
    /// An answer the waiter has not taken yet.
    answer: Option<Answer>,
}

/// The scope covering both what was pending and what was just announced.
fn widen(pending: Option<Option<u32>>, announced: Option<u32>) -> Option<u32> {
    match pending {
        None => announced,
        Some(p) if p == announced => p,
        Some(_) => None,
    }
}

impl Precheck {
    pub fn new(check: Box<CheckFn>) -> Arc<Precheck> {
        Arc::new(Precheck {
            check,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state holds plain values: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A change was announced: queue a check on `lane`, or widen the one already queued. Called
    /// on the announcing thread (the UDP listener's, a Sync's), so it only queues.
    pub(super) fn announce(
        self: &Arc<Self>,
        collection: Option<u32>,
        signal: &Arc<Signal>,
        lane: &Lane,
    ) {
        let mut state = self.state();
        if state.busy {
            state.again = Some(widen(state.again, collection));
            return;
        }
        state.busy = true;
        drop(state);
        let (me, signal) = (self.clone(), signal.clone());
        lane.submit(move || me.run(collection, &signal));
    }

    /// Checks until nothing more was announced meanwhile; wakes the waiter once there is an answer
    /// for it (changes, or an error it must report).
    fn run(&self, mut collection: Option<u32>, signal: &Signal) {
        loop {
            let answer = self.check(collection);
            let mut state = self.state();
            if !matches!(&answer, Ok(found) if found.is_empty()) {
                state.answer = Some(answer);
                state.busy = false;
                state.again = None;
                drop(state);
                signal.checked();
                return;
            }
            match state.again.take() {
                Some(next) => collection = next,
                None => {
                    state.busy = false;
                    return;
                }
            }
        }
    }

    /// Runs the check now, on the caller's thread (blocking).
    pub fn check(&self, collection: Option<u32>) -> Answer {
        (self.check)(collection)
    }

    /// The answer a check left for the waiter, if any.
    pub fn take(&self) -> Option<Answer> {
        self.state().answer.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::hub::{Hub, Wake, Watch};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A precheck whose answers the test gives, one per check, reporting each check's scope.
    fn scripted() -> (
        Arc<Precheck>,
        mpsc::Receiver<Option<u32>>,
        mpsc::SyncSender<Answer>,
    ) {
        let (scopes_tx, scopes) = mpsc::channel();
        let (answers, answers_rx) = mpsc::sync_channel::<Answer>(8);
        let answers_rx = Mutex::new(answers_rx);
        let check = Precheck::new(Box::new(move |scope| {
            let _ = scopes_tx.send(scope);
            let answers = answers_rx.lock().map_err(|e| e.to_string())?;
            answers.recv().map_err(|e| e.to_string())?
        }));
        (check, scopes, answers)
    }

    fn wait_for(sub: &crate::push::Subscription) -> Option<Wake> {
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < end {
            if let Some(w) = sub.try_next() {
                return Some(w);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    #[test]
    fn a_change_is_checked_on_the_lane_and_wakes_only_with_an_answer() {
        let hub = Hub::new();
        let (check, scopes, answers) = scripted();
        let sub = hub.subscribe(
            "alice@x",
            "phone",
            Watch::Collections(vec![1, 2]),
            Some(check.clone()),
        );
        // Nothing for this device: the waiter is never woken.
        assert_eq!(hub.notify("alice@x", Some(2)), 1);
        assert_eq!(scopes.recv_timeout(Duration::from_secs(5)), Ok(Some(2)));
        answers.send(Ok(Vec::new())).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(sub.try_next(), None);
        assert!(check.take().is_none());

        // Changes announced while a check runs make one more check, over both.
        assert_eq!(hub.notify("alice@x", Some(1)), 1);
        assert_eq!(scopes.recv_timeout(Duration::from_secs(5)), Ok(Some(1)));
        assert_eq!(hub.notify("alice@x", Some(2)), 1);
        assert_eq!(hub.notify("alice@x", Some(2)), 1);
        answers.send(Ok(Vec::new())).unwrap();
        assert_eq!(scopes.recv_timeout(Duration::from_secs(5)), Ok(Some(2)));
        answers.send(Ok(vec![2])).unwrap();
        assert_eq!(wait_for(&sub), Some(Wake::Checked));
        assert_eq!(check.take(), Some(Ok(vec![2])));
        assert!(scopes.try_recv().is_err(), "no check beyond the two");

        // An error reaches the waiter too; a device's new request still supersedes at once.
        assert_eq!(hub.notify("alice@x", None), 1);
        assert_eq!(scopes.recv_timeout(Duration::from_secs(5)), Ok(None));
        answers.send(Err("disk gone".into())).unwrap();
        assert_eq!(wait_for(&sub), Some(Wake::Checked));
        assert_eq!(check.take(), Some(Err("disk gone".into())));
        assert_eq!(hub.supersede("alice@x", "phone"), 1);
        assert_eq!(sub.try_next(), Some(Wake::Superseded));
    }

    #[test]
    fn widening_keeps_one_folder_only_when_both_name_it() {
        assert_eq!(widen(None, Some(3)), Some(3));
        assert_eq!(widen(Some(Some(3)), Some(3)), Some(3));
        assert_eq!(widen(Some(Some(3)), Some(4)), None);
        assert_eq!(widen(Some(None), Some(4)), None);
        assert_eq!(widen(Some(Some(3)), None), None);
    }
}
