//! Keepalive pings and the idle timeout: noticing a dead peer, and ending a
//! connection nobody uses.
//!
//! Input methods take no clock, so they only raise a flag ("the peer was heard
//! from", "a data message went by"); the next call that has `now`
//! ([`Connection::poll_timeout`] or [`Connection::handle_timeout`]) turns the flag
//! into a time. The adapter calls `poll_timeout` after every batch of work, so that
//! time is late by at most one turn of its loop.
//!
//! The ping and idle timers are lazy: armed once for `interval` (or the idle
//! timeout), and when they fire with activity seen since, re-armed for the rest of
//! the time rather than acting. Traffic therefore never moves the adapter's sleep;
//! it moves once per interval at most.

use std::time::Instant;

use bytes::Bytes;
use wsd_frame::CloseCode;

use super::Connection;
use super::state::State;
use crate::Error;
use crate::event::PingId;
use crate::timer::Timer;

/// What the keepalive and idle timers know about recent traffic; part of an open or
/// closing connection's session.
#[derive(Debug, Default)]
pub(super) struct Liveness {
    /// Input arrived since the clock was last read.
    heard: bool,
    /// When input last arrived (the first clock reading after it).
    last_heard: Option<Instant>,
    /// A text or binary message went either way since the clock was last read, or
    /// part of one arrived.
    data: bool,
    /// When a data message last went by (the first clock reading after it).
    last_data: Option<Instant>,
    /// Our keepalive ping is out and nothing has been heard since.
    awaiting_answer: bool,
}

impl Liveness {
    /// A data message was sent or received.
    pub(super) fn note_data(&mut self) {
        self.data = true;
    }
}

impl Connection {
    /// Bytes arrived from the peer: it is alive, whatever they are (a pong, or a
    /// slice of a long upload).
    pub(super) fn note_heard(&mut self) {
        if let Some(session) = self.state.session() {
            session.liveness.heard = true;
        }
    }

    /// A data message was sent or received.
    pub(super) fn note_data(&mut self) {
        if let Some(session) = self.state.session() {
            session.liveness.note_data();
        }
    }

    /// Turns the flags raised since the clock was last read into times. Called first
    /// by every method that receives `now`.
    pub(super) fn note_activity(&mut self, now: Instant) {
        let Some(session) = self.state.session() else {
            return;
        };
        let live = &mut session.liveness;
        if live.heard {
            live.heard = false;
            live.last_heard = Some(now);
            // A message still arriving is not idleness: a slow upload of one large
            // message must not be closed as idle halfway.
            live.data |= session.framing.mid_message();
            if std::mem::take(&mut live.awaiting_answer) {
                // Answered (by the pong or anything else): wait for silence again.
                self.timers.stop(Timer::Pong);
                if let Some(keepalive) = self.options.keepalive {
                    self.timers.arm_after(Timer::Ping, now, keepalive.interval);
                }
            }
        }
        if live.data {
            live.data = false;
            live.last_data = Some(now);
        }
    }

    /// The connection opened: the keepalive (unless a legacy draft, which has no
    /// pings) and idle timers start.
    pub(super) fn start_liveness_timers(&mut self, draft: bool) {
        if !draft {
            let interval = self.options.keepalive.map(|keepalive| keepalive.interval);
            self.timers.request(Timer::Ping, interval);
        }
        self.timers.request(Timer::Idle, self.options.idle_timeout);
    }

    /// The closing handshake began: the close timeout alone bounds what is left.
    pub(super) fn stop_liveness_timers(&mut self) {
        self.timers.stop(Timer::Ping);
        self.timers.stop(Timer::Pong);
        self.timers.stop(Timer::Idle);
    }

    /// Fires the keepalive and idle timers due at `now` (after
    /// [`note_activity`](Self::note_activity)).
    pub(super) fn handle_liveness_timeouts(&mut self, now: Instant) {
        if self.timers.take_expired(Timer::Ping, now) {
            self.keepalive_ping_due(now);
        }
        if self.timers.take_expired(Timer::Pong, now) {
            // Nothing was heard since the ping, or `note_activity` would have
            // stopped this timer.
            if matches!(self.state, State::Open(_)) {
                self.fail(CloseCode::INTERNAL_ERROR, Error::KeepaliveTimeout);
            }
        }
        if self.timers.take_expired(Timer::Idle, now) {
            self.idle_due(now);
        }
    }

    /// The ping timer fired: ping unless the peer spoke within the interval.
    fn keepalive_ping_due(&mut self, now: Instant) {
        let Some(keepalive) = self.options.keepalive else {
            return;
        };
        let State::Open(session) = &mut self.state else {
            return;
        };
        if let Some(heard) = session.liveness.last_heard {
            if heard
                .checked_add(keepalive.interval)
                .is_none_or(|due| due > now)
            {
                self.timers
                    .arm_after(Timer::Ping, heard, keepalive.interval);
                return;
            }
        }
        session.liveness.awaiting_answer = true;
        // The id as payload: unlike a fixed payload, a late pong to an earlier ping
        // cannot be taken for this one's answer (though any input counts anyway).
        let id = PingId(self.next_ping);
        self.next_ping += 1;
        self.write_ping(id, Bytes::copy_from_slice(&id.0.to_be_bytes()));
        self.timers.arm_after(Timer::Pong, now, keepalive.timeout);
    }

    /// The idle timer fired: close with 1001 unless a data message went by within
    /// the timeout.
    fn idle_due(&mut self, now: Instant) {
        let Some(idle) = self.options.idle_timeout else {
            return;
        };
        let State::Open(session) = &self.state else {
            return;
        };
        if let Some(data) = session.liveness.last_data {
            if data.checked_add(idle).is_none_or(|due| due > now) {
                self.timers.arm_after(Timer::Idle, data, idle);
                return;
            }
        }
        // Open, and the reason is short: this cannot fail.
        let _ = self.begin_close(CloseCode::GOING_AWAY, "idle timeout");
    }
}

#[cfg(test)]
mod tests;
