//! Keeps the word indexes caught up off the request path, so a Search seldom reads a message:
//! every refresh of a mail folder that finds it ahead of its word index (a Sync or Ping that saw
//! new mail, the push watcher after a delivery) queues the folder, and one low-priority thread
//! for the whole server catches it up a moment later. A burst of deliveries makes one catch-up,
//! not one per message, and a catch-up holds at most `index::FLUSH` messages' words in memory.
//!
//! A Search catches its folders up itself under the same per-folder lock, so it never reads
//! what the thread is reading: it waits at most for the thread's current part (the thread lets
//! go of the folder every `PART` messages), reads whatever is left at its own priority, and its
//! answer always covers every message.

use super::MailSearchError;
use super::index::{CaughtUp, SearchIndex};
use super::words;
use crate::app::App;
use crate::collections::{Account, Folder};
use crate::state::index::Collection;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a queued folder waits before it is caught up: deliveries within it share one run,
/// and a folder is caught up at most once per this period.
const SETTLE: Duration = Duration::from_secs(1);

/// The thread's nice value: a catch-up yields the CPU to requests.
const NICE: i32 = 10;

/// Messages the thread reads before letting go of a folder for a moment.
const PART: usize = 4096;

/// A folder waiting to be caught up.
struct Job {
    user: String,
    folder: Folder,
    /// The change-index modseq the folder was seen at.
    modseq: u64,
    due: Instant,
}

#[derive(Default)]
struct Queue {
    /// Jobs in order of due time (each is due SETTLE after it was queued).
    jobs: VecDeque<Job>,
    /// The modseq each folder's word index is known to reach.
    indexed: HashMap<Collection, u64>,
}

/// The server's word-index keeper; one per process, in [`App`].
#[derive(Default)]
pub struct Indexer {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// One lock per folder ever caught up (as many as the users' mail folders).
    locks: Mutex<HashMap<Collection, Arc<Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Indexer {
    /// Notes that `folder` of `user` is at `modseq` in the change index; queues it when its
    /// word index may be behind. Cheap: one lock and a map lookup.
    pub fn poke(&self, user: &str, folder: &Folder, modseq: u64) {
        let mut q = lock(&self.queue);
        if q.indexed.get(&folder.coll).is_some_and(|&m| m >= modseq) {
            return;
        }
        if let Some(queued) = q.jobs.iter_mut().find(|j| j.folder.coll == folder.coll) {
            queued.modseq = queued.modseq.max(modseq);
            return;
        }
        q.jobs.push_back(Job {
            user: user.to_string(),
            folder: folder.clone(),
            modseq,
            due: Instant::now() + SETTLE,
        });
        self.wake.notify_one();
    }

    /// Brings `folder`'s word index up to date with the change index (which the caller has
    /// refreshed), reading only the messages added since its mark.
    pub fn catch_up(
        &self,
        account: &Account<'_>,
        folder: &Folder,
    ) -> Result<CaughtUp, MailSearchError> {
        self.catch_up_some(account, folder, usize::MAX)
    }

    /// [`Indexer::catch_up`] stopping after about `max` messages. The thread goes in such parts
    /// and lets go of the folder in between, so a Search arriving meanwhile waits for one part
    /// on the niced thread at most and then reads the rest at its own priority.
    fn catch_up_some(
        &self,
        account: &Account<'_>,
        folder: &Folder,
        max: usize,
    ) -> Result<CaughtUp, MailSearchError> {
        let folder_lock = lock(&self.locks).entry(folder.coll).or_default().clone();
        let _serial = lock(&folder_lock);
        let idx = SearchIndex {
            db: &account.app.db,
            index: &account.app.index,
            user: account.user,
        };
        let backend = account.backend();
        let done = idx.catch_up(folder.coll, max, |item| {
            backend
                .raw(folder, item)
                .ok()
                .map(|raw| words::message_words(&raw))
        })?;
        let mut q = lock(&self.queue);
        let known = q.indexed.entry(folder.coll).or_default();
        *known = (*known).max(done.mark);
        // A Search that caught up leaves the thread nothing to do for this folder.
        q.jobs
            .retain(|j| j.folder.coll != folder.coll || j.modseq > done.mark);
        Ok(done)
    }

    /// The next job, once it is due.
    fn next(&self) -> Job {
        let mut q = lock(&self.queue);
        loop {
            let now = Instant::now();
            match q.jobs.front().map(|j| j.due) {
                Some(due) if due <= now => {
                    if let Some(job) = q.jobs.pop_front() {
                        return job;
                    }
                }
                Some(due) => {
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

/// Starts the catch-up thread of a serving process.
pub fn spawn(app: Arc<App>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("easd-search-index".into())
        .spawn(move || {
            // On Linux a nice value set with who = 0 applies to the calling thread only.
            // SAFETY: setpriority reads no memory of ours.
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) } != 0 {
                log::debug!("search index: cannot lower the thread's priority");
            }
            loop {
                let job = app.search.next();
                let account = match Account::open(&app, &job.user) {
                    Ok(a) => a,
                    Err(e) => {
                        log::warn!("search index: {}: {e}", job.user);
                        continue;
                    }
                };
                let started = Instant::now();
                let mut read = 0;
                let outcome = loop {
                    match app.search.catch_up_some(&account, &job.folder, PART) {
                        Ok(done) if done.complete => break Ok(read + done.read),
                        Ok(done) => read += done.read,
                        Err(e) => break Err(e),
                    }
                };
                match outcome {
                    Ok(0) => {}
                    Ok(read) => log::debug!(
                        "search index: {} folder {}: {read} new messages indexed in {} ms",
                        job.user,
                        job.folder.id,
                        started.elapsed().as_millis()
                    ),
                    Err(e) => {
                        log::warn!("search index: {} folder {}: {e}", job.user, job.folder.id)
                    }
                }
            }
        })
        .map(drop)
}
