//! iCalendar VJOURNAL ⇄ EAS Notes (MS-ASNOTE, protocol 14.0 and later):
//! Subject ⇄ SUMMARY, Body ⇄ DESCRIPTION, Categories ⇄ CATEGORIES,
//! LastModifiedDate ⇄ LAST-MODIFIED, MessageClass always "IPM.StickyNote".

use super::component::{Component, Document};
use super::contentline::{Property, escape_text};
use super::eas_time;
use super::ical_time::IcalTime;
use super::merge::{Edits, Incoming};
use super::pim::{ConvertOptions, ItemError, retain_supported};
use super::pim_body;
use super::uid::new_uid;
use crate::wbxml::{Element, tags};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use tags::notes as n;

/// The only message class of a note (MS-ASNOTE 2.2.2.5).
pub const STICKY_NOTE: &str = "IPM.StickyNote";

fn journal_of(doc: &Document) -> Option<(usize, usize)> {
    doc.components.iter().enumerate().find_map(|(ci, c)| {
        let ji = c.children.iter().position(|k| k.is("VJOURNAL"))?;
        Some((ci, ji))
    })
}

fn modified(journal: &Component) -> Option<Timestamp> {
    ["LAST-MODIFIED", "DTSTAMP", "CREATED"]
        .iter()
        .find_map(|name| {
            IcalTime::from_prop(journal.prop(name)?)?
                .to_timestamp(&Default::default(), &TimeZone::UTC)
        })
}

/// The ApplicationData of the first journal entry in `ics`.
pub fn note_to_eas(ics: &str, opts: &ConvertOptions) -> Result<Element, ItemError> {
    let doc = Document::parse(ics).into_calendar();
    let (ci, ji) = journal_of(&doc).ok_or(ItemError::NoComponent("VJOURNAL"))?;
    let journal = &doc.components[ci].children[ji];
    let subject = journal.text("SUMMARY");
    let text = journal.text("DESCRIPTION").unwrap_or_default();
    if subject.is_none() && text.is_empty() {
        return Err(ItemError::Unusable(
            "the journal entry has neither summary nor description",
        ));
    }
    let mut app = Element::new(tags::airsync::APPLICATION_DATA).with_opt_text(n::SUBJECT, subject);
    for body in pim_body::to_eas(&text, None, opts, None) {
        app.push(body);
    }
    app.push_text(n::MESSAGE_CLASS, STICKY_NOTE);
    let stamp = modified(journal).unwrap_or_else(Timestamp::now);
    app.push_text(n::LAST_MODIFIED_DATE, eas_time::extended(stamp));
    let cats = journal.list("CATEGORIES");
    if !cats.is_empty() {
        let mut list = Element::new(n::CATEGORIES);
        for c in cats {
            list.push_text(n::CATEGORY, c);
        }
        app.push(list);
    }
    retain_supported(&mut app, opts.version);
    Ok(app)
}

