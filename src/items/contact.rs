//! vCard 2.1/3.0/4.0 ⇄ EAS Contacts (MS-ASCNTC): the Contacts and Contacts2
//! code pages, AirSyncBase Body for notes. A device's change is merged into
//! the stored card: only the properties that fed an EAS field are updated or
//! removed, everything else keeps its bytes.
//!
//! Fields with no standard vCard property use these, read and written:
//! `X-PHONETIC-FIRST-NAME`, `X-PHONETIC-LAST-NAME`, `X-PHONETIC-ORG` (Apple's
//! Yomi names), `X-EAS-OFFICE-LOCATION`, `X-EAS-ALIAS`, `X-EAS-ACCOUNT-NAME`,
//! `X-EAS-CUSTOMER-ID`, `X-EAS-GOVERNMENT-ID`; anniversary is `ANNIVERSARY`
//! (4.0) or `X-ANNIVERSARY` (3.0); related names are `RELATED` (4.0 spouse and
//! children) or Apple's `X-ABRELATEDNAMES` with a label. FileAs is `FN`.

mod birthday;
mod slots;

use super::component::{Component, Document};
use super::contentline::{Param, Property, escape_text, split_unescaped, unescape_text};
use super::eas_time;
use super::merge::{Edits, Incoming};
use super::pim::{ConvertOptions, ItemError, strip_mailto};
use super::pim_body::{self, LegacyBody};
use super::uid::new_uid;
use crate::wbxml::{Element, Tag, tags};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use slots::Slot;

use tags::contacts as c;
use tags::contacts2 as c2;

/// Text fields that are one property each: (EAS field, vCard property).
const SIMPLE: [(Tag, &str); 10] = [
    (c::JOB_TITLE, "TITLE"),
    (c2::NICK_NAME, "NICKNAME"),
    (c::YOMI_FIRST_NAME, "X-PHONETIC-FIRST-NAME"),
    (c::YOMI_LAST_NAME, "X-PHONETIC-LAST-NAME"),
    (c::YOMI_COMPANY_NAME, "X-PHONETIC-ORG"),
    (c::OFFICE_LOCATION, "X-EAS-OFFICE-LOCATION"),
    (c::ALIAS, "X-EAS-ALIAS"),
    (c2::ACCOUNT_NAME, "X-EAS-ACCOUNT-NAME"),
    (c2::CUSTOMER_ID, "X-EAS-CUSTOMER-ID"),
    (c2::GOVERNMENT_ID, "X-EAS-GOVERNMENT-ID"),
];

/// N components in vCard order, and the EAS field of each.
const NAME_PARTS: [Tag; 5] = [
    c::LAST_NAME,
    c::FIRST_NAME,
    c::MIDDLE_NAME,
    c::TITLE,
    c::SUFFIX,
];

const LEGACY_BODY: LegacyBody = LegacyBody {
    body: c::BODY,
    size: Some(c::BODY_SIZE),
    truncated: c::BODY_TRUNCATED,
};

/// The largest picture sent, decoded (MS-ASCNTC caps Picture at 48 KB).
const MAX_PICTURE: usize = 48 * 1024;

