//! The guide's per-device options for devices without task or note support: "tasks as events"
//! (`tasks_as_events=true`: each task list is a calendar of its own whose events are the tasks,
//! on their due day) and "notes as" (`notes_as=calendar|tasks`: each notes collection is a
//! calendar or a task list). The items are converted on the way out (VTODO or VJOURNAL written
//! as a VEVENT or VTODO, then the usual Calendar or Tasks conversion); one way, server → device
//! like GroupWare mail access: the device's changes are taken and forgotten, adds and deletes
//! refused.

use super::backend::{BackendError, ItemBackend, one_way_writes};
use super::pim::{PimBackend, dav_source};
use super::{Account, Folder, FolderType, ItemClass, Source};
use crate::ProtocolVersion;
use crate::device::options::NotesAs;
use crate::items::component::{Component, Document};
use crate::items::contentline::Property;
use crate::items::email::EmailOptions;
use crate::items::ical_time::IcalTime;
use crate::items::pim::ConvertOptions;
use crate::items::zones::Zones;
use crate::items::{calendar, task};
use crate::state::index::{Item, Preview};
use crate::store::vdir::{Href, PimKind, PimStore};
use crate::wbxml::Element;
use jiff::tz::TimeZone;
use std::sync::Arc;

/// The folder as a device with these options sees it: a task list as a calendar, a notes
/// collection as a calendar or a task list; anything else unchanged.
pub fn apply(mut folder: Folder, tasks_as_events: bool, notes_as: NotesAs) -> Folder {
    if let Source::Dav(_, kind) = &folder.source {
        folder.kind = match (kind, notes_as) {
            (PimKind::Tasks, _) if tasks_as_events => FolderType::UserCalendar,
            (PimKind::Notes, NotesAs::Calendar) => FolderType::UserCalendar,
            (PimKind::Notes, NotesAs::Tasks) => FolderType::UserTasks,
            _ => folder.kind,
        };
    }
    folder
}

/// Whether `folder` is shown as another class than it holds.
pub fn is_converted(folder: &Folder) -> bool {
    match &folder.source {
        Source::Dav(_, kind) => {
            let native = match kind {
                PimKind::Contacts => ItemClass::Contacts,
                PimKind::Calendar => ItemClass::Calendar,
                PimKind::Tasks => ItemClass::Tasks,
                PimKind::Notes => ItemClass::Notes,
            };
            folder.kind.class() != native
        }
        Source::Mail(_) | Source::Files => false,
    }
}

/// The first `name` component of `ics`, with the calendar's zones.
fn component(ics: &str, name: &str) -> Option<(Component, Zones)> {
    let doc = Document::parse(ics).into_calendar();
    let cal = doc.components.iter().find(|c| c.is("VCALENDAR"))?;
    Some((
        cal.children.iter().find(|c| c.is(name))?.clone(),
        Zones::from_calendar(cal),
    ))
}

/// The day an item is shown on: the first of `names` it has, as a local date.
fn day_of(
    comp: &Component,
    zones: &Zones,
    zone: &TimeZone,
    names: &[&str],
) -> Option<jiff::civil::Date> {
    names.iter().find_map(|n| {
        let t = IcalTime::from_prop(comp.prop(n)?)?;
        match t {
            IcalTime::Date(d) => Some(d),
            other => Some(
                other
                    .to_timestamp(zones, zone)?
                    .to_zoned_datetime(zone.clone())
                    .date(),
            ),
        }
    })
}

/// Copies the properties both kinds of component share.
fn shared(from: &Component, to: &mut Component) {
    for name in [
        "UID",
        "DTSTAMP",
        "LAST-MODIFIED",
        "SUMMARY",
        "DESCRIPTION",
        "CATEGORIES",
        "CLASS",
    ] {
        for p in from.props_named(name) {
            to.props.push(p.clone());
        }
    }
}

fn wrap(comp: Component) -> String {
    let mut cal = Component::new("VCALENDAR");
    cal.props.push(Property::new("VERSION", "2.0"));
    cal.props.push(Property::new("PRODID", "-//easd//view//EN"));
    cal.children.push(comp);
    let mut out = String::new();
    cal.write(&mut out, "\r\n");
    out
}

