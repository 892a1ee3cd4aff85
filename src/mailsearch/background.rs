//! Keeps the word indexes caught up off the request path, so a Search seldom reads a message.
//! Folders get queued
//! - at server start and at each FolderSync or delivery, by a look over every mail folder of a
//!   user (a "sweep": each folder is refreshed, which finds a folder never indexed or indexed only
//!   in part);
//! - by every refresh of a mail folder that finds it ahead of its word index (a Sync or Ping that
//!   saw new mail, the push watcher after a delivery, a sweep).
//!
//! A queued folder waits [`SETTLE`], so a burst of deliveries makes one catch-up, not one per
//! message. One niced thread for the whole server works through the folders one at a time,
//! writing every `index::FLUSH` messages, so its memory is bounded whatever the folder's size and
//! a search meanwhile finds the part already written in the index. Searches never wait for it
//! (see the parent module); rather, a sweep waits between folders while a search runs.

use super::index::{self, CaughtUp, SearchIndex};
use super::words;
use crate::app::App;
use crate::collections::{Account, Folder, ItemBackend, ItemClass};
use crate::state::index::Collection;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a queued folder waits before it is caught up: deliveries within it share one run,
/// and a folder is caught up at most once per this period.
const SETTLE: Duration = Duration::from_secs(1);

/// Messages the thread reads before it records its progress and looks at its queue again.
const PART: usize = 4096;

/// Longest a sweep holds back its next folder for searches (see [`Indexer::searching`]), so a
/// stream of searches cannot stop it.
const YIELD_MAX: Duration = Duration::from_secs(5);

enum Work {
    /// Refresh every mail folder of the user, queueing those whose index is behind.
    Sweep,
    /// Catch this folder up.
    Folder(Folder),
}

/// Something the thread is to do for a user.
struct Job {
    user: String,
    work: Work,
    due: Instant,
}

impl Job {
    fn is_folder(&self, coll: Collection) -> bool {
        matches!(&self.work, Work::Folder(folder) if folder.coll == coll)
    }
}

#[derive(Default)]
struct Queue {
    /// Jobs in order of due time.
    jobs: VecDeque<Job>,
    /// The modseq each folder's word index is known to reach.
    indexed: HashMap<Collection, u64>,
}

/// The server's word-index keeper; one per process, in [`App`].
#[derive(Default)]
pub struct Indexer {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Searches running right now.
    searches: AtomicUsize,
}

/// A search running; the sweep waits between folders while one is.
pub struct Searching<'a>(&'a AtomicUsize);

