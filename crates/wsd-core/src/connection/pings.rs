//! The pings we sent that no pong has answered yet, so a pong can name the ping it
//! answers ([`Event::Pong`](crate::Event::Pong)'s `answers`, `websocket-driver`'s (Node)
//! ping callback).

use std::collections::VecDeque;

use bytes::Bytes;

use crate::event::PingId;

/// Outstanding pings, oldest first. Bounded: a peer that never answers cannot make
/// the list grow, the oldest is forgotten instead.
#[derive(Debug, Default)]
pub(super) struct Pings {
    outstanding: VecDeque<(PingId, Bytes)>,
}

impl Pings {
    /// How many unanswered pings are remembered.
    const MAX_OUTSTANDING: usize = 32;

    /// Remembers a ping that went out.
    pub(super) fn sent(&mut self, id: PingId, payload: Bytes) {
        if self.outstanding.len() == Self::MAX_OUTSTANDING {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back((id, payload));
    }

    /// The ping a pong with `payload` answers: the oldest with that payload, which is
    /// then forgotten, so each id is reported at most once. (RFC 6455 section 5.5.3
    /// lets a peer answer only the latest of several pings; then the earlier ones with
    /// other payloads stay unanswered until the bound pushes them out.)
    pub(super) fn answer(&mut self, payload: &[u8]) -> Option<PingId> {
        let index = self
            .outstanding
            .iter()
            .position(|(_, sent)| sent.as_ref() == payload)?;
        self.outstanding.remove(index).map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pong_answers_the_oldest_ping_with_its_payload_once() {
        let mut pings = Pings::default();
        pings.sent(PingId(1), Bytes::from_static(b"a"));
        pings.sent(PingId(2), Bytes::from_static(b"b"));
        pings.sent(PingId(3), Bytes::from_static(b"a"));
        assert_eq!(pings.answer(b"a"), Some(PingId(1)));
        assert_eq!(pings.answer(b"a"), Some(PingId(3)));
        assert_eq!(pings.answer(b"a"), None);
        assert_eq!(pings.answer(b"b"), Some(PingId(2)));
    }

    #[test]
    fn the_oldest_ping_is_forgotten_past_the_bound() {
        let mut pings = Pings::default();
        for i in 0..=Pings::MAX_OUTSTANDING as u64 {
            pings.sent(PingId(i), Bytes::from(i.to_be_bytes().to_vec()));
        }
        assert_eq!(pings.answer(&0u64.to_be_bytes()), None);
        assert_eq!(pings.answer(&1u64.to_be_bytes()), Some(PingId(1)));
    }
}
