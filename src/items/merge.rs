//! Merging a device's change into an existing component: what an EAS field
//! says (set, cleared, or left alone because it is ghosted) and a batch of
//! property edits applied at once, so indices computed on the original
//! component stay valid.

use super::component::Component;
use super::contentline::Property;
use super::pim::ConvertOptions;
use crate::wbxml::{Element, Tag};

/// What a client's Change says about one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// Absent and ghosted: keep the stored value.
    Keep,
    /// Absent (not ghosted) or empty: delete the stored value.
    Clear,
    Set(&'a str),
}

impl<'a> Incoming<'a> {
    pub fn read(app: &'a Element, tag: Tag, opts: &ConvertOptions) -> Incoming<'a> {
        match app.first(tag) {
            Some(e) => match e.text_content().map(str::trim) {
                Some(v) if !v.is_empty() => Incoming::Set(v),
                _ => Incoming::Clear,
            },
            None if opts.is_ghosted(tag) => Incoming::Keep,
            None => Incoming::Clear,
        }
    }

    /// The resulting value given the stored one.
    pub fn resolve(self, stored: &str) -> String {
        match self {
            Incoming::Keep => stored.to_string(),
            Incoming::Clear => String::new(),
            Incoming::Set(v) => v.to_string(),
        }
    }
}

/// Edits to a component's properties, by index into the original list.
#[derive(Debug, Default)]
pub struct Edits {
    updates: Vec<(usize, Property)>,
    removes: Vec<usize>,
    appends: Vec<Property>,
}

impl Edits {
    pub fn update(&mut self, index: usize, prop: Property) {
        self.updates.push((index, prop));
    }

    pub fn remove(&mut self, index: usize) {
        self.removes.push(index);
    }

    pub fn append(&mut self, prop: Property) {
        self.appends.push(prop);
    }

    /// Sets the single property `prop.name`, keeping the stored line if equal.
    pub fn set_prop(&mut self, comp: &Component, prop: Property) {
        match comp.props.iter().position(|p| p.is(&prop.name)) {
            Some(i) if comp.props[i].value == prop.value && comp.props[i].params == prop.params => {
            }
            Some(i) => self.update(i, prop),
            None => self.append(prop),
        }
    }

    /// Applies one text field to the property `name` (its first occurrence).
    pub fn set_text(&mut self, comp: &Component, name: &str, incoming: Incoming<'_>) {
        let index = comp.props.iter().position(|p| p.is(name));
        match (incoming, index) {
            (Incoming::Set(v), Some(i)) if comp.props[i].text_value() != v => {
                let mut p = comp.props[i].clone();
                p.set_text(v);
                self.update(i, p);
            }
            (Incoming::Set(v), None) => self.append(Property::text(name, v)),
            (Incoming::Clear, Some(i)) => self.remove(i),
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.removes.is_empty() && self.appends.is_empty()
    }

    /// Applies the edits. A removed property's group companions (such as
    /// Apple's `itemN.X-ABLabel`) go with it unless the group keeps a member.
    pub fn apply(self, comp: &mut Component) {
        let Edits {
            mut updates,
            removes,
            appends,
        } = self;
        let old = std::mem::take(&mut comp.props);
        let removed_groups: Vec<String> = removes
            .iter()
            .filter_map(|&i| old.get(i)?.group.clone())
            .collect();
        let mut kept = Vec::with_capacity(old.len() + appends.len());
        for (i, prop) in old.into_iter().enumerate() {
            if removes.contains(&i) {
                continue;
            }
            match updates.iter().position(|(j, _)| *j == i) {
                Some(u) => kept.push(updates.swap_remove(u).1),
                None => kept.push(prop),
            }
        }
        let orphan = |g: &str| {
            removed_groups.iter().any(|r| r.eq_ignore_ascii_case(g))
                && !kept.iter().any(|p| {
                    p.group
                        .as_deref()
                        .is_some_and(|pg| pg.eq_ignore_ascii_case(g))
                        && !is_group_companion(p)
                })
        };
        let orphans: Vec<bool> = kept
            .iter()
            .map(|p| {
                p.group
                    .as_deref()
                    .is_some_and(|g| is_group_companion(p) && orphan(g))
            })
            .collect();
        let mut it = orphans.into_iter();
        kept.retain(|_| !it.next().unwrap_or(false));
        kept.extend(appends);
        comp.props = kept;
    }
}

/// Properties that only describe another property of their group.
fn is_group_companion(p: &Property) -> bool {
    p.is("X-ABLABEL") || p.is("X-ABADR") || p.is("X-ABSHOWAS")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolVersion;
    use crate::items::component::Document;
    use crate::wbxml::tags;

    #[test]
    fn incoming_states() {
        let app = Element::new(tags::airsync::APPLICATION_DATA)
            .with_text(tags::contacts::FIRST_NAME, "Ann")
            .with(Element::new(tags::contacts::LAST_NAME));
        let mut o = ConvertOptions::new(ProtocolVersion::V14_1);
        assert_eq!(
            Incoming::read(&app, tags::contacts::FIRST_NAME, &o),
            Incoming::Set("Ann")
        );
        assert_eq!(
            Incoming::read(&app, tags::contacts::LAST_NAME, &o),
            Incoming::Clear
        );
        assert_eq!(
            Incoming::read(&app, tags::contacts::SUFFIX, &o),
            Incoming::Clear
        );
        o.supported = Some(vec![tags::contacts::FIRST_NAME]);
        assert_eq!(
            Incoming::read(&app, tags::contacts::SUFFIX, &o),
            Incoming::Keep
        );
        assert_eq!(Incoming::Keep.resolve("x"), "x");
    }

    #[test]
    fn removing_a_grouped_property_drops_its_label() {
        let mut doc = Document::parse(
            "BEGIN:VCARD\nitem1.EMAIL:a@b\nitem1.X-ABLabel:work\nitem2.URL:x\nitem2.X-ABLabel:y\nNOTE:n\nEND:VCARD\n",
        );
        let card = &mut doc.components[0];
        let mut e = Edits::default();
        e.remove(0);
        e.update(4, Property::text("NOTE", "m"));
        e.append(Property::text("FN", "F"));
        e.apply(card);
        let names: Vec<&str> = card.props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["URL", "X-ABLABEL", "NOTE", "FN"]);
        assert_eq!(card.text("NOTE").as_deref(), Some("m"));
    }
}
