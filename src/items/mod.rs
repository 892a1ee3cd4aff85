//! Conversions between stored items (mail, vCard, iCalendar) and EAS ApplicationData.

pub mod alarm;
pub mod calendar;
pub mod component;
pub mod contact;
pub mod contentline;
pub mod eas_time;
pub mod ical_time;
pub mod merge;
pub mod note;
pub mod pim;
pub mod pim_body;
pub mod recurrence;
pub mod rrule;
pub mod task;
pub mod tzinfo;
pub mod uid;
pub mod vtimezone;
pub mod windows_zones;
pub mod zones;
