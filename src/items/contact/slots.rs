//! Which vCard property fills which EAS contact field. EAS has fixed slots
//! (three e-mails, one mobile, two home phones, …) while a vCard has lists;
//! the same assignment is computed when sending and when merging a change, so
//! the property a slot came from is the one a device's edit updates, and the
//! properties that got no slot are never touched.

use crate::items::component::Component;
use crate::items::contentline::Property;
use crate::wbxml::{Tag, tags};

/// A single-valued EAS field filled from one property of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub tag: Tag,
    /// TYPE values for a property created for this slot.
    pub types: &'static [&'static str],
    /// Apple label (X-ABLabel) for a property created for this slot.
    pub label: Option<&'static str>,
}

const fn slot(tag: Tag, types: &'static [&'static str]) -> Slot {
    Slot {
        tag,
        types,
        label: None,
    }
}

use tags::contacts as c;
use tags::contacts2 as c2;

pub const EMAILS: [Slot; 3] = [
    slot(c::EMAIL1_ADDRESS, &["INTERNET"]),
    slot(c::EMAIL2_ADDRESS, &["INTERNET"]),
    slot(c::EMAIL3_ADDRESS, &["INTERNET"]),
];

pub const BUSINESS_PHONE: Slot = slot(c::BUSINESS_PHONE_NUMBER, &["WORK", "VOICE"]);
pub const BUSINESS2_PHONE: Slot = slot(c::BUSINESS2_PHONE_NUMBER, &["WORK", "VOICE"]);
pub const HOME_PHONE: Slot = slot(c::HOME_PHONE_NUMBER, &["HOME", "VOICE"]);
pub const HOME2_PHONE: Slot = slot(c::HOME2_PHONE_NUMBER, &["HOME", "VOICE"]);
pub const MOBILE_PHONE: Slot = slot(c::MOBILE_PHONE_NUMBER, &["CELL", "VOICE"]);
pub const CAR_PHONE: Slot = slot(c::CAR_PHONE_NUMBER, &["CAR"]);
pub const RADIO_PHONE: Slot = slot(c::RADIO_PHONE_NUMBER, &["X-RADIO"]);
pub const PAGER: Slot = slot(c::PAGER_NUMBER, &["PAGER"]);
pub const ASSISTANT_PHONE: Slot = Slot {
    tag: c::ASSISTANT_PHONE_NUMBER,
    types: &["X-ASSISTANT"],
    label: Some("_$!<Assistant>!$_"),
};
pub const COMPANY_MAIN_PHONE: Slot = slot(c2::COMPANY_MAIN_PHONE, &["MAIN"]);
pub const MMS: Slot = slot(c2::MMS, &["MSG"]);
pub const BUSINESS_FAX: Slot = slot(c::BUSINESS_FAX_NUMBER, &["WORK", "FAX"]);
pub const HOME_FAX: Slot = slot(c::HOME_FAX_NUMBER, &["HOME", "FAX"]);

pub const PHONES: [Slot; 13] = [
    BUSINESS_PHONE,
    BUSINESS2_PHONE,
    HOME_PHONE,
    HOME2_PHONE,
    MOBILE_PHONE,
    CAR_PHONE,
    RADIO_PHONE,
    PAGER,
    ASSISTANT_PHONE,
    COMPANY_MAIN_PHONE,
    MMS,
    BUSINESS_FAX,
    HOME_FAX,
];

/// The five EAS parts of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressTags {
    pub street: Tag,
    pub city: Tag,
    pub state: Tag,
    pub postal_code: Tag,
    pub country: Tag,
}