/// A task or note as an all-day event on its due (task) or start (note) day.
pub fn as_event(ics: &str, source: PimKind, zone: &TimeZone) -> Option<String> {
    let (name, days): (&str, &[&str]) = match source {
        PimKind::Tasks => ("VTODO", &["DUE", "DTSTART", "COMPLETED", "DTSTAMP"]),
        PimKind::Notes => (
            "VJOURNAL",
            &["DTSTART", "LAST-MODIFIED", "DTSTAMP", "CREATED"],
        ),
        PimKind::Contacts | PimKind::Calendar => return None,
    };
    let (comp, zones) = component(ics, name)?;
    let day = day_of(&comp, &zones, zone, days)?;
    let mut ev = Component::new("VEVENT");
    shared(&comp, &mut ev);
    ev.props.push(IcalTime::Date(day).to_prop("DTSTART"));
    ev.props
        .push(IcalTime::Date(day.tomorrow().ok()?).to_prop("DTEND"));
    ev.props.push(Property::new("TRANSP", "TRANSPARENT"));
    Some(wrap(ev))
}

/// A note as a task.
pub fn note_as_task(ics: &str) -> Option<String> {
    let (comp, _) = component(ics, "VJOURNAL")?;
    let mut todo = Component::new("VTODO");
    shared(&comp, &mut todo);
    if let Some(p) = comp.prop("DTSTART") {
        todo.props.push(p.clone());
    }
    Some(wrap(todo))
}

pub struct ConvertedPim<'a> {
    /// The collection's own backend keeps the index current.
    pim: PimBackend<'a>,
    store: Arc<dyn PimStore>,
    account: &'a Account<'a>,
}

impl<'a> ConvertedPim<'a> {
    pub fn new(
        account: &'a Account<'a>,
        store: Arc<dyn PimStore>,
        version: ProtocolVersion,
    ) -> Self {
        ConvertedPim {
            pim: PimBackend::new(account, store.clone(), version),
            store,
            account,
        }
    }

    fn options(&self, opts: &EmailOptions) -> ConvertOptions {
        let mut o = ConvertOptions::new(opts.version);
        o.time_zone = self.account.app.config.dav.zone();
        o.user_addresses = vec![self.account.user.to_string()];
        o.body_preferences = opts
            .body_preferences
            .iter()
            .map(|p| (p.body_type.as_u8(), p.truncation_size))
            .collect();
        if opts.version < ProtocolVersion::V12_0 {
            o.body_preferences = vec![(1, opts.truncation)];
        }
        o
    }
}

impl ItemBackend for ConvertedPim<'_> {
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError> {
        self.pim.refresh(folder)
    }

    fn preview(&self, folder: &Folder, arrivals_since: u64) -> Result<Preview, BackendError> {
        self.pim.preview(folder, arrivals_since)
    }

    fn render(
        &self,
        folder: &Folder,
        item: &Item,
        _server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        let (name, kind) = dav_source(folder)?;
        let href = Href::parse(&item.key).map_err(|_| BackendError::NotFound)?;
        let text = self.store.read(name, &href)?;
        let convert = self.options(opts);
        let shown = match folder.kind.class() {
            ItemClass::Calendar => as_event(&text, kind, &convert.time_zone),
            ItemClass::Tasks if kind == PimKind::Notes => note_as_task(&text),
            _ => None,
        }
        .ok_or_else(|| BackendError::Invalid(format!("{href} cannot be shown here")))?;
        Ok(match folder.kind.class() {
            ItemClass::Calendar => calendar::event_to_eas(&shown, &convert)?,
            _ => task::task_to_eas(&shown, &convert)?,
        })
    }

    one_way_writes!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_and_note_views() {
        let todo = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nSUMMARY:Pay rent\r\n\
            DUE:20270101T100000Z\r\nCATEGORIES:Home\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let ev = as_event(todo, PimKind::Tasks, &TimeZone::UTC).unwrap();
        assert!(ev.contains("DTSTART;VALUE=DATE:20270101\r\n"), "{ev}");
        assert!(ev.contains("DTEND;VALUE=DATE:20270102\r\n"));
        assert!(ev.contains("SUMMARY:Pay rent") && ev.contains("CATEGORIES:Home"));
        let note = "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nUID:n\r\nSUMMARY:Idea\r\n\
            DTSTAMP:20261231T230000Z\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let ev = as_event(note, PimKind::Notes, &paris).unwrap();
        assert!(ev.contains("DTSTART;VALUE=DATE:20270101\r\n"), "{ev}");
        let t = note_as_task(note).unwrap();
        assert!(t.contains("BEGIN:VTODO") && t.contains("SUMMARY:Idea"));
        assert!(as_event(todo, PimKind::Notes, &paris).is_none());
    }
}
