//! A user's free/busy from their vdir calendars: every calendar collection, every item, read
//! with bounded work (the number of files and the periods visited per series are capped) and
//! without creating anything in the user's tree. An unreadable file is logged and skipped, as
//! the calendar sync does; a tree that cannot be listed is an error the caller answers with
//! the "try again" status.

use super::events::Reader;
use super::{Window, merge};
use crate::store::vdir::{PimError, PimKind, PimStore};
use jiff::tz::TimeZone;

/// The most item files read for one answer; a small office calendar holds a few thousand.
pub const MAX_ITEMS: usize = 20_000;

/// The most periods (days, weeks…) visited per recurring series.
pub const MAX_PERIODS: usize = 5_000;

/// The MergedFreeBusy string of the calendars in `store` owned by `owner`.
pub fn merged_free_busy(
    store: &dyn PimStore,
    owner: &str,
    zone: &TimeZone,
    window: Window,
) -> Result<String, PimError> {
    let reader = Reader {
        owner,
        zone,
        window,
        max_periods: MAX_PERIODS,
    };
    let mut periods = Vec::new();
    let mut budget = MAX_ITEMS;
    for coll in store.collections()? {
        if coll.kind != PimKind::Calendar {
            continue;
        }
        for entry in store.list(&coll.name)? {
            if budget == 0 {
                log::warn!("free/busy of {owner}: more than {MAX_ITEMS} items, the rest unread");
                return Ok(merge(&window, &periods));
            }
            budget -= 1;
            match store.read(&coll.name, &entry.href) {
                Ok(ics) => reader.read(&ics, &mut periods),
                Err(PimError::ItemNotFound(_)) => {}
                Err(e) => log::warn!("free/busy of {owner}: {e}"),
            }
        }
    }
    Ok(merge(&window, &periods))
}