pub const BUSINESS_ADDRESS: (Slot, AddressTags) = (
    slot(c::BUSINESS_ADDRESS_STREET, &["WORK"]),
    AddressTags {
        street: c::BUSINESS_ADDRESS_STREET,
        city: c::BUSINESS_ADDRESS_CITY,
        state: c::BUSINESS_ADDRESS_STATE,
        postal_code: c::BUSINESS_ADDRESS_POSTAL_CODE,
        country: c::BUSINESS_ADDRESS_COUNTRY,
    },
);
pub const HOME_ADDRESS: (Slot, AddressTags) = (
    slot(c::HOME_ADDRESS_STREET, &["HOME"]),
    AddressTags {
        street: c::HOME_ADDRESS_STREET,
        city: c::HOME_ADDRESS_CITY,
        state: c::HOME_ADDRESS_STATE,
        postal_code: c::HOME_ADDRESS_POSTAL_CODE,
        country: c::HOME_ADDRESS_COUNTRY,
    },
);
pub const OTHER_ADDRESS: (Slot, AddressTags) = (
    slot(c::OTHER_ADDRESS_STREET, &["OTHER"]),
    AddressTags {
        street: c::OTHER_ADDRESS_STREET,
        city: c::OTHER_ADDRESS_CITY,
        state: c::OTHER_ADDRESS_STATE,
        postal_code: c::OTHER_ADDRESS_POSTAL_CODE,
        country: c::OTHER_ADDRESS_COUNTRY,
    },
);
pub const ADDRESSES: [(Slot, AddressTags); 3] = [BUSINESS_ADDRESS, HOME_ADDRESS, OTHER_ADDRESS];

pub const IMS: [Slot; 3] = [
    slot(c2::IM_ADDRESS, &[]),
    slot(c2::IM_ADDRESS2, &[]),
    slot(c2::IM_ADDRESS3, &[]),
];

/// Instant-messaging properties other than IMPP (vCard 3 vendor forms).
const IM_PROPS: [&str; 12] = [
    "X-AIM",
    "X-JABBER",
    "X-ICQ",
    "X-MSN",
    "X-YAHOO",
    "X-SKYPE",
    "X-SKYPE-USERNAME",
    "X-GOOGLE-TALK",
    "X-GTALK",
    "X-QQ",
    "X-GADUGADU",
    "X-GROUPWISE",
];

pub const SPOUSE: Slot = Slot {
    tag: c::SPOUSE,
    types: &["spouse"],
    label: Some("_$!<Spouse>!$_"),
};
pub const MANAGER: Slot = Slot {
    tag: c2::MANAGER_NAME,
    types: &[],
    label: Some("_$!<Manager>!$_"),
};
pub const ASSISTANT: Slot = Slot {
    tag: c::ASSISTANT_NAME,
    types: &[],
    label: Some("_$!<Assistant>!$_"),
};
pub const RELATED: [Slot; 3] = [SPOUSE, MANAGER, ASSISTANT];

/// The Apple label of a grouped property, without its `_$!<…>!$_` wrapping,
/// lower-cased.
pub fn apple_label(card: &Component, prop: &Property) -> Option<String> {
    let group = prop.group.as_deref()?;
    card.props
        .iter()
        .find(|p| {
            p.is("X-ABLABEL")
                && p.group
                    .as_deref()
                    .is_some_and(|g| g.eq_ignore_ascii_case(group))
        })
        .map(|p| {
            p.text_value()
                .trim_start_matches("_$!<")
                .trim_end_matches(">!$_")
                .to_ascii_lowercase()
        })
}

/// Gives each slot the first property (in file order) whose candidates list
/// it, in two passes: specific properties first, then general ones, so an
/// untyped number does not take the Home slot from a HOME-typed one.
fn assign(
    card: &Component,
    slots: &[Slot],
    candidates: impl Fn(&Property) -> Option<(bool, Vec<Slot>)>,
) -> Vec<(Slot, usize)> {
    let mut taken: Vec<(Slot, usize)> = Vec::new();
    let found: Vec<(usize, bool, Vec<Slot>)> = card
        .props
        .iter()
        .enumerate()
        .filter_map(|(i, p)| candidates(p).map(|(specific, c)| (i, specific, c)))
        .collect();
    for pass_specific in [true, false] {
        for (i, specific, cands) in &found {
            if *specific != pass_specific {
                continue;
            }
            if let Some(s) = cands
                .iter()
                .find(|s| slots.contains(s) && !taken.iter().any(|(t, _)| t == *s))
            {
                taken.push((*s, *i));
            }
        }
    }
    taken
}