/// The ApplicationData of the first card in `vcf`.
pub fn contact_to_eas(vcf: &str, opts: &ConvertOptions) -> Result<Element, ItemError> {
    let doc = Document::parse(vcf);
    let card = doc
        .components
        .iter()
        .find(|c| c.is("VCARD"))
        .ok_or(ItemError::NoComponent("VCARD"))?;
    let mut app = Element::new(tags::airsync::APPLICATION_DATA);
    let mut put = |tag: Tag, value: String| {
        if !value.trim().is_empty() && tag.supported_in(opts.version) {
            app.push_text(tag, value);
        }
    };

    let n = card.prop("N").map(structured).unwrap_or_default();
    for (tag, part) in NAME_PARTS.iter().zip(n.iter()) {
        put(*tag, part.clone());
    }
    put(c::FILE_AS, card.text("FN").unwrap_or_default());
    let org = card.prop("ORG").map(structured).unwrap_or_default();
    put(c::COMPANY_NAME, org.first().cloned().unwrap_or_default());
    put(c::DEPARTMENT, org.get(1).cloned().unwrap_or_default());
    for (tag, name) in SIMPLE {
        put(tag, card.text(name).unwrap_or_default());
    }
    put(c::WEB_PAGE, card.text("URL").unwrap_or_default());

    for (slot, i) in slots::emails(card) {
        put(slot.tag, email_value(&card.props[i]));
    }
    for (slot, i) in slots::phones(card) {
        put(slot.tag, phone_value(&card.props[i]));
    }
    for (slot, i) in slots::addresses(card) {
        let Some(&(_, t)) = slots::ADDRESSES.iter().find(|(s, _)| *s == slot) else {
            continue;
        };
        let adr = structured(&card.props[i]);
        let part = |k: usize| adr.get(k).cloned().unwrap_or_default();
        put(t.street, part(2));
        put(t.city, part(3));
        put(t.state, part(4));
        put(t.postal_code, part(5));
        put(t.country, part(6));
    }
    for (slot, i) in slots::ims(card) {
        put(slot.tag, im_value(&card.props[i]));
    }
    for (slot, i) in slots::related(card) {
        put(slot.tag, card.props[i].text_value());
    }
    if let Some(bday) = card
        .prop("BDAY")
        .and_then(|p| birthday::parse_vcard_date(&p.value))
    {
        put(c::BIRTHDAY, birthday::to_eas(bday, opts.device_utc_offset));
    }
    let anniversary = card
        .props
        .iter()
        .find(|p| slots::is_anniversary(card, p))
        .and_then(|p| birthday::parse_vcard_date(&p.value));
    if let Some(date) = anniversary {
        put(
            c::ANNIVERSARY,
            birthday::to_eas(date, opts.device_utc_offset),
        );
    }
    if let Some(data) = card.props.iter().find_map(inline_photo)
        && BASE64
            .decode(data.as_bytes())
            .is_ok_and(|b| b.len() <= MAX_PICTURE)
    {
        put(c::PICTURE, data);
    }

    let children: Vec<String> = slots::children(card)
        .into_iter()
        .map(|i| card.props[i].text_value())
        .filter(|s| !s.is_empty())
        .collect();
    if !children.is_empty() {
        let mut list = Element::new(c::CHILDREN);
        for child in children {
            list.push_text(c::CHILD, child);
        }
        app.push(list);
    }
    let categories = card.list("CATEGORIES");
    if !categories.is_empty() {
        let mut list = Element::new(c::CATEGORIES);
        for cat in categories {
            list.push_text(c::CATEGORY, cat);
        }
        app.push(list);
    }
    let note = card.text("NOTE").unwrap_or_default();
    for body in pim_body::to_eas(&note, None, opts, Some(LEGACY_BODY)) {
        app.push(body);
    }
    if app.is_empty() {
        return Err(ItemError::Unusable(
            "the vCard has no field a device can show",
        ));
    }
    Ok(app)
}

/// The card after a device's change: merged into `existing` (its first
/// VCARD; other cards in the file stay as they are), or a new vCard 3.0 with a
/// fresh UID.
pub fn contact_from_eas(
    app: &Element,
    existing: Option<&str>,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    let mut doc = existing.map(Document::parse).unwrap_or(Document {
        components: Vec::new(),
        eol: "\r\n",
    });
    let index = match doc.components.iter().position(|c| c.is("VCARD")) {
        Some(i) => i,
        None => {
            let mut card = Component::new("VCARD");
            card.props.push(Property::new("VERSION", "3.0"));
            card.props.push(Property::new("PRODID", "-//easd//EN"));
            card.props.push(Property::new("UID", new_uid()));
            doc.components.push(card);
            doc.components.len() - 1
        }
    };
    let card = &mut doc.components[index];
    let edits = Merger::new(card, app, opts).run();
    if edits.is_empty() {
        return Ok(doc.write());
    }
    edits.apply(card);
    if let Some(rev) = card.prop_mut("REV") {
        rev.set_value(
            jiff::Timestamp::now()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string(),
        );
    }
    Ok(doc.write())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V21,
    V30,
    V40,
}

