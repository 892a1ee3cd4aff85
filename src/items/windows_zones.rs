//! Windows time-zone names (as Outlook and Exchange write them in TZID and in
//! the TimeZone blob's StandardName) and the IANA zone each stands for in
//! its main territory, after the facts of CLDR's windowsZones mapping.

/// (Windows name, IANA name). The order also decides which zone wins when
/// several share the same rules: the most populous first.
const ZONES: &[(&str, &str)] = &[
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Belarus Standard Time", "Europe/Minsk"),
    ("Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("Volgograd Standard Time", "Europe/Volgograd"),
    ("Astrakhan Standard Time", "Europe/Astrakhan"),
    ("Saratov Standard Time", "Europe/Saratov"),
    ("Russia Time Zone 3", "Europe/Samara"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Aleutian Standard Time", "America/Adak"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Canada Central Standard Time", "America/Regina"),
    ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("Yukon Standard Time", "America/Whitehorse"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("Central America Standard Time", "America/Guatemala"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Haiti Standard Time", "America/Port-au-Prince"),
    ("Cuba Standard Time", "America/Havana"),
    ("Turks And Caicos Standard Time", "America/Grand_Turk"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Central Brazilian Standard Time", "America/Cuiaba"),
    ("Paraguay Standard Time", "America/Asuncion"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Magallanes Standard Time", "America/Punta_Arenas"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Tocantins Standard Time", "America/Araguaina"),
    ("Bahia Standard Time", "America/Bahia"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Greenland Standard Time", "America/Nuuk"),
    ("Saint Pierre Standard Time", "America/Miquelon"),
    ("Easter Island Standard Time", "Pacific/Easter"),
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("UTC-09", "Etc/GMT+9"),
    ("UTC-08", "Etc/GMT+8"),
    ("UTC-02", "Etc/GMT+2"),
    ("UTC+12", "Etc/GMT-12"),
    ("UTC+13", "Etc/GMT-13"),
    ("Marquesas Standard Time", "Pacific/Marquesas"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("Sao Tome Standard Time", "Africa/Sao_Tome"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("South Sudan Standard Time", "Africa/Juba"),
    ("Sudan Standard Time", "Africa/Khartoum"),
    ("Libya Standard Time", "Africa/Tripoli"),
    ("Namibia Standard Time", "Africa/Windhoek"),
    ("Mauritius Standard Time", "Indian/Mauritius"),
    ("Jordan Standard Time", "Asia/Amman"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Syria Standard Time", "Asia/Damascus"),
    ("West Bank Standard Time", "Asia/Hebron"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Azerbaijan Standard Time", "Asia/Baku"),
    ("Georgian Standard Time", "Asia/Tbilisi"),
    ("Caucasus Standard Time", "Asia/Yerevan"),
    ("Afghanistan Standard Time", "Asia/Kabul"),
    ("West Asia Standard Time", "Asia/Tashkent"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("Qyzylorda Standard Time", "Asia/Qyzylorda"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Central Asia Standard Time", "Asia/Almaty"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Omsk Standard Time", "Asia/Omsk"),
    ("Myanmar Standard Time", "Asia/Yangon"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Altai Standard Time", "Asia/Barnaul"),
    ("W. Mongolia Standard Time", "Asia/Hovd"),
    ("North Asia Standard Time", "Asia/Krasnoyarsk"),
    ("N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("Tomsk Standard Time", "Asia/Tomsk"),
    ("China Standard Time", "Asia/Shanghai"),
    ("North Asia East Standard Time", "Asia/Irkutsk"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"),
    ("Transbaikal Standard Time", "Asia/Chita"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("North Korea Standard Time", "Asia/Pyongyang"),
    ("Yakutsk Standard Time", "Asia/Yakutsk"),
    ("Vladivostok Standard Time", "Asia/Vladivostok"),
    ("Magadan Standard Time", "Asia/Magadan"),
    ("Sakhalin Standard Time", "Asia/Sakhalin"),
    ("Russia Time Zone 10", "Asia/Srednekolymsk"),
    ("Russia Time Zone 11", "Asia/Kamchatka"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Aus Central W. Standard Time", "Australia/Eucla"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Bougainville Standard Time", "Pacific/Bougainville"),
    ("Norfolk Standard Time", "Pacific/Norfolk"),
    ("Central Pacific Standard Time", "Pacific/Guadalcanal"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Fiji Standard Time", "Pacific/Fiji"),
    ("Chatham Islands Standard Time", "Pacific/Chatham"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Samoa Standard Time", "Pacific/Apia"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
];

/// The IANA zone for a Windows zone name (case-insensitive).
pub fn windows_to_iana(windows: &str) -> Option<&'static str> {
    let w = windows.trim();
    ZONES
        .iter()
        .find(|(win, _)| win.eq_ignore_ascii_case(w))
        .map(|&(_, iana)| iana)
}

/// The Windows name for an IANA zone that is the main zone of one.
pub fn iana_to_windows(iana: &str) -> Option<&'static str> {
    ZONES
        .iter()
        .find(|(_, z)| z.eq_ignore_ascii_case(iana))
        .map(|&(win, _)| win)
}

/// The daylight name Windows pairs with a standard name.
pub fn daylight_name(standard: &str) -> String {
    standard.replace("Standard Time", "Daylight Time")
}

/// Every IANA zone of the table, most populous first.
pub fn candidates() -> impl Iterator<Item = &'static str> {
    ZONES.iter().map(|&(_, iana)| iana)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_both_ways() {
        assert_eq!(
            windows_to_iana("romance standard time"),
            Some("Europe/Paris")
        );
        assert_eq!(
            iana_to_windows("Australia/Lord_Howe"),
            Some("Lord Howe Standard Time")
        );
        assert_eq!(
            daylight_name("Romance Standard Time"),
            "Romance Daylight Time"
        );
        assert_eq!(windows_to_iana("Nowhere Standard Time"), None);
    }

    #[test]
    fn every_zone_is_known_to_the_database() {
        for iana in candidates() {
            assert!(jiff::tz::db().get(iana).is_ok(), "{iana}");
        }
    }
}
