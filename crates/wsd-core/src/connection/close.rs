//! The close bookkeeping: every way a connection ends goes through
//! [`Connection::finish`], so the `Close` event comes exactly once, after at most one
//! `Error`, and at most one close frame goes out.

use bytes::BytesMut;
use wsd_frame::{CloseCode, CloseFrame};
use wsd_handshake::server::Rejection;

use super::Connection;
use super::state::{Closed, State};
use crate::event::Event;
use crate::timer::Timer;
use crate::{Error, Usage};

impl Connection {
    /// The work of [`close`](Connection::close), once its arguments are checked.
    pub(super) fn begin_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let session = match &self.state {
            State::Open(session) => session,
            State::Closing(_) | State::Closed(_) => return Err(Usage::Closed.into()),
            State::Connecting(_) => {
                // Nothing was sent, so nothing is written: the connection just ends.
                let reason = self.discard_queued(reason);
                self.finish(code, &reason);
                return Ok(());
            }
        };
        session
            .framing
            .write_close(Some(code), reason, &mut self.out);
        // The drafts have no closing handshake to wait for (Hixie-76 sends its
        // 0xFF 0x00 marker and is done).
        if self.version.is_draft() {
            self.finish(code, reason);
        } else {
            self.state.start_closing();
            self.stop_liveness_timers();
            self.timers
                .request(Timer::Close, self.options.close_timeout);
        }
        Ok(())
    }

    /// The peer's close frame arrived: echo it while open (RFC 6455 section 5.5.1,
    /// code and reason as `websocket-driver` (Node) does; an empty close gets an
    /// empty one), then close with its code, 1005 when it had none.
    pub(super) fn handle_peer_close(&mut self, code: Option<CloseCode>, reason: &str) {
        if let State::Open(session) = &self.state {
            session.framing.write_close(code, reason, &mut self.out);
        }
        self.finish(code.unwrap_or(CloseCode::NO_STATUS), reason);
    }

    /// Fails an open or closing connection: a close frame with `code` unless ours is
    /// out already, then the `Error` and `Close` events; input is discarded.
    pub(super) fn fail(&mut self, code: CloseCode, error: Error) {
        if let State::Closed(_) = self.state {
            return;
        }
        let reason = error.to_string();
        if let State::Open(session) = &self.state {
            session
                .framing
                .write_close(Some(code), truncate(&reason), &mut self.out);
        }
        self.events.push_back(Event::Error(error));
        self.finish(code, &reason);
    }

    /// Fails a connection that never opened: answer with `rejection` (servers), then
    /// `Error` and `Close` (1002 as `websocket-driver` (Node) reports it, or 1006 for
    /// a timeout).
    pub(super) fn fail_before_open(&mut self, error: Error, rejection: Option<&Rejection>) {
        if let Some(rejection) = rejection {
            let mut response = Vec::new();
            rejection.write_response(&mut response);
            self.out.queue.extend_from_slice(&response);
        }
        let code = match error {
            Error::HandshakeTimeout => CloseCode::ABNORMAL,
            _ => CloseCode::PROTOCOL_ERROR,
        };
        let reason = self.discard_queued(&error.to_string());
        if !matches!(self.state, State::Closed(_)) {
            self.events.push_back(Event::Error(error));
        }
        self.finish(code, &reason);
    }

    /// Drops the commands queued for an open that will not happen; returns `reason`
    /// with their count appended, for the `Close` event, so nothing is dropped
    /// silently.
    pub(super) fn discard_queued(&mut self, reason: &str) -> String {
        match self.state.take_queued().len() {
            0 => reason.to_owned(),
            1 => format!("{reason} (1 queued command was not sent)"),
            n => format!("{reason} ({n} queued commands were not sent)"),
        }
    }

    /// The transport ended without a close frame.
    pub(super) fn transport_lost(&mut self) {
        self.finish(
            CloseCode::ABNORMAL,
            "the connection ended without a close frame",
        );
    }

    /// Enters `Closed` and emits the `Close` event, unless closed already: timers
    /// stop and the input buffer is freed.
    pub(super) fn finish(&mut self, code: CloseCode, reason: &str) {
        let extensions = match &self.state {
            State::Closed(_) => return,
            State::Open(session) | State::Closing(session) => session
                .framing
                .pipeline()
                .map(|pipeline| pipeline.names().map(str::to_owned).collect())
                .unwrap_or_default(),
            State::Connecting(_) => Vec::new(),
        };
        self.state = State::Closed(Closed {
            code,
            reason: reason.to_owned(),
            extensions,
        });
        self.timers.stop_all();
        self.recv = BytesMut::new();
        self.events.push_back(Event::Close {
            code,
            reason: reason.to_owned(),
        });
    }
}

/// A failure reason cut to fit a close frame.
fn truncate(reason: &str) -> &str {
    let mut end = reason.len().min(CloseFrame::MAX_REASON_LEN);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary_to_fit_a_close_frame() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(100); // 200 bytes, two per character
        let cut = truncate(&long);
        assert_eq!(cut.len(), 122);
        assert!(cut.len() <= CloseFrame::MAX_REASON_LEN);
    }
}
