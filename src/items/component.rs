//! The BEGIN/END tree of an iCalendar or vCard file. Parsing is lenient
//! (missing END lines close implicitly, stray END lines are ignored) and
//! writing keeps untouched lines byte for byte.

use super::contentline::{self, Property, split_unescaped, unescape_text};

/// One `BEGIN:NAME` … `END:NAME` block with its properties and sub-blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub props: Vec<Property>,
    pub children: Vec<Component>,
}

/// A parsed file: its top-level components (one VCALENDAR, or any number of
/// VCARDs) and the line ending new lines should use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub components: Vec<Component>,
    pub eol: &'static str,
}

impl Component {
    pub fn new(name: &str) -> Component {
        Component {
            name: name.to_ascii_uppercase(),
            props: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.props.iter().find(|p| p.is(name))
    }

    pub fn prop_mut(&mut self, name: &str) -> Option<&mut Property> {
        self.props.iter_mut().find(|p| p.is(name))
    }

    pub fn props_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.props.iter().filter(move |p| p.is(name))
    }

    /// The unescaped text of the first property called `name`, if not empty.
    pub fn text(&self, name: &str) -> Option<String> {
        self.prop(name)
            .map(Property::text_value)
            .filter(|t| !t.is_empty())
    }

    /// Every value of every `name` property, split on commas (CATEGORIES).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.props_named(name)
            .flat_map(|p| {
                split_unescaped(&p.value, ',')
                    .into_iter()
                    .map(unescape_text)
                    .collect::<Vec<_>>()
            })
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub fn child(&self, name: &str) -> Option<&Component> {
        self.children.iter().find(|c| c.is(name))
    }

    pub fn write(&self, out: &mut String, eol: &str) {
        out.push_str("BEGIN:");
        out.push_str(&self.name);
        out.push_str(eol);
        for p in &self.props {
            p.write(out, eol);
        }
        for c in &self.children {
            c.write(out, eol);
        }
        out.push_str("END:");
        out.push_str(&self.name);
        out.push_str(eol);
    }
}

impl Document {
    /// Parses a whole file. Content lines outside any component are dropped.
    pub fn parse(input: &str) -> Document {
        let input = input.strip_prefix('\u{feff}').unwrap_or(input);
        let mut stack: Vec<Component> = Vec::new();
        let mut top = Vec::new();
        for prop in contentline::parse(input) {
            if prop.is("BEGIN") {
                stack.push(Component::new(prop.value.trim()));
            } else if prop.is("END") {
                let name = prop.value.trim();
                if !stack.iter().any(|c| c.is(name)) {
                    continue;
                }
                while let Some(done) = stack.pop() {
                    let matched = done.is(name);
                    close(&mut stack, &mut top, done);
                    if matched {
                        break;
                    }
                }
            } else if let Some(open) = stack.last_mut() {
                open.props.push(prop);
            }
        }
        while let Some(done) = stack.pop() {
            close(&mut stack, &mut top, done);
        }
        Document {
            components: top,
            eol: contentline::detect_eol(input),
        }
    }

    /// Puts loose top-level components (a VEVENT without its VCALENDAR, as
    /// some producers write) into a VCALENDAR, so every calendar file has one.
    pub fn into_calendar(mut self) -> Document {
        let has_calendar = self.components.iter().any(|c| c.is("VCALENDAR"));
        if !has_calendar && !self.components.is_empty() {
            let mut cal = Component::new("VCALENDAR");
            cal.children = std::mem::take(&mut self.components);
            self.components.push(cal);
        }
        self
    }

    pub fn write(&self) -> String {
        let mut out = String::new();
        for c in &self.components {
            c.write(&mut out, self.eol);
        }
        out
    }
}

fn close(stack: &mut [Component], top: &mut Vec<Component>, done: Component) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None => top.push(done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nX-KEEP;A=b:c\r\n\
                       BEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn parses_and_writes_back_identically() {
        let doc = Document::parse(CAL);
        assert_eq!(doc.components.len(), 1);
        let ev = &doc.components[0].children[0];
        assert!(ev.is("vevent"));
        assert_eq!(
            ev.child("VALARM")
                .and_then(|a| a.text("TRIGGER"))
                .as_deref(),
            Some("-PT5M")
        );
        assert_eq!(doc.write(), CAL);
    }

    #[test]
    fn lenient_nesting() {
        let doc = Document::parse("BEGIN:VCARD\nFN:a\nEND:VEVENT\nBEGIN:VCARD\nFN:b\n");
        assert_eq!(doc.components.len(), 1);
        assert_eq!(doc.components[0].children.len(), 1);
        let doc = Document::parse("BEGIN:A\nBEGIN:B\nEND:A\nX:1\n");
        assert_eq!(doc.components.len(), 1);
        assert_eq!(doc.eol, "\n");
    }
}
