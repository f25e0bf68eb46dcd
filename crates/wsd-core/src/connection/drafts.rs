//! The server steps of the legacy Hixie-75 and Hixie-76 handshakes (feature `drafts`):
//! answering the request with the draft's head, and for Hixie-76 the key challenge
//! once the 8 bytes after the head are in. `wsd_handshake::drafts` checks the request
//! and builds the head; this is where the connection moves on.

use bytes::Buf;
use wsd_handshake::drafts;

use super::Connection;
use super::framing::Framing;
use super::handshake::request_url;
use super::state::Handshake;
use crate::{Error, Usage, Version};

impl Connection {
    /// Accepts a legacy-draft request: writes the draft's 101 head; Hixie-75 opens at
    /// once, Hixie-76 once the 8 key bytes of the body are in.
    pub(super) fn start_draft(&mut self, draft: wsd_hixie::Draft) -> Result<(), Error> {
        let Some(request) = self.request.as_ref() else {
            return Err(Usage::NotAwaitingRequest.into());
        };
        let location = request_url(request, self.secure_transport);
        let negotiated = drafts::negotiate(
            request,
            draft,
            &self.options.protocols,
            &location,
            &self.headers,
        );
        let accepted = match negotiated {
            Ok(accepted) => accepted,
            Err(rejection) => {
                let error = Error::Rejected {
                    status: rejection.status,
                    message: rejection.message.clone(),
                };
                return self.refuse(error, rejection);
            }
        };
        self.out.queue.extend_from_slice(&accepted.head);
        self.protocol = accepted.protocol;
        self.version = match draft {
            wsd_hixie::Draft::Hixie75 => Version::Hixie75,
            wsd_hixie::Draft::Hixie76 => Version::Hixie76,
        };
        match accepted.challenge {
            Some(challenge) => self.state.set_step(Handshake::AwaitingHixieBody(challenge)),
            None => self.open(Framing::hixie(draft, self.options.max_length)),
        }
        Ok(())
    }

    /// Hixie-76: answers the key challenge once the 8 body bytes are in.
    pub(super) fn read_hixie_body(&mut self) -> bool {
        let Some(Handshake::AwaitingHixieBody(challenge)) = self.state.step() else {
            return false;
        };
        let Some(body) = self.recv.get(..wsd_hixie::BODY_LEN) else {
            return self.end_if_eof();
        };
        let mut key = [0u8; wsd_hixie::BODY_LEN];
        key.copy_from_slice(body);
        let answer = challenge.answer(&key);
        self.recv.advance(wsd_hixie::BODY_LEN);
        self.out.queue.extend_from_slice(&answer);
        self.open(Framing::hixie(
            wsd_hixie::Draft::Hixie76,
            self.options.max_length,
        ));
        true
    }
}