struct Merger<'a> {
    card: &'a Component,
    app: &'a Element,
    opts: &'a ConvertOptions,
    version: Version,
    edits: Edits,
    next_group: u32,
}

impl<'a> Merger<'a> {
    fn new(card: &'a Component, app: &'a Element, opts: &'a ConvertOptions) -> Merger<'a> {
        let version = match card.text("VERSION").as_deref().map(str::trim) {
            Some("2.1") => Version::V21,
            Some("4.0") => Version::V40,
            _ => Version::V30,
        };
        let next_group = card
            .props
            .iter()
            .filter_map(|p| {
                p.group
                    .as_deref()?
                    .strip_prefix("item")?
                    .parse::<u32>()
                    .ok()
            })
            .max()
            .unwrap_or(0)
            + 1;
        Merger {
            card,
            app,
            opts,
            version,
            edits: Edits::default(),
            next_group,
        }
    }

    fn incoming(&self, tag: Tag) -> Incoming<'a> {
        Incoming::read(self.app, tag, self.opts)
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.card.props.iter().position(|p| p.is(name))
    }

    /// A new text property, with CHARSET for non-ASCII text in a 2.1 card.
    fn new_prop(&self, name: &str, value: String) -> Property {
        let mut p = Property::new(name, value);
        if self.version == Version::V21 && !p.value.is_ascii() {
            p.set_param("CHARSET", "UTF-8");
        }
        p
    }

    /// Sets, updates or removes one property from one EAS field.
    fn single(
        &mut self,
        tag: Tag,
        index: Option<usize>,
        make: impl Fn(&Self, &str) -> Property,
        same: impl Fn(&Property, &str) -> bool,
    ) {
        match (self.incoming(tag), index) {
            (Incoming::Set(v), Some(i)) => {
                let old = &self.card.props[i];
                if !same(old, v) {
                    let mut p = old.clone();
                    p.set_value(make(self, v).value);
                    self.edits.update(i, p);
                }
            }
            (Incoming::Set(v), None) => {
                let p = make(self, v);
                self.edits.append(p);
            }
            (Incoming::Clear, Some(i)) => self.edits.remove(i),
            _ => {}
        }
    }

    /// A new property for a slot: its TYPE values, and an Apple label group
    /// when the slot has one.
    fn slot_prop(&mut self, name: &str, slot: Slot, value: String) -> Vec<Property> {
        let mut p = self.new_prop(name, value);
        for t in slot.types {
            if self.version == Version::V40 && *t == "INTERNET" {
                continue;
            }
            let t = if self.version == Version::V40 {
                t.to_ascii_lowercase()
            } else {
                t.to_string()
            };
            p.params.push(Param {
                name: "TYPE".into(),
                values: vec![t],
            });
        }
        if name == "RELATED" {
            p.set_param("VALUE", "text");
        }
        let Some(label) = slot.label else {
            return vec![p];
        };
        let group = format!("item{}", self.next_group);
        self.next_group += 1;
        p.group = Some(group.clone());
        let mut l = Property::text("X-ABLabel", label);
        l.group = Some(group);
        vec![p, l]
    }

