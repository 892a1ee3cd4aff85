//! Conversions between stored items (mail, vCard, iCalendar) and EAS ApplicationData.

pub mod component;
pub mod contentline;