pub fn emails(card: &Component) -> Vec<(Slot, usize)> {
    let mut out = Vec::new();
    for (i, _) in card.props.iter().enumerate().filter(|(_, p)| p.is("EMAIL")) {
        if let Some(slot) = EMAILS.get(out.len()) {
            out.push((*slot, i));
        }
    }
    out
}

pub fn phones(card: &Component) -> Vec<(Slot, usize)> {
    assign(card, &PHONES, |p| {
        if !p.is("TEL") {
            return None;
        }
        let label = apple_label(card, p).unwrap_or_default();
        let t = |x: &str| p.has_type(x);
        let specific = |s: &[Slot]| Some((true, s.to_vec()));
        if t("FAX") || label.contains("fax") {
            return if t("WORK") || label.contains("work") {
                specific(&[BUSINESS_FAX])
            } else {
                specific(&[HOME_FAX])
            };
        }
        if t("PAGER") || label == "pager" {
            return specific(&[PAGER]);
        }
        if t("CELL") || t("MOBILE") || t("IPHONE") || label == "mobile" || label == "iphone" {
            return specific(&[MOBILE_PHONE]);
        }
        if t("CAR") || label == "car" {
            return specific(&[CAR_PHONE]);
        }
        if t("X-RADIO") || t("RADIO") || label == "radio" {
            return specific(&[RADIO_PHONE]);
        }
        if t("X-ASSISTANT") || t("ASSISTANT") || label == "assistant" {
            return specific(&[ASSISTANT_PHONE]);
        }
        if t("MSG") || t("X-MMS") || t("MMS") || label == "mms" {
            return specific(&[MMS]);
        }
        if t("MAIN") || t("X-COMPANY-MAIN") || label == "main" || label == "company main" {
            return specific(&[COMPANY_MAIN_PHONE]);
        }
        if t("WORK") || label == "work" {
            return specific(&[BUSINESS_PHONE, BUSINESS2_PHONE]);
        }
        if t("HOME") || label == "home" {
            return specific(&[HOME_PHONE, HOME2_PHONE]);
        }
        Some((false, vec![HOME_PHONE, HOME2_PHONE, BUSINESS2_PHONE]))
    })
}

pub fn addresses(card: &Component) -> Vec<(Slot, usize)> {
    let slots = ADDRESSES.map(|(s, _)| s);
    let (work, home, other) = (BUSINESS_ADDRESS.0, HOME_ADDRESS.0, OTHER_ADDRESS.0);
    assign(card, &slots, |p| {
        if !p.is("ADR") {
            return None;
        }
        let label = apple_label(card, p).unwrap_or_default();
        if p.has_type("WORK") || label == "work" {
            Some((true, vec![work, other]))
        } else if p.has_type("HOME") || label == "home" {
            Some((true, vec![home, other]))
        } else if p.has_type("OTHER") || label == "other" {
            Some((true, vec![other]))
        } else {
            Some((false, vec![home, other, work]))
        }
    })
}

pub fn is_im(p: &Property) -> bool {
    p.is("IMPP") || IM_PROPS.iter().any(|n| p.is(n))
}

pub fn ims(card: &Component) -> Vec<(Slot, usize)> {
    let mut out = Vec::new();
    for (i, _) in card.props.iter().enumerate().filter(|(_, p)| is_im(p)) {
        if let Some(slot) = IMS.get(out.len()) {
            out.push((*slot, i));
        }
    }
    out
}