    fn slot_field(
        &mut self,
        name: &str,
        slot: Slot,
        index: Option<usize>,
        value_of: fn(&Property) -> String,
        to_value: impl Fn(&Property, &str) -> String,
    ) {
        match (self.incoming(slot.tag), index) {
            (Incoming::Set(v), Some(i)) => {
                let old = &self.card.props[i];
                if value_of(old) != v {
                    let mut p = old.clone();
                    p.set_value(to_value(old, v));
                    self.edits.update(i, p);
                }
            }
            (Incoming::Set(v), None) => {
                let fresh = Property::new(name, "");
                let props = self.slot_prop(name, slot, to_value(&fresh, v));
                props.into_iter().for_each(|p| self.edits.append(p));
            }
            (Incoming::Clear, Some(i)) => self.edits.remove(i),
            _ => {}
        }
    }

    fn run(mut self) -> Edits {
        self.names();
        self.organization();
        for (tag, name) in SIMPLE {
            let index = self.index_of(name);
            self.single(
                tag,
                index,
                |m, v| m.new_prop(name, escape_text(v)),
                |p, v| p.text_value() == v,
            );
        }
        let url = self.index_of("URL");
        self.single(
            c::WEB_PAGE,
            url,
            |m, v| m.new_prop("URL", v.to_string()),
            |p, v| p.text_value() == v,
        );
        self.lists();
        self.dates();
        self.picture();
        self.children();
        self.categories();
        self.note();
        self.edits
    }

    fn names(&mut self) {
        let n_index = self.index_of("N");
        let old = n_index
            .map(|i| structured(&self.card.props[i]))
            .unwrap_or_default();
        let mut parts: Vec<String> = NAME_PARTS
            .iter()
            .enumerate()
            .map(|(k, tag)| {
                self.incoming(*tag)
                    .resolve(old.get(k).map_or("", String::as_str))
            })
            .collect();
        parts.extend(old.iter().skip(5).cloned());
        if trimmed(&parts) != trimmed(&old) {
            let value = join_structured(&parts);
            match n_index {
                Some(i) => {
                    let mut p = self.card.props[i].clone();
                    p.set_value(value);
                    self.edits.update(i, p);
                }
                None => {
                    let p = self.new_prop("N", value);
                    self.edits.append(p);
                }
            }
        }
        let composed = [&parts[3], &parts[1], &parts[2], &parts[0], &parts[4]]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let fallback = if composed.is_empty() {
            let company = self.app.child_text(c::COMPANY_NAME).unwrap_or("");
            let email = self
                .app
                .child_text(c::EMAIL1_ADDRESS)
                .map(strip_address)
                .unwrap_or_default();
            if company.is_empty() {
                email
            } else {
                company.to_string()
            }
        } else {
            composed
        };
        let fn_index = self.index_of("FN");
        let wanted = match self.incoming(c::FILE_AS) {
            Incoming::Set(v) => v.to_string(),
            Incoming::Keep => return,
            Incoming::Clear => fallback,
        };
        match fn_index {
            Some(i) if self.card.props[i].text_value() == wanted => {}
            Some(i) => {
                let mut p = self.card.props[i].clone();
                p.set_text(&wanted);
                self.edits.update(i, p);
            }
            None => {
                let p = self.new_prop("FN", escape_text(&wanted));
                self.edits.append(p);
            }
        }
    }

    fn organization(&mut self) {
        let index = self.index_of("ORG");
        let old = index
            .map(|i| structured(&self.card.props[i]))
            .unwrap_or_default();
        let get = |k: usize| old.get(k).map_or("", String::as_str);
        let company = self.incoming(c::COMPANY_NAME).resolve(get(0));
        let department = self.incoming(c::DEPARTMENT).resolve(get(1));
        let mut parts = vec![company, department];
        parts.extend(old.iter().skip(2).cloned());
        if trimmed(&parts) == trimmed(&old) {
            return;
        }
        match index {
            Some(i) if parts.iter().all(String::is_empty) => self.edits.remove(i),
            Some(i) => {
                let mut p = self.card.props[i].clone();
                p.set_value(join_structured(trimmed(&parts)));
                self.edits.update(i, p);
            }
            None => {
                let p = self.new_prop("ORG", join_structured(trimmed(&parts)));
                self.edits.append(p);
            }
        }
    }

