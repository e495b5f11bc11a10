//! Throttled, monotonic progress events for uploads and downloads.
//!
//! At most one event per whole percent (or per 100 ms when the total is
//! unknown), never going backwards, and exactly one 100% event, sent only
//! when the call succeeds.

use std::time::{Duration, Instant};

/// Minimum spacing of events when the total size is unknown.
const UNKNOWN_TOTAL_SPACING: Duration = Duration::from_millis(100);

/// One progress update, before it is shaped into the API's event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tick {
    pub progress: u8,
    pub done: u64,
    pub total: Option<u64>,
}

/// Decides which byte counts become events.
pub(crate) struct Throttle {
    total: Option<u64>,
    reported_done: u64,
    reported_pct: Option<u8>,
    last_at: Option<Instant>,
    finished: bool,
}

impl Throttle {
    pub(crate) fn new(total: Option<u64>) -> Throttle {
        Throttle {
            total,
            reported_done: 0,
            reported_pct: None,
            last_at: None,
            finished: false,
        }
    }

    fn percent(&self, done: u64) -> u8 {
        match self.total {
            Some(0) | None => 0,
            // 100% is kept for the success event.
            Some(t) => (done.saturating_mul(100) / t).min(99) as u8,
        }
    }

    /// `done` bytes are through; `Some` when that is worth an event.
    pub(crate) fn update(&mut self, done: u64) -> Option<Tick> {
        if self.finished || done <= self.reported_done {
            return None;
        }
        let pct = self.percent(done);
        let due = match self.total {
            Some(_) => self.reported_pct.is_none_or(|p| pct > p),
            None => self
                .last_at
                .is_none_or(|t| t.elapsed() >= UNKNOWN_TOTAL_SPACING),
        };
        if !due {
            return None;
        }
        self.reported_done = done;
        self.reported_pct = Some(pct);
        self.last_at = Some(Instant::now());
        Some(Tick {
            progress: pct,
            done,
            total: self.total,
        })
    }

    /// The call succeeded with `done` bytes: the one 100% event.
    pub(crate) fn finish(&mut self, done: u64) -> Option<Tick> {
        if self.finished {
            return None;
        }
        self.finished = true;
        Some(Tick {
            progress: 100,
            done: done.max(self.reported_done),
            total: self.total.or(Some(done)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_total_gives_at_most_one_event_per_percent_then_one_hundred() {
        let mut t = Throttle::new(Some(1000));
        let events: Vec<Tick> = (1..=1000).filter_map(|d| t.update(d)).collect();
        assert_eq!(events.len(), 100);
        assert!(events.windows(2).all(|w| w[0].progress < w[1].progress));
        assert_eq!(events.last().unwrap().progress, 99);
        let end = t.finish(1000).unwrap();
        assert_eq!((end.progress, end.done, end.total), (100, 1000, Some(1000)));
        assert!(t.finish(1000).is_none());
        assert!(t.update(1000).is_none());
    }

    #[test]
    fn never_goes_backwards() {
        let mut t = Throttle::new(Some(100));
        assert!(t.update(50).is_some());
        assert!(t.update(10).is_none());
        assert!(t.update(50).is_none());
    }

    #[test]
    fn unknown_total_is_time_throttled() {
        let mut t = Throttle::new(None);
        assert_eq!(t.update(10).unwrap().progress, 0);
        assert!(t.update(20).is_none());
        let end = t.finish(20).unwrap();
        assert_eq!((end.progress, end.total), (100, Some(20)));
    }
}
