//! Radicale 3's collection properties, `.Radicale.props`: a JSON object of WebDAV properties
//! (`D:displayname`, `C:supported-calendar-component-set`, `ICAL:calendar-color`, …) plus `tag`
//! (`VCALENDAR` or `VADDRESSBOOK`). Read leniently, written the way Radicale's `json.dump(…,
//! sort_keys=True)` writes it (sorted keys, `", "`/`": "` separators, ASCII escapes), and every
//! property easd does not use is kept.

use super::PimKind;
use serde_json::{Map, Value};

/// The file name inside a collection directory.
pub const FILE: &str = ".Radicale.props";

pub const DISPLAYNAME: &str = "D:displayname";
pub const TAG: &str = "tag";
pub const COMPONENTS: &str = "C:supported-calendar-component-set";

/// A collection's properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Props(Map<String, Value>);

impl Props {
    /// Parses the file; anything but a JSON object reads as no properties (Radicale then treats
    /// the directory as a plain collection too).
    pub fn parse(text: &str) -> Props {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Props(map),
            _ => Props::default(),
        }
    }

    /// The properties Radicale gives a new collection of `kind`.
    pub fn new(kind: PimKind, display: &str) -> Props {
        let mut p = Props::default();
        p.set(DISPLAYNAME, display);
        match kind.component() {
            None => p.set(TAG, "VADDRESSBOOK"),
            Some(c) => {
                p.set(TAG, "VCALENDAR");
                p.set(COMPONENTS, c);
            }
        }
        p
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.0
            .insert(key.to_string(), Value::String(value.to_string()));
    }

    pub fn display_name(&self) -> Option<&str> {
        self.get(DISPLAYNAME)
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }

    /// The kind the properties declare: an address book, or a calendar whose first supported
    /// component decides (a collection of events and tasks shows as a calendar). `None` when
    /// the directory is not marked as a collection.
    pub fn kind(&self) -> Option<PimKind> {
        match self.get(TAG)? {
            "VADDRESSBOOK" => Some(PimKind::Contacts),
            "VCALENDAR" => {
                let set = self.get(COMPONENTS).unwrap_or("VEVENT");
                let first = set.split(',').map(str::trim).find(|c| !c.is_empty());
                Some(match first {
                    Some(c) if c.eq_ignore_ascii_case("VTODO") => PimKind::Tasks,
                    Some(c) if c.eq_ignore_ascii_case("VJOURNAL") => PimKind::Notes,
                    _ => PimKind::Calendar,
                })
            }
            _ => None,
        }
    }

    /// The file's text as Radicale writes it.
    pub fn write(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&ascii_json(&Value::String(k.clone())));
            out.push_str(": ");
            out.push_str(&ascii_json(v));
        }
        out.push('}');
        out
    }
}

/// JSON with non-ASCII characters escaped as `\uXXXX` (UTF-16 pairs), like Python's default
/// `ensure_ascii`.
fn ascii_json(v: &Value) -> String {
    let raw = v.to_string();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radicale_layout_round_trips() {
        let p = Props::new(PimKind::Calendar, "Kalender für Zoë");
        assert_eq!(
            p.write(),
            r#"{"C:supported-calendar-component-set": "VEVENT", "D:displayname": "Kalender f\u00fcr Zo\u00eb", "tag": "VCALENDAR"}"#
        );
        let back = Props::parse(&p.write());
        assert_eq!(back.display_name(), Some("Kalender für Zoë"));
        assert_eq!(back.kind(), Some(PimKind::Calendar));
        assert_eq!(
            Props::new(PimKind::Contacts, "A").write(),
            r#"{"D:displayname": "A", "tag": "VADDRESSBOOK"}"#
        );
        assert_eq!(
            Props::new(PimKind::Contacts, "😀").write(),
            r#"{"D:displayname": "\ud83d\ude00", "tag": "VADDRESSBOOK"}"#
        );
    }

    #[test]
    fn kinds_and_unknown_properties() {
        let text = r##"{"C:supported-calendar-component-set":"VTODO,VEVENT","ICAL:calendar-color":"#ff0000ff","tag":"VCALENDAR"}"##;
        let mut p = Props::parse(text);
        assert_eq!(p.kind(), Some(PimKind::Tasks));
        assert_eq!(p.display_name(), None);
        p.set(DISPLAYNAME, "Todo");
        assert!(
            p.write()
                .contains(r##""ICAL:calendar-color": "#ff0000ff""##)
        );
        let journal =
            Props::parse(r#"{"tag":"VCALENDAR","C:supported-calendar-component-set":"VJOURNAL"}"#);
        assert_eq!(journal.kind(), Some(PimKind::Notes));
        assert_eq!(
            Props::parse(r#"{"tag":"VCALENDAR"}"#).kind(),
            Some(PimKind::Calendar)
        );
        assert_eq!(Props::parse("not json").kind(), None);
        assert_eq!(Props::parse("[1]").kind(), None);
    }
}