/// The calendar after a device's change to a note, merged into `existing`
/// or new (with a fresh UID).
pub fn note_from_eas(
    app: &Element,
    existing: Option<&str>,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    let mut doc = existing
        .map(|e| Document::parse(e).into_calendar())
        .filter(|d| d.components.iter().any(|c| c.is("VCALENDAR")))
        .unwrap_or_else(|| {
            let mut cal_comp = Component::new("VCALENDAR");
            cal_comp.props.push(Property::new("VERSION", "2.0"));
            cal_comp.props.push(Property::new("PRODID", "-//easd//EN"));
            Document {
                components: vec![cal_comp],
                eol: "\r\n",
            }
        });
    let (ci, ji) = match journal_of(&doc) {
        Some(found) => found,
        None => {
            let ci = doc
                .components
                .iter()
                .position(|c| c.is("VCALENDAR"))
                .ok_or(ItemError::NoComponent("VCALENDAR"))?;
            let mut journal = Component::new("VJOURNAL");
            journal.props.push(Property::new("UID", new_uid()));
            journal.props.push(Property::new(
                "DTSTAMP",
                eas_time::compact(Timestamp::now()),
            ));
            doc.components[ci].children.push(journal);
            (ci, doc.components[ci].children.len() - 1)
        }
    };
    let journal = doc.components[ci].children[ji].clone();
    let mut edits = Edits::default();
    edits.set_text(&journal, "SUMMARY", Incoming::read(app, n::SUBJECT, opts));
    let stored = journal.text("DESCRIPTION").unwrap_or_default();
    let text = pim_body::from_eas(app, None);
    if let Some(text) = text.filter(|t| *t != stored && !pim_body::is_truncated_echo(&stored, t)) {
        let incoming = if text.is_empty() {
            Incoming::Clear
        } else {
            Incoming::Set(&text)
        };
        edits.set_text(&journal, "DESCRIPTION", incoming);
    }
    let cats: Option<Vec<String>> = match app.first(n::CATEGORIES) {
        Some(list) => Some(
            list.all(n::CATEGORY)
                .filter_map(|e| e.text_content())
                .map(str::to_string)
                .collect(),
        ),
        None if opts.is_ghosted(n::CATEGORIES) => None,
        None => Some(Vec::new()),
    };
    if let Some(new) = cats.filter(|c| *c != journal.list("CATEGORIES")) {
        for (i, _) in journal
            .props
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is("CATEGORIES"))
        {
            edits.remove(i);
        }
        if !new.is_empty() {
            let value = new
                .iter()
                .map(|s| escape_text(s))
                .collect::<Vec<_>>()
                .join(",");
            edits.append(Property::new("CATEGORIES", value));
        }
    }
    if edits.is_empty() {
        return Ok(doc.write());
    }
    let at = app
        .child_text(n::LAST_MODIFIED_DATE)
        .and_then(eas_time::parse)
        .unwrap_or_else(Timestamp::now);
    edits.set_prop(
        &journal,
        Property::new("LAST-MODIFIED", eas_time::compact(at)),
    );
    edits.set_prop(&journal, Property::new("DTSTAMP", eas_time::compact(at)));
    edits.apply(&mut doc.components[ci].children[ji]);
    Ok(doc.write())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolVersion;

    const NOTE: &str = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Example//Notes//EN\nBEGIN:VJOURNAL\nUID:n1\n\
        DTSTAMP:20240301T100000Z\nLAST-MODIFIED:20240302T110000Z\nSUMMARY:Einkaufsliste\n\
        DESCRIPTION:Milch\\nBrot\nCATEGORIES:Privat\nX-KEEP:me\nEND:VJOURNAL\nEND:VCALENDAR\n";

    fn opts() -> ConvertOptions {
        ConvertOptions::new(ProtocolVersion::V14_1)
    }

    #[test]
    fn out_and_back() {
        let app = note_to_eas(NOTE, &opts()).unwrap();
        assert_eq!(app.child_text(n::SUBJECT), Some("Einkaufsliste"));
        assert_eq!(app.child_text(n::MESSAGE_CLASS), Some(STICKY_NOTE));
        assert_eq!(
            app.child_text(n::LAST_MODIFIED_DATE),
            Some("2024-03-02T11:00:00.000Z")
        );
        let body = app.first(tags::airsyncbase::BODY).unwrap();
        assert_eq!(
            body.child_text(tags::airsyncbase::DATA),
            Some("Milch\nBrot")
        );
        assert_eq!(note_from_eas(&app, Some(NOTE), &opts()).unwrap(), NOTE);
        let created = note_from_eas(&app, None, &opts()).unwrap();
        assert_eq!(note_to_eas(&created, &opts()).unwrap(), app);
    }

    #[test]
    fn an_edit_keeps_the_rest() {
        let app = Element::new(tags::airsync::APPLICATION_DATA)
            .with_text(n::SUBJECT, "Einkauf")
            .with(Element::new(n::CATEGORIES).with_text(n::CATEGORY, "Privat"))
            .with(
                Element::new(tags::airsyncbase::BODY)
                    .with_text(tags::airsyncbase::TYPE, "1")
                    .with_text(tags::airsyncbase::DATA, "Milch\nBrot\nEier"),
            )
            .with_text(n::LAST_MODIFIED_DATE, "2024-03-05T08:00:00.000Z");
        let back = note_from_eas(&app, Some(NOTE), &opts()).unwrap();
        assert!(back.contains("SUMMARY:Einkauf\n"));
        assert!(back.contains("DESCRIPTION:Milch\\nBrot\\nEier"));
        assert!(back.contains("LAST-MODIFIED:20240305T080000Z"));
        assert!(back.contains("X-KEEP:me"));
        assert!(note_to_eas("BEGIN:VCALENDAR\nEND:VCALENDAR\n", &opts()).is_err());
    }
}
