//! Free/busy of a user for ResolveRecipients Availability (MS-ASCMD 2.2.3.107 MergedFreeBusy):
//! the busy periods of every event of every calendar collection, merged into one digit per
//! 30-minute slot of the asked window. The merge is a pure function of periods and window;
//! [`events`] turns iCalendar files into periods (recurrences expanded by [`occurrences`]) and
//! [`user`] reads them from a user's collections with bounded work.

pub mod events;
pub mod occurrences;
pub mod user;

use jiff::{SignedDuration, Timestamp};
use std::fmt;

/// The length of one MergedFreeBusy digit.
pub const SLOT: SignedDuration = SignedDuration::from_mins(30);

/// The longest window answered (Exchange 2010 and later use 42 days; MS-ASCMD note 5).
pub const MAX_WINDOW: SignedDuration = SignedDuration::from_hours(42 * 24);

/// The window when the request names no EndTime (MS-ASCMD 2.2.3.61.1).
pub const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// One MergedFreeBusy digit. When periods overlap in a slot, the highest digit wins, as the
/// spec asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Free = 0,
    Tentative = 1,
    Busy = 2,
    OutOfOffice = 3,
    NoData = 4,
}

impl Level {
    pub fn digit(self) -> char {
        match self {
            Level::Free => '0',
            Level::Tentative => '1',
            Level::Busy => '2',
            Level::OutOfOffice => '3',
            Level::NoData => '4',
        }
    }

    pub fn from_digit(c: char) -> Option<Level> {
        Some(match c {
            '0' => Level::Free,
            '1' => Level::Tentative,
            '2' => Level::Busy,
            '3' => Level::OutOfOffice,
            '4' => Level::NoData,
            _ => return None,
        })
    }
}

/// A span of time the user is not free, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
    pub level: Level,
}

/// Why a window is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// EndTime earlier than StartTime plus one slot.
    TooShort,
    /// Longer than [`MAX_WINDOW`].
    TooLong,
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowError::TooShort => write!(f, "free/busy window shorter than 30 minutes"),
            WindowError::TooLong => write!(f, "free/busy window longer than 42 days"),
        }
    }
}

impl std::error::Error for WindowError {}

/// The asked span `[start, end)`, checked against the spec's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    start: Timestamp,
    end: Timestamp,
}

impl Window {
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Window, WindowError> {
        let span = start.duration_until(end);
        if span < SLOT {
            return Err(WindowError::TooShort);
        }
        if span > MAX_WINDOW {
            return Err(WindowError::TooLong);
        }
        Ok(Window { start, end })
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The number of digits: a last partial slot counts as a slot.
    pub fn slots(&self) -> usize {
        let span = self.start.duration_until(self.end).as_secs();
        let slot = SLOT.as_secs();
        usize::try_from((span + slot - 1) / slot).unwrap_or(0)
    }

    /// Whether `[start, end)` shares time with the window.
    pub fn overlaps(&self, start: Timestamp, end: Timestamp) -> bool {
        start < self.end && end > self.start
    }
}

/// The MergedFreeBusy string of `periods` over `window`: a slot takes the highest level of the
/// periods that share time with it; empty periods take no time.
pub fn merge(window: &Window, periods: &[Period]) -> String {
    let slots = window.slots();
    let mut levels = vec![Level::Free; slots];
    let slot_secs = SLOT.as_secs();
    let origin = window.start.as_second();
    for p in periods {
        if p.end <= p.start || !window.overlaps(p.start, p.end) {
            continue;
        }
        let from = (p.start.as_second() - origin).max(0) / slot_secs;
        // The slot holding the period's last second.
        let to = (p.end.as_second() - 1 - origin) / slot_secs;
        let from = usize::try_from(from).unwrap_or(0);
        let to = usize::try_from(to)
            .unwrap_or(0)
            .min(slots.saturating_sub(1));
        for level in levels.iter_mut().take(to + 1).skip(from) {
            *level = (*level).max(p.level);
        }
    }
    levels.into_iter().map(Level::digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn period(start: &str, end: &str, level: Level) -> Period {
        Period {
            start: ts(start),
            end: ts(end),
            level,
        }
    }

    fn window(start: &str, end: &str) -> Window {
        Window::new(ts(start), ts(end)).unwrap()
    }

    #[test]
    fn overlaps_and_precedence() {
        let w = window("2026-03-02T08:00:00Z", "2026-03-02T12:00:00Z");
        let periods = [
            // 08:30–09:30 tentative, 09:00–10:00 busy: the shared slot is busy.
            period(
                "2026-03-02T08:30:00Z",
                "2026-03-02T09:30:00Z",
                Level::Tentative,
            ),
            period("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", Level::Busy),
            // 10:10–10:20 is shorter than a slot: the whole slot takes it.
            period(
                "2026-03-02T10:10:00Z",
                "2026-03-02T10:20:00Z",
                Level::OutOfOffice,
            ),
            // Free time marks nothing, and a busy period under OOF stays OOF.
            period("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z", Level::Free),
            period("2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z", Level::Busy),
        ];
        assert_eq!(merge(&w, &periods), "01223000");
    }

    #[test]
    fn periods_at_and_beyond_the_edges() {
        let w = window("2026-03-02T08:00:00Z", "2026-03-02T10:00:00Z");
        let periods = [
            // Ends exactly where the window starts: nothing.
            period("2026-03-02T07:00:00Z", "2026-03-02T08:00:00Z", Level::Busy),
            // Starts before, ends inside the first slot.
            period(
                "2026-03-01T07:00:00Z",
                "2026-03-02T08:01:00Z",
                Level::Tentative,
            ),
            // Runs past the end.
            period("2026-03-02T09:45:00Z", "2026-03-03T00:00:00Z", Level::Busy),
            // Empty.
            period("2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z", Level::Busy),
        ];
        assert_eq!(merge(&w, &periods), "1002");
    }

    #[test]
    fn window_limits_and_partial_slot() {
        let start = ts("2026-03-02T08:00:00Z");
        let after = |mins: i64| start + SignedDuration::from_mins(mins);
        assert_eq!(
            Window::new(start, after(29)).unwrap_err(),
            WindowError::TooShort
        );
        assert_eq!(
            Window::new(start, after(42 * 24 * 60 + 1)).unwrap_err(),
            WindowError::TooLong
        );
        assert_eq!(
            Window::new(start, after(42 * 24 * 60)).unwrap().slots(),
            2016
        );
        let w = Window::new(start, after(45)).unwrap();
        assert_eq!(w.slots(), 2);
        let late = Period {
            start: after(40),
            end: after(50),
            level: Level::Busy,
        };
        assert_eq!(merge(&w, &[late]), "02");
    }

    #[test]
    fn digits_round_trip() {
        for c in ['0', '1', '2', '3', '4'] {
            assert_eq!(Level::from_digit(c).map(Level::digit), Some(c));
        }
        assert_eq!(Level::from_digit('5'), None);
    }
}