    fn lists(&mut self) {
        let card = self.card;
        let emails = slots::emails(card);
        for slot in slots::EMAILS {
            let index = find(&emails, slot);
            self.slot_field("EMAIL", slot, index, email_value, |_, v| {
                escape_text(&strip_address(v))
            });
        }
        let phones = slots::phones(card);
        for slot in slots::PHONES {
            let index = find(&phones, slot);
            self.slot_field("TEL", slot, index, phone_value, |old, v| {
                if old.value.starts_with("tel:") {
                    format!("tel:{v}")
                } else {
                    escape_text(v)
                }
            });
        }
        let ims = slots::ims(card);
        for slot in slots::IMS {
            let index = find(&ims, slot);
            let impp = self.version != Version::V21;
            self.slot_field(
                if impp { "IMPP" } else { "X-JABBER" },
                slot,
                index,
                im_value,
                |old, v| match old.value.split_once(':') {
                    Some((scheme, _)) if !v.contains(':') && old.is("IMPP") => {
                        format!("{scheme}:{v}")
                    }
                    _ if old.is("IMPP") && !v.contains(':') => format!("im:{v}"),
                    _ => escape_text(v),
                },
            );
        }
        let related = slots::related(card);
        for slot in slots::RELATED {
            let index = find(&related, slot);
            let v40_spouse = self.version == Version::V40 && slot == slots::SPOUSE;
            let name = if v40_spouse {
                "RELATED"
            } else {
                "X-ABRELATEDNAMES"
            };
            let slot = if v40_spouse {
                slot
            } else {
                Slot { types: &[], ..slot }
            };
            self.slot_field(name, slot, index, Property::text_value, |_, v| {
                escape_text(v)
            });
        }
        self.addresses();
    }

    fn addresses(&mut self) {
        let assigned = slots::addresses(self.card);
        for (slot, t) in slots::ADDRESSES {
            let index = find(&assigned, slot);
            let old = index
                .map(|i| structured(&self.card.props[i]))
                .unwrap_or_default();
            let get = |k: usize| old.get(k).map_or("", String::as_str);
            let mut parts: Vec<String> = vec![get(0).to_string(), get(1).to_string()];
            for (k, tag) in [
                (2, t.street),
                (3, t.city),
                (4, t.state),
                (5, t.postal_code),
                (6, t.country),
            ] {
                parts.push(self.incoming(tag).resolve(get(k)));
            }
            parts.extend(old.iter().skip(7).cloned());
            let has_eas_part = parts[2..7].iter().any(|s| !s.is_empty());
            match index {
                Some(i) if !has_eas_part => self.edits.remove(i),
                Some(i) if trimmed(&parts) != trimmed(&old) => {
                    let mut p = self.card.props[i].clone();
                    p.set_value(join_structured(&parts));
                    self.edits.update(i, p);
                }
                Some(_) => {}
                None if has_eas_part => {
                    let props = self.slot_prop("ADR", slot, join_structured(&parts));
                    props.into_iter().for_each(|p| self.edits.append(p));
                }
                None => {}
            }
        }
    }

    fn dates(&mut self) {
        let card = self.card;
        let bday = self.index_of("BDAY");
        self.date_field(c::BIRTHDAY, bday, "BDAY");
        let anniversary = card
            .props
            .iter()
            .position(|p| slots::is_anniversary(card, p));
        let name = if self.version == Version::V40 {
            "ANNIVERSARY"
        } else {
            "X-ANNIVERSARY"
        };
        self.date_field(c::ANNIVERSARY, anniversary, name);
    }

