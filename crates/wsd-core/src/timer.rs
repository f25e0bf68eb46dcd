//! The driver's timers: one table, one deadline for the adapter to sleep until.
//!
//! Commands do not take the time, so a timer is first *requested* with a duration
//! and *armed* at the next [`Connection::poll_timeout`](crate::Connection::poll_timeout),
//! which receives `now`. Adapters call `poll_timeout` after every batch of work, so
//! the delay between the two is one turn of their loop. Code that has `now` (the
//! timeouts themselves) arms a timer at an instant directly.

use std::time::{Duration, Instant};

/// The timers, indexing the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The opening handshake must complete.
    Handshake = 0,
    /// The peer must answer our close frame.
    Close = 1,
    /// Keepalive: the next ping is due unless the peer was heard from since.
    Ping = 2,
    /// Keepalive: the peer must be heard from (a pong or anything else) after our
    /// ping.
    Pong = 3,
    /// No data message either way for this long closes the connection.
    Idle = 4,
}

/// How many timers the table holds.
const TIMERS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Idle,
    Requested(Duration),
    Armed(Instant),
}

/// A small table of timers.
#[derive(Debug, Clone)]
pub(crate) struct TimerTable {
    slots: [Slot; TIMERS],
}

impl TimerTable {
    pub(crate) const fn new() -> Self {
        Self {
            slots: [Slot::Idle; TIMERS],
        }
    }

    /// Requests `timer` to fire `after` from the next `arm`; `None` leaves it idle.
    pub(crate) fn request(&mut self, timer: Timer, after: Option<Duration>) {
        self.slots[timer as usize] = after.map_or(Slot::Idle, Slot::Requested);
    }

    /// Arms `timer` to fire `after` from `from`, for code that knows the time. A
    /// duration too long for the clock (`Duration::MAX`) means never.
    pub(crate) fn arm_after(&mut self, timer: Timer, from: Instant, after: Duration) {
        self.slots[timer as usize] = from.checked_add(after).map_or(Slot::Idle, Slot::Armed);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.slots[timer as usize] = Slot::Idle;
    }

    pub(crate) fn stop_all(&mut self) {
        self.slots = [Slot::Idle; TIMERS];
    }

    /// No timer requested or armed.
    pub(crate) fn is_idle(&self) -> bool {
        self.slots.iter().all(|slot| *slot == Slot::Idle)
    }

    /// Arms requested timers at `now`; returns the earliest deadline.
    pub(crate) fn arm(&mut self, now: Instant) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        for slot in &mut self.slots {
            if let Slot::Requested(after) = *slot {
                // A duration too long for the clock means never, not a panic.
                *slot = now.checked_add(after).map_or(Slot::Idle, Slot::Armed);
            }
            if let Slot::Armed(at) = *slot {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        }
        earliest
    }

    /// Takes `timer` if it is armed and due at `now`.
    pub(crate) fn take_expired(&mut self, timer: Timer, now: Instant) -> bool {
        let slot = &mut self.slots[timer as usize];
        match *slot {
            Slot::Armed(at) if at <= now => {
                *slot = Slot::Idle;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_timer_is_armed_at_the_next_poll_and_fires_once() {
        let mut timers = TimerTable::new();
        let start = Instant::now();
        timers.request(Timer::Close, Some(Duration::from_secs(5)));
        assert_eq!(timers.arm(start), Some(start + Duration::from_secs(5)));
        // Arming again keeps the deadline.
        assert_eq!(
            timers.arm(start + Duration::from_secs(1)),
            Some(start + Duration::from_secs(5))
        );
        assert!(!timers.take_expired(Timer::Close, start + Duration::from_secs(4)));
        assert!(timers.take_expired(Timer::Close, start + Duration::from_secs(5)));
        assert!(!timers.take_expired(Timer::Close, start + Duration::from_secs(6)));
        assert_eq!(timers.arm(start), None);
    }

    #[test]
    fn a_duration_too_long_for_the_clock_never_fires() {
        let start = Instant::now();
        let mut timers = TimerTable::new();
        timers.request(Timer::Idle, Some(Duration::MAX));
        timers.arm_after(Timer::Ping, start, Duration::MAX);
        assert_eq!(timers.arm(start), None);
        assert!(timers.is_idle());
    }

    #[test]
    fn arm_returns_the_earliest_of_every_timer_whatever_the_order() {
        let start = Instant::now();
        let timers = [
            Timer::Handshake,
            Timer::Close,
            Timer::Ping,
            Timer::Pong,
            Timer::Idle,
        ];
        // Each timer in turn is the earliest, with the others armed or requested.
        for (earliest, first) in timers.iter().enumerate() {
            let mut table = TimerTable::new();
            for (i, timer) in timers.iter().enumerate() {
                let after = Duration::from_secs(10 + ((i + 5 - earliest) % 5) as u64);
                if i % 2 == 0 {
                    table.request(*timer, Some(after));
                } else {
                    table.arm_after(*timer, start, after);
                }
            }
            assert_eq!(
                table.arm(start),
                Some(start + Duration::from_secs(10)),
                "{first:?} is due first"
            );
            assert!(table.take_expired(*first, start + Duration::from_secs(10)));
            assert_eq!(table.arm(start), Some(start + Duration::from_secs(11)));
        }
    }
}