impl Drop for Searching<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Indexer {
    /// Marks a search running until the guard drops. At server start a search of a folder never
    /// indexed reads its messages from their files, and the sweep refreshing the next folder
    /// wants the same cores; the sweep can wait where the phone cannot. The mark covers the whole
    /// search, which first waits for the sweep's refresh of its folder: marked only while
    /// reading, it let the sweep start on the next folder in between.
    pub fn searching(&self) -> Searching<'_> {
        self.searches.fetch_add(1, Ordering::Relaxed);
        Searching(&self.searches)
    }

    /// Waits while searches run, at most [`YIELD_MAX`].
    fn yield_to_searches(&self) {
        let start = Instant::now();
        while self.searches.load(Ordering::Relaxed) > 0 && start.elapsed() < YIELD_MAX {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Notes that `folder` of `user` is at `modseq` in the change index; queues it when its
    /// word index may be behind. Cheap: one lock and a map lookup.
    pub fn poke(&self, user: &str, folder: &Folder, modseq: u64) {
        let mut q = lock(&self.queue);
        if q.indexed.get(&folder.coll).is_some_and(|&m| m >= modseq) {
            return;
        }
        // A queued job reads up to the change index's modseq when it runs.
        if q.jobs.iter().any(|j| j.is_folder(folder.coll)) {
            return;
        }
        self.push(
            &mut q,
            user,
            Work::Folder(folder.clone()),
            Instant::now() + SETTLE,
        );
    }

    /// Queues a look over every mail folder of `user` (a FolderSync, a delivery), unless one is
    /// queued already.
    pub fn sweep(&self, user: &str) {
        self.sweep_at(user, Instant::now() + SETTLE);
    }

    fn sweep_at(&self, user: &str, due: Instant) {
        let mut q = lock(&self.queue);
        if q.jobs
            .iter()
            .any(|j| j.user == user && matches!(j.work, Work::Sweep))
        {
            return;
        }
        self.push(&mut q, user, Work::Sweep, due);
    }

    /// Queues a job, keeping the queue in order of due time.
    fn push(&self, q: &mut Queue, user: &str, work: Work, due: Instant) {
        let at = q.jobs.partition_point(|j| j.due <= due);
        q.jobs.insert(
            at,
            Job {
                user: user.to_string(),
                work,
                due,
            },
        );
        self.wake.notify_all();
    }

    /// Catches `folder`'s word index up with the change index by about `max` messages.
    pub(super) fn catch_up_some(
        &self,
        account: &Account<'_>,
        folder: &Folder,
        max: usize,
    ) -> Result<CaughtUp, super::MailSearchError> {
        let idx = SearchIndex {
            db: &account.app.db,
            index: &account.app.index,
            user: account.user,
        };
        let backend = account.backend();
        let done = idx.catch_up(folder.coll, max, |item, sink| {
            if let Ok(raw) = backend.raw_start(folder, item, words::MAX_MESSAGE_BYTES) {
                words::visit(&raw, |w| {
                    sink(w);
                    true
                });
            }
        })?;
        let mut q = lock(&self.queue);
        let known = q.indexed.entry(folder.coll).or_default();
        *known = (*known).max(done.mark);
        Ok(done)
    }

    /// The next sweep (`sweeps`) or folder job, once it is due.
    fn next(&self, sweeps: bool) -> Job {
        let mut q = lock(&self.queue);
        loop {
            let now = Instant::now();
            let first = q
                .jobs
                .iter()
                .position(|j| matches!(j.work, Work::Sweep) == sweeps);
            match first.map(|at| (at, q.jobs[at].due)) {
                Some((at, due)) if due <= now => {
                    if let Some(job) = q.jobs.remove(at) {
                        return job;
                    }
                }
                Some((_, due)) => {
                    q = self
                        .wake
                        .wait_timeout(q, due - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner),
            }
        }
    }
}

/// Refreshes every mail folder of the account; each refresh queues its folder when the word
/// index is behind (see `MailBackend::refresh`).
fn sweep(account: &Account<'_>) {
    let folders = match account.folders() {
        Ok(f) => f,
        Err(e) => {
            log::warn!("search index: {}: {e}", account.user);
            return;
        }
    };
    let backend = account.backend();
    let mail: Vec<&Folder> = folders
        .iter()
        .filter(|f| f.kind.class() == ItemClass::Email)
        .collect();
    log::debug!(
        "search index: {}: {} mail folders looked over",
        account.user,
        mail.len()
    );
    for folder in mail {
        account.app.search.yield_to_searches();
        if let Err(e) = backend.refresh(folder) {
            log::warn!("search index: {} folder {}: {e}", account.user, folder.id);
        }
    }
}

/// Catches one folder up in parts, recording progress after each.
fn catch_up(app: &App, account: &Account<'_>, folder: &Folder) {
    let started = Instant::now();
    let mut read = 0;
    let outcome = loop {
        match app.search.catch_up_some(account, folder, PART) {
            Ok(done) if done.complete => break Ok(read + done.read),
            Ok(done) => read += done.read,
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok(0) => {}
        Ok(read) => log::debug!(
            "search index: {} folder {}: {read} new messages indexed in {} ms",
            account.user,
            folder.id,
            started.elapsed().as_millis()
        ),
        Err(e) => log::warn!("search index: {} folder {}: {e}", account.user, folder.id),
    }
}

/// The job's user's mail, without the PIM collections (which `Account::open` would create when
/// missing: indexing mail must not set anything else up for a user).
fn open<'a>(app: &'a App, job: &'a Job) -> Option<Account<'a>> {
    match app.mail_store(&job.user) {
        Ok(store) => Some(Account {
            app,
            user: &job.user,
            store,
            pim: None,
        }),
        Err(e) => {
            log::warn!("search index: {}: {e}", job.user);
            None
        }
    }
}

/// Starts the threads of a serving process, with a sweep of every user with a mailbox queued, so
/// folders never indexed (or left behind while the server was down) are indexed before anyone
/// searches them. Sweeps run on a thread of their own at the bulk pool's priority: a sweep's
/// refresh holds the folder's change-index lock, which a request for that folder (on the bulk
/// pool) waits on, so it must not run below them. The catch-up thread holds nothing a request
/// waits for but short write transactions, so it runs at the lowest priority: a search that came
/// before it reads the unindexed messages itself, and gets the CPU first.
pub fn spawn(app: Arc<App>) -> std::io::Result<()> {
    let now = Instant::now();
    for user in &app.config.users {
        let user = user.email.get_ref().as_str();
        // A user without a mailbox yet has nothing to index, and gets none made here.
        if App::mail_root(&app.config, user).is_ok_and(|root| root.is_dir()) {
            app.search.sweep_at(user, now);
        }
    }
    let sweeper = app.clone();
    std::thread::Builder::new()
        .name("easd-search-sweep".into())
        .spawn(move || {
            crate::work::lower_this_thread();
            loop {
                let job = sweeper.search.next(true);
                if let Some(account) = open(&sweeper, &job) {
                    sweep(&account);
                }
            }
        })?;
    std::thread::Builder::new()
        .name("easd-search-index".into())
        .spawn(move || {
            crate::work::upkeep_this_thread();
            if let Err(e) = index::drop_old_layouts(&app.db) {
                log::warn!("search index: old tables not dropped: {e}");
            }
            loop {
                let job = app.search.next(false);
                if let (Some(account), Work::Folder(folder)) = (open(&app, &job), &job.work) {
                    catch_up(&app, &account, folder);
                }
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// The sweep goes on at once when no search runs, and not before a running one ends.
    #[test]
    fn a_sweep_waits_for_running_searches() {
        let indexer = Arc::new(Indexer::default());
        indexer.yield_to_searches();
        let search = indexer.searching();
        let went_on = Arc::new(AtomicBool::new(false));
        let sweep = {
            let (indexer, went_on) = (indexer.clone(), went_on.clone());
            std::thread::spawn(move || {
                indexer.yield_to_searches();
                went_on.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !went_on.load(Ordering::SeqCst),
            "the sweep went on during a search"
        );
        drop(search);
        sweep.join().expect("sweep thread");
        assert!(went_on.load(Ordering::SeqCst));
    }
}