    fn date_field(&mut self, tag: Tag, index: Option<usize>, name: &str) {
        let stored = index.and_then(|i| birthday::parse_vcard_date(&self.card.props[i].value));
        match (self.incoming(tag), index) {
            (Incoming::Set(v), _) => {
                let Some(ts) = eas_time::parse(v) else { return };
                let date = birthday::from_eas(ts, stored, self.opts.device_utc_offset);
                if Some(date) == stored {
                    return;
                }
                match index {
                    Some(i) => {
                        let mut p = self.card.props[i].clone();
                        let dashed = p.value.contains('-') || self.version != Version::V40;
                        p.remove_param("X-APPLE-OMIT-YEAR");
                        p.set_value(birthday::format_vcard_date(date, dashed));
                        self.edits.update(i, p);
                    }
                    None => {
                        let dashed = self.version != Version::V40;
                        let mut p = Property::new(name, birthday::format_vcard_date(date, dashed));
                        if self.version == Version::V30 {
                            p.set_param("VALUE", "date");
                        }
                        self.edits.append(p);
                    }
                }
            }
            (Incoming::Clear, Some(i)) => self.edits.remove(i),
            _ => {}
        }
    }

    fn picture(&mut self) {
        let index = self
            .card
            .props
            .iter()
            .position(|p| inline_photo(p).is_some());
        match (self.incoming(c::PICTURE), index) {
            (Incoming::Set(v), i) => {
                let data: String = v.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                if i.and_then(|i| inline_photo(&self.card.props[i])).as_deref()
                    == Some(data.as_str())
                {
                    return;
                }
                let p = photo_prop(&data, self.version);
                match i {
                    Some(i) => self.edits.update(i, p),
                    None => self.edits.append(p),
                }
            }
            (Incoming::Clear, Some(i)) => self.edits.remove(i),
            _ => {}
        }
    }

    fn children(&mut self) {
        let existing = slots::children(self.card);
        let old: Vec<String> = existing
            .iter()
            .map(|&i| self.card.props[i].text_value())
            .collect();
        let new: Vec<String> = match self.app.first(c::CHILDREN) {
            Some(list) => list
                .all(c::CHILD)
                .filter_map(|e| e.text_content())
                .map(str::to_string)
                .collect(),
            None if self.opts.is_ghosted(c::CHILDREN) => return,
            None => Vec::new(),
        };
        if new == old {
            return;
        }
        existing.iter().for_each(|&i| self.edits.remove(i));
        for child in new {
            let p = if self.version == Version::V40 {
                Property::new("RELATED", escape_text(&child))
                    .with_param("TYPE", "child")
                    .with_param("VALUE", "text")
            } else {
                let slot = Slot {
                    tag: c::CHILD,
                    types: &[],
                    label: Some("_$!<Child>!$_"),
                };
                let props = self.slot_prop("X-ABRELATEDNAMES", slot, escape_text(&child));
                let mut it = props.into_iter();
                let first = it.next();
                it.for_each(|p| self.edits.append(p));
                match first {
                    Some(p) => p,
                    None => continue,
                }
            };
            self.edits.append(p);
        }
    }

    fn categories(&mut self) {
        let old = self.card.list("CATEGORIES");
        let new: Vec<String> = match self.app.first(c::CATEGORIES) {
            Some(list) => list
                .all(c::CATEGORY)
                .filter_map(|e| e.text_content())
                .map(str::to_string)
                .collect(),
            None if self.opts.is_ghosted(c::CATEGORIES) => return,
            None => Vec::new(),
        };
        if new == old {
            return;
        }
        let indices: Vec<usize> = self
            .card
            .props
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is("CATEGORIES"))
            .map(|(i, _)| i)
            .collect();
        indices.into_iter().for_each(|i| self.edits.remove(i));
        if !new.is_empty() {
            let value = new
                .iter()
                .map(|s| escape_text(s))
                .collect::<Vec<_>>()
                .join(",");
            let p = self.new_prop("CATEGORIES", value);
            self.edits.append(p);
        }
    }

    fn note(&mut self) {
        let index = self.index_of("NOTE");
        let stored = index
            .map(|i| self.card.props[i].text_value())
            .unwrap_or_default();
        let ghosted =
            self.opts.is_ghosted(tags::airsyncbase::BODY) && self.opts.is_ghosted(c::BODY);
        let text = match pim_body::from_eas(self.app, Some(LEGACY_BODY)) {
            Some(t) => t,
            None if ghosted => return,
            None => String::new(),
        };
        if text == stored || pim_body::is_truncated_echo(&stored, &text) {
            return;
        }
        match index {
            Some(i) if text.is_empty() => self.edits.remove(i),
            Some(i) => {
                let mut p = self.card.props[i].clone();
                p.set_text(&text);
                self.edits.update(i, p);
            }
            None if !text.is_empty() => {
                let p = self.new_prop("NOTE", escape_text(&text));
                self.edits.append(p);
            }
            None => {}
        }
    }
}