/// What a related-name property stands for: "spouse", "manager",
/// "assistant", "child", or `None`.
pub fn relation(card: &Component, p: &Property) -> Option<&'static str> {
    let name = p.name.as_str();
    let kind = match name {
        "RELATED" => ["spouse", "child", "manager", "assistant"]
            .into_iter()
            .find(|k| p.has_type(k) || (*k == "spouse" && p.has_type("partner"))),
        "X-ABRELATEDNAMES" => {
            let label = apple_label(card, p).unwrap_or_default();
            match label.as_str() {
                "spouse" | "partner" => Some("spouse"),
                "child" | "son" | "daughter" => Some("child"),
                "manager" => Some("manager"),
                "assistant" => Some("assistant"),
                _ => None,
            }
        }
        "X-EVOLUTION-SPOUSE" | "X-KADDRESSBOOK-X-SPOUSENAME" | "X-SPOUSE" | "X-MS-SPOUSE" => {
            Some("spouse")
        }
        "X-EVOLUTION-MANAGER" | "X-KADDRESSBOOK-X-MANAGERSNAME" | "X-MANAGER" | "X-MS-MANAGER" => {
            Some("manager")
        }
        "X-EVOLUTION-ASSISTANT"
        | "X-KADDRESSBOOK-X-ASSISTANTSNAME"
        | "X-ASSISTANT"
        | "X-MS-ASSISTANT" => Some("assistant"),
        "X-CHILD" | "X-MS-CHILD" => Some("child"),
        _ => None,
    };
    // A RELATED that is a URI (another card) is not a name a phone can show.
    kind.filter(|_| {
        name != "RELATED"
            || p.param("VALUE")
                .is_some_and(|v| v.eq_ignore_ascii_case("text"))
            || !p.value.contains(':')
    })
}

pub fn related(card: &Component) -> Vec<(Slot, usize)> {
    let mut out: Vec<(Slot, usize)> = Vec::new();
    for (i, p) in card.props.iter().enumerate() {
        let slot = match relation(card, p) {
            Some("spouse") => SPOUSE,
            Some("manager") => MANAGER,
            Some("assistant") => ASSISTANT,
            _ => continue,
        };
        if !out.iter().any(|(s, _)| *s == slot) {
            out.push((slot, i));
        }
    }
    out
}

pub fn children(card: &Component) -> Vec<usize> {
    card.props
        .iter()
        .enumerate()
        .filter(|(_, p)| relation(card, p) == Some("child"))
        .map(|(i, _)| i)
        .collect()
}

pub fn is_anniversary(card: &Component, p: &Property) -> bool {
    p.is("ANNIVERSARY")
        || p.is("X-ANNIVERSARY")
        || p.is("X-EVOLUTION-ANNIVERSARY")
        || p.is("X-MS-ANNIVERSARY")
        || (p.is("X-ABDATE") && apple_label(card, p).is_some_and(|l| l == "anniversary"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::component::Document;

    fn card(text: &str) -> Component {
        Document::parse(text).components.remove(0)
    }

    #[test]
    fn phones_take_the_right_slots() {
        let c = card(
            "BEGIN:VCARD\nTEL:000\nTEL;TYPE=HOME:111\nTEL;TYPE=CELL:222\nTEL;TYPE=WORK,FAX:333\n\
             item1.TEL:444\nitem1.X-ABLabel:_$!<Assistant>!$_\nTEL;WORK;VOICE:555\nEND:VCARD\n",
        );
        let got = phones(&c);
        let slot_of = |i: usize| got.iter().find(|(_, j)| *j == i).map(|(s, _)| s.tag);
        assert_eq!(slot_of(0), Some(HOME2_PHONE.tag));
        assert_eq!(slot_of(1), Some(HOME_PHONE.tag));
        assert_eq!(slot_of(2), Some(MOBILE_PHONE.tag));
        assert_eq!(slot_of(3), Some(BUSINESS_FAX.tag));
        assert_eq!(slot_of(4), Some(ASSISTANT_PHONE.tag));
        assert_eq!(slot_of(6), Some(BUSINESS_PHONE.tag));
    }

    #[test]
    fn only_three_emails_and_relations() {
        let c = card(
            "BEGIN:VCARD\nEMAIL:a\nEMAIL:b\nEMAIL:c\nEMAIL:d\nitem2.X-ABRELATEDNAMES:Ann\n\
             item2.X-ABLabel:_$!<Spouse>!$_\nRELATED;TYPE=child;VALUE=text:Kid\n\
             RELATED;TYPE=child:urn:uuid:1\nX-EVOLUTION-MANAGER:Boss\nEND:VCARD\n",
        );
        assert_eq!(emails(&c).len(), 3);
        assert_eq!(related(&c), vec![(SPOUSE, 4), (MANAGER, 8)]);
        assert_eq!(children(&c), vec![6]);
    }
}
