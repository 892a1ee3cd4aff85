//! Conversions between stored items (mail, vCard, iCalendar) and EAS ApplicationData.

pub mod component;
pub mod contentline;
pub mod eas_time;
pub mod ical_time;
pub mod rrule;
pub mod tzinfo;
pub mod vtimezone;
pub mod windows_zones;
pub mod zones;