fn find(assigned: &[(Slot, usize)], slot: Slot) -> Option<usize> {
    assigned.iter().find(|(s, _)| *s == slot).map(|&(_, i)| i)
}

/// The unescaped components of a structured value (N, ADR, ORG).
fn structured(p: &Property) -> Vec<String> {
    split_unescaped(&p.value, ';')
        .into_iter()
        .map(unescape_text)
        .collect()
}

/// The components without trailing empty ones, for comparing values.
fn trimmed(parts: &[String]) -> &[String] {
    let end = parts
        .iter()
        .rposition(|s| !s.is_empty())
        .map_or(0, |p| p + 1);
    &parts[..end]
}

fn join_structured(parts: &[String]) -> String {
    parts
        .iter()
        .map(|s| escape_text(s))
        .collect::<Vec<_>>()
        .join(";")
}

fn email_value(p: &Property) -> String {
    strip_mailto(&p.text_value()).to_string()
}

/// `"Ann Smith" <ann@example.org>` → `ann@example.org`: devices send either.
fn strip_address(v: &str) -> String {
    match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].trim().to_string(),
        _ => strip_mailto(v).to_string(),
    }
}

fn phone_value(p: &Property) -> String {
    let v = p.text_value();
    v.strip_prefix("tel:").map(str::to_string).unwrap_or(v)
}

/// An IM address without its URI scheme (`xmpp:`, `aim:`, `im:`…).
fn im_value(p: &Property) -> String {
    let v = p.text_value();
    if p.is("IMPP")
        && let Some((scheme, rest)) = v.split_once(':')
        && !scheme.contains(['@', ' '])
    {
        return rest.trim_start_matches("//").to_string();
    }
    v
}

/// The base64 data of an inline PHOTO (`data:` URI, or ENCODING=b/BASE64).
fn inline_photo(p: &Property) -> Option<String> {
    if !p.is("PHOTO") {
        return None;
    }
    let v = p.value.trim();
    let data = if let Some(rest) = v.strip_prefix("data:") {
        rest.split_once("base64,")?.1
    } else {
        let enc = p.param("ENCODING")?;
        if !(enc.eq_ignore_ascii_case("b") || enc.eq_ignore_ascii_case("BASE64")) {
            return None;
        }
        v
    };
    let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    (!clean.is_empty()).then_some(clean)
}

fn photo_prop(data: &str, version: Version) -> Property {
    let (kind, mime) = if data.starts_with("iVBOR") {
        ("PNG", "image/png")
    } else if data.starts_with("R0lG") {
        ("GIF", "image/gif")
    } else {
        ("JPEG", "image/jpeg")
    };
    match version {
        Version::V40 => Property::new("PHOTO", format!("data:{mime};base64,{data}")),
        Version::V30 => Property::new("PHOTO", data)
            .with_param("ENCODING", "b")
            .with_param("TYPE", kind),
        Version::V21 => Property::new("PHOTO", data)
            .with_param("ENCODING", "BASE64")
            .with_param("TYPE", kind),
    }
}
