//! A user's calendar as the scheduling code sees it (MeetingResponse, invitations arriving in
//! the Inbox): find an event by its UID, store or remove it, and record the change in the
//! change index at once so every device's next Sync (and a held Ping) sees it.

use super::pim;
use crate::app::App;
use crate::eas::ids::ServerId;
use crate::items::imip::{self, Method};
use crate::items::imip_reply::{self, Attendee};
use crate::items::pim::ItemError;
use crate::state::index::{Collection, IndexError, LocalChange};
use crate::store::vdir::{CollectionName, Href, PimError, PimKind, PimStore};
use std::fmt;
use std::sync::Arc;

#[derive(Debug)]
pub enum SchedulingError {
    Pim(PimError),
    Index(IndexError),
    /// The invitation or the stored event cannot be read.
    Item(ItemError),
}

impl fmt::Display for SchedulingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedulingError::Pim(e) => write!(f, "calendar: {e}"),
            SchedulingError::Index(e) => write!(f, "change index: {e}"),
            SchedulingError::Item(e) => write!(f, "event: {e}"),
        }
    }
}

impl std::error::Error for SchedulingError {}

impl From<PimError> for SchedulingError {
    fn from(e: PimError) -> Self {
        SchedulingError::Pim(e)
    }
}

impl From<ItemError> for SchedulingError {
    fn from(e: ItemError) -> Self {
        SchedulingError::Item(e)
    }
}

impl From<IndexError> for SchedulingError {
    fn from(e: IndexError) -> Self {
        SchedulingError::Index(e)
    }
}

/// The user as an attendee: their address and display name from the configuration.
pub fn attendee(app: &App, user: &str) -> Attendee {
    let name = app
        .config
        .user(user)
        .map(|u| u.name.trim().to_string())
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(user));
    Attendee {
        address: user.to_string(),
        name,
    }
}

/// One calendar collection of one user.
pub struct CalendarFolder<'a> {
    app: &'a App,
    user: &'a str,
    store: Arc<dyn PimStore>,
    name: CollectionName,
    coll: Collection,
}

/// An event file found by UID.
pub struct Found {
    pub href: Href,
    pub text: String,
}

impl<'a> CalendarFolder<'a> {
    /// The user's default calendar, created when missing.
    pub fn default(app: &'a App, user: &'a str) -> Result<CalendarFolder<'a>, SchedulingError> {
        let name = CollectionName::parse(PimKind::Calendar.default_name())?;
        let store = app.pim_store(user)?;
        store.ensure_defaults()?;
        CalendarFolder::open(app, user, store, name)
    }

    pub fn open(
        app: &'a App,
        user: &'a str,
        store: Arc<dyn PimStore>,
        name: CollectionName,
    ) -> Result<CalendarFolder<'a>, SchedulingError> {
        let coll = app.index.collection(user, &pim::collection_name(&name))?;
        Ok(CalendarFolder {
            app,
            user,
            store,
            name,
            coll,
        })
    }

    /// The event whose UID is `uid`. Reads the collection's files: scheduling answers are rare
    /// and a small office's calendar is small.
    pub fn find(&self, uid: &str) -> Result<Option<Found>, SchedulingError> {
        for entry in self.store.list(&self.name)? {
            let text = match self.store.read(&self.name, &entry.href) {
                Ok(t) => t,
                Err(PimError::ItemNotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            if imip_reply::event_uid(&text).as_deref() == Some(uid) {
                return Ok(Some(Found {
                    href: entry.href,
                    text,
                }));
            }
        }
        Ok(None)
    }

    /// The event at `href`.
    pub fn read(&self, href: &Href) -> Result<String, SchedulingError> {
        Ok(self.store.read(&self.name, href)?)
    }

    /// Stores `text` as a new event or over `existing`; returns its ServerId in this folder.
    pub fn save(
        &self,
        existing: Option<&Href>,
        uid: &str,
        text: &str,
    ) -> Result<Option<ServerId>, SchedulingError> {
        let stored = match existing {
            Some(href) => self.store.replace(&self.name, href, text)?,
            None => self.store.create(&self.name, uid, text)?,
        };
        let time = pim::item_time(PimKind::Calendar, text, stored.mtime).unwrap_or(stored.mtime);
        let noted = self.app.index.note_local_change(
            self.coll,
            LocalChange::Upsert {
                key: stored.href.as_str(),
                version: &stored.version,
                time,
            },
        )?;
        self.app.hub.notify(self.user, Some(self.coll.id().0));
        Ok(noted.uid.map(|u| ServerId::item(self.coll.id().0, u.0)))
    }

    /// Removes the event at `href`.
    pub fn remove(&self, href: &Href) -> Result<(), SchedulingError> {
        match self.store.delete(&self.name, href) {
            Ok(()) | Err(PimError::ItemNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.app
            .index
            .note_local_change(self.coll, LocalChange::Remove { key: href.as_str() })?;
        self.app.hub.notify(self.user, Some(self.coll.id().0));
        Ok(())
    }
}

/// What an iMIP message just delivered to `user` does to their default calendar: a REQUEST puts
/// the event there, tentative until the user answers (an update replaces it unless the stored
/// one is newer); a CANCEL marks the event cancelled, or drops the one cancelled occurrence; a
/// REPLY to a meeting the user organises records the attendee's answer. Requests and cancels
/// the user organised, and messages without an invitation, change nothing. Returns what it
/// did, for the log.
pub fn on_delivery(
    app: &App,
    user: &str,
    message: &mail_parser::Message<'_>,
) -> Result<Option<&'static str>, SchedulingError> {
    let Some(inv) = imip::find(message) else {
        return Ok(None);
    };
    let organised_by_user =
        imip_reply::organizer(&inv.ics).is_some_and(|o| o.eq_ignore_ascii_case(user));
    // Replies come to the organizer; requests and cancels to the attendees.
    let concerns_user = match inv.method {
        Method::Reply => organised_by_user,
        _ => !organised_by_user,
    };
    let Some(uid) = imip_reply::event_uid(&inv.ics).filter(|_| concerns_user) else {
        return Ok(None);
    };
    let calendar = CalendarFolder::default(app, user)?;
    let stored = calendar.find(&uid)?;
    match inv.method {
        Method::Request => {
            if let Some(found) = &stored
                && imip_reply::sequence(&found.text) > imip_reply::sequence(&inv.ics)
            {
                return Ok(Some("outdated invitation ignored"));
            }
            let text = imip_reply::tentative(&inv.ics)?;
            calendar.save(stored.as_ref().map(|f| &f.href), &uid, &text)?;
            Ok(Some("tentative event stored"))
        }
        Method::Cancel => {
            let Some(found) = stored else {
                return Ok(None);
            };
            let text = match imip_reply::only_occurrence(&inv.ics) {
                Some(at) => imip_reply::decline_occurrence(&found.text, at)?,
                None => imip_reply::cancelled(&found.text)?,
            };
            calendar.save(Some(&found.href), &uid, &text)?;
            Ok(Some("event cancelled"))
        }
        Method::Reply => {
            let Some(found) = stored else {
                return Ok(None);
            };
            match imip_reply::apply_reply(&found.text, &inv.ics)? {
                Some(text) => {
                    calendar.save(Some(&found.href), &uid, &text)?;
                    Ok(Some("attendee's answer recorded"))
                }
                None => Ok(None),
            }
        }
        Method::Other => Ok(None),
    }
}
