//! The registry of extensions, negotiation in both roles, and the per-connection
//! pipeline of active sessions.

use std::sync::Arc;

use wsd_frame::{CloseCode, Rsv};

use crate::error::{ExtensionError, NegotiationError, RegistryError};
use crate::extension::{Extension, Message, Session};
use crate::header::{ExtensionOffer, Params, is_token, parse_header, serialize_header};

/// The extensions an endpoint supports, in registration order (the server's order of
/// preference).
///
/// Negotiation rules (RFC 6455 section 9.1, as in websocket-extensions, the framework
/// `websocket-driver` (Node) uses):
/// - a client offers every registered extension's offers, in registration order;
/// - a server walks its extensions in registration order, passes each one all of the
///   client's offers of that name (header order), skips one whose RSV bits an earlier
///   accepted extension already owns, and answers in that order;
/// - a client fails the handshake when the response names an extension it did not
///   offer, answers one twice, activates two extensions that use the same RSV bit, or
///   carries parameters the extension refuses; the pipeline follows the response order;
/// - no header, or an empty one, means no extension.
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    registered: Vec<Arc<dyn Extension>>,
}

impl Extensions {
    /// An empty registry.
    pub const fn new() -> Self {
        Self {
            registered: Vec::new(),
        }
    }

    /// Registers `extension` after the others. Names must be tokens and unique.
    pub fn add(&mut self, extension: Arc<dyn Extension>) -> Result<(), RegistryError> {
        let name = extension.name();
        if !is_token(name) {
            return Err(RegistryError::InvalidName(name.into()));
        }
        if self.find(name).is_some() {
            return Err(RegistryError::DuplicateName(name.into()));
        }
        self.registered.push(extension);
        Ok(())
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.registered.is_empty()
    }

    /// The registered extensions in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Extension>> + '_ {
        self.registered.iter()
    }

    fn find(&self, name: &str) -> Option<&Arc<dyn Extension>> {
        self.registered
            .iter()
            .find(|extension| extension.name() == name)
    }

    /// Client side: the `Sec-WebSocket-Extensions` request header, or `None` when no
    /// extension makes an offer.
    pub fn client_offer_header(&self) -> Option<String> {
        let offers: Vec<ExtensionOffer> = self
            .registered
            .iter()
            .flat_map(|extension| {
                extension
                    .client_offers()
                    .into_iter()
                    .map(|params| ExtensionOffer::new(extension.name(), params))
            })
            .collect();
        (!offers.is_empty()).then(|| serialize_header(&offers))
    }

    /// Client side: activates the extensions the server's response header accepted.
    pub fn client_activate(
        &self,
        response_header: Option<&str>,
    ) -> Result<Pipeline, NegotiationError> {
        let mut pipeline = Pipeline::default();
        let Some(header) = response_header else {
            return Ok(pipeline);
        };
        for response in parse_header(header)? {
            let name = response.name;
            let Some(extension) = self
                .find(&name)
                .filter(|extension| !extension.client_offers().is_empty())
            else {
                return Err(NegotiationError::UnknownExtension { name });
            };
            if pipeline.stages.iter().any(|stage| stage.name == name) {
                return Err(NegotiationError::DuplicateResponse { name });
            }
            let rsv = extension.rsv();
            if let Some(owner) = pipeline
                .stages
                .iter()
                .find(|stage| stage.rsv.intersects(rsv))
            {
                return Err(NegotiationError::RsvConflict {
                    bits: rsv.difference(rsv.difference(owner.rsv)),
                    first: owner.name.clone(),
                    second: name,
                });
            }
            let session = extension.client_activate(&response.params)?;
            pipeline.stages.push(Stage { name, rsv, session });
        }
        Ok(pipeline)
    }

    /// Server side: chooses among the client's offers. Returns the response header
    /// (`None` when nothing was accepted) and the pipeline.
    pub fn server_negotiate(
        &self,
        offer_header: Option<&str>,
    ) -> Result<(Option<String>, Pipeline), NegotiationError> {
        let mut pipeline = Pipeline::default();
        let offers = match offer_header {
            Some(header) => parse_header(header)?,
            None => Vec::new(),
        };
        let mut responses = Vec::new();
        for extension in &self.registered {
            let name = extension.name();
            let mine: Vec<Params> = offers
                .iter()
                .filter(|offer| offer.name == name)
                .map(|offer| offer.params.clone())
                .collect();
            let rsv = extension.rsv();
            if mine.is_empty() || pipeline.rsv().intersects(rsv) {
                continue;
            }
            if let Some((params, session)) = extension.server_accept(&mine)? {
                responses.push(ExtensionOffer::new(name, params));
                pipeline.stages.push(Stage {
                    name: name.into(),
                    rsv,
                    session,
                });
            }
        }
        let header = (!responses.is_empty()).then(|| serialize_header(&responses));
        Ok((header, pipeline))
    }
}

/// One connection's active extensions, in negotiated order: outgoing messages pass
/// through them in order, incoming ones in reverse (RFC 6455 section 9.1).
#[derive(Debug, Default)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

#[derive(Debug)]
struct Stage {
    name: String,
    rsv: Rsv,
    session: Box<dyn Session>,
}

impl Pipeline {
    /// The RSV bits owned by the active extensions: the bits the frame decoder must
    /// allow on the first frame of a data message (all others are a protocol error).
    pub fn rsv(&self) -> Rsv {
        self.stages
            .iter()
            .fold(Rsv::NONE, |bits, stage| bits | stage.rsv)
    }

    /// True when no extension is active.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The names of the active extensions in order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.stages.iter().map(|stage| stage.name.as_str())
    }

    /// Decodes an incoming message through the sessions in reverse order. A control
    /// message comes back untouched. Fails with 1002 when the message carries RSV
    /// bits no active extension owns, and with 1009 when the output exceeds
    /// `max_length`; errors are prefixed with the failing extension's name.
    pub fn decode(
        &mut self,
        mut message: Message,
        max_length: usize,
    ) -> Result<Message, ExtensionError> {
        if message.opcode.is_control() {
            return Ok(message);
        }
        let stray = message.rsv.difference(self.rsv());
        if !stray.is_empty() {
            return Err(ExtensionError::new(
                CloseCode::PROTOCOL_ERROR,
                format!("{stray} set but not negotiated"),
            ));
        }
        for stage in self.stages.iter_mut().rev() {
            message = stage
                .session
                .decode(message, max_length)
                .map_err(|error| error.in_extension(&stage.name))?;
            // Checked here too, so one session's oversight cannot let a message through.
            if message.data.len() > max_length {
                return Err(ExtensionError::too_big(format!(
                    "decoded message exceeds {max_length} bytes"
                ))
                .in_extension(&stage.name));
            }
        }
        Ok(message)
    }

    /// Encodes an outgoing message through the sessions in order. A control message
    /// comes back untouched. A session that sets RSV bits it does not own fails with
    /// 1011.
    pub fn encode(&mut self, mut message: Message) -> Result<Message, ExtensionError> {
        if message.opcode.is_control() {
            return Ok(message);
        }
        for stage in &mut self.stages {
            let before = message.rsv;
            message = stage
                .session
                .encode(message)
                .map_err(|error| error.in_extension(&stage.name))?;
            let added = message.rsv.difference(before);
            if !stage.rsv.contains(added) {
                return Err(ExtensionError::internal(format!(
                    "set {added}, which it does not own"
                ))
                .in_extension(&stage.name));
            }
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::Mutex;
    use wsd_frame::OpCode;

    /// What a [`Fake`] server does with offers.
    #[derive(Debug, Clone, Copy)]
    enum Accept {
        /// Answer the first offer with its own parameters.
        First,
        Decline,
        Fail,
    }

    /// A configurable extension that records what it was given and tags messages with
    /// its name, so tests can see the order of the stages.
    #[derive(Debug)]
    struct Fake {
        name: &'static str,
        rsv: Rsv,
        offers: Vec<Params>,
        accept: Accept,
        seen: Mutex<Vec<Vec<Params>>>,
    }

    fn fake(name: &'static str, rsv: Rsv) -> Fake {
        Fake {
            name,
            rsv,
            offers: vec![Params::new()],
            accept: Accept::First,
            seen: Mutex::new(Vec::new()),
        }
    }

    impl Fake {
        fn session(&self) -> Box<dyn Session> {
            Box::new(Tagger {
                tag: self.name.as_bytes()[0],
                rsv: self.rsv,
            })
        }
    }

    impl Extension for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn rsv(&self) -> Rsv {
            self.rsv
        }
        fn client_offers(&self) -> Vec<Params> {
            self.offers.clone()
        }
        fn client_activate(&self, response: &Params) -> Result<Box<dyn Session>, NegotiationError> {
            if response.get("bad").is_some() {
                return Err(NegotiationError::rejected(
                    self.name,
                    response,
                    "bad is bad",
                ));
            }
            Ok(self.session())
        }
        fn server_accept(
            &self,
            offers: &[Params],
        ) -> Result<Option<(Params, Box<dyn Session>)>, NegotiationError> {
            self.seen.lock().unwrap().push(offers.to_vec());
            match self.accept {
                Accept::First => Ok(Some((offers[0].clone(), self.session()))),
                Accept::Decline => Ok(None),
                Accept::Fail => Err(NegotiationError::rejected(self.name, &offers[0], "never")),
            }
        }
    }

    /// Appends its tag byte on encode and removes it on decode (failing on a
    /// mismatch), setting and clearing its RSV bits.
    #[derive(Debug)]
    struct Tagger {
        tag: u8,
        rsv: Rsv,
    }

    impl Session for Tagger {
        fn decode(
            &mut self,
            message: Message,
            _max_length: usize,
        ) -> Result<Message, ExtensionError> {
            match message.data.split_last() {
                Some((&last, rest)) if last == self.tag => Ok(Message {
                    opcode: message.opcode,
                    rsv: message.rsv.difference(self.rsv),
                    data: Bytes::copy_from_slice(rest),
                }),
                _ => Err(ExtensionError::invalid_data("tag missing")),
            }
        }
        fn encode(&mut self, message: Message) -> Result<Message, ExtensionError> {
            let mut data = message.data.to_vec();
            data.push(self.tag);
            Ok(Message {
                opcode: message.opcode,
                rsv: message.rsv | self.rsv,
                data: data.into(),
            })
        }
    }

    fn registry(list: Vec<Fake>) -> (Extensions, Vec<Arc<Fake>>) {
        let mut extensions = Extensions::new();
        let mut handles = Vec::new();
        for fake in list {
            let fake = Arc::new(fake);
            extensions.add(fake.clone()).unwrap();
            handles.push(fake);
        }
        (extensions, handles)
    }

    #[test]
    fn server_picks_in_registration_order_not_offer_order() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1), fake("b", Rsv::RSV2)]);
        let (header, pipeline) = extensions.server_negotiate(Some("b; x=1, a")).unwrap();
        assert_eq!(header.as_deref(), Some("a, b; x=1"));
        assert_eq!(pipeline.names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(pipeline.rsv(), Rsv::RSV1 | Rsv::RSV2);
    }

    #[test]
    fn server_skips_an_extension_whose_rsv_bits_are_taken() {
        let (extensions, handles) = registry(vec![
            fake("a", Rsv::RSV1),
            fake("b", Rsv::RSV1 | Rsv::RSV3),
            fake("c", Rsv::RSV3),
        ]);
        let (header, pipeline) = extensions.server_negotiate(Some("c, b, a")).unwrap();
        assert_eq!(header.as_deref(), Some("a, c"));
        assert_eq!(pipeline.rsv(), Rsv::RSV1 | Rsv::RSV3);
        assert!(
            handles[1].seen.lock().unwrap().is_empty(),
            "b was never asked"
        );
    }

    #[test]
    fn server_accepts_a_later_owner_of_a_bit_when_the_earlier_one_declines() {
        let mut first = fake("a", Rsv::RSV1);
        first.accept = Accept::Decline;
        let (extensions, _) = registry(vec![first, fake("b", Rsv::RSV1)]);
        let (header, pipeline) = extensions.server_negotiate(Some("a, b")).unwrap();
        assert_eq!(header.as_deref(), Some("b"));
        assert_eq!(pipeline.rsv(), Rsv::RSV1);
    }

    #[test]
    fn server_passes_all_of_a_names_offers_in_header_order() {
        let (extensions, handles) = registry(vec![fake("a", Rsv::RSV1)]);
        extensions
            .server_negotiate(Some("a; x=1, b, a; y, a"))
            .unwrap();
        let seen = handles[0].seen.lock().unwrap();
        let expected = vec![
            Params::new().with_value("x", "1"),
            Params::new().with_flag("y"),
            Params::new(),
        ];
        assert_eq!(*seen, vec![expected]);
    }

    #[test]
    fn server_fails_the_handshake_when_an_extension_fails_it() {
        let mut failing = fake("a", Rsv::RSV1);
        failing.accept = Accept::Fail;
        let (extensions, _) = registry(vec![failing]);
        let error = extensions.server_negotiate(Some("a")).unwrap_err();
        assert!(
            matches!(error, NegotiationError::Rejected { ref extension, .. } if extension == "a")
        );
    }

    #[test]
    fn both_roles_treat_an_empty_or_missing_header_as_no_extensions() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1)]);
        for header in [None, Some(""), Some("  ")] {
            let (response, pipeline) = extensions.server_negotiate(header).unwrap();
            assert!(response.is_none() && pipeline.is_empty());
            let pipeline = extensions.client_activate(header).unwrap();
            assert!(pipeline.is_empty());
            assert_eq!(pipeline.rsv(), Rsv::NONE);
        }
    }

    #[test]
    fn both_roles_report_a_malformed_header() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1)]);
        assert!(matches!(
            extensions.server_negotiate(Some("a,")),
            Err(NegotiationError::InvalidHeader(_))
        ));
        assert!(matches!(
            extensions.client_activate(Some("a; b=")),
            Err(NegotiationError::InvalidHeader(_))
        ));
    }

    #[test]
    fn client_offers_in_registration_order_and_skips_extensions_without_offers() {
        let mut two = fake("b", Rsv::RSV2);
        two.offers = vec![Params::new().with_value("x", "1 2"), Params::new()];
        let mut silent = fake("c", Rsv::RSV3);
        silent.offers = vec![];
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1), two, silent]);
        assert_eq!(
            extensions.client_offer_header().as_deref(),
            Some("a, b; x=\"1 2\", b")
        );
        assert_eq!(Extensions::new().client_offer_header(), None);
    }

    #[test]
    fn client_rejects_a_response_for_an_extension_it_did_not_offer() {
        let mut silent = fake("c", Rsv::RSV3);
        silent.offers = vec![];
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1), silent]);
        for name in ["zzz", "c"] {
            let error = extensions.client_activate(Some(name)).unwrap_err();
            assert_eq!(
                error,
                NegotiationError::UnknownExtension { name: name.into() }
            );
            assert_eq!(
                error.to_string(),
                format!("Server sent an extension response for unknown extension \"{name}\"")
            );
        }
    }

    #[test]
    fn client_rejects_a_response_that_answers_one_offer_twice() {
        let (extensions, _) = registry(vec![fake("a", Rsv::NONE)]);
        let error = extensions.client_activate(Some("a, a")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Server sent two extension responses for \"a\""
        );
    }

    #[test]
    fn client_rejects_two_extensions_that_claim_the_same_rsv_bit() {
        let (extensions, _) = registry(vec![
            fake("a", Rsv::RSV1 | Rsv::RSV2),
            fake("b", Rsv::RSV2 | Rsv::RSV3),
        ]);
        let error = extensions.client_activate(Some("b, a")).unwrap_err();
        assert_eq!(
            error,
            NegotiationError::RsvConflict {
                bits: Rsv::RSV2,
                first: "b".into(),
                second: "a".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "Server sent two extension responses that use the RSV2 bit: \"b\" and \"a\""
        );
    }

    #[test]
    fn client_fails_when_a_session_refuses_the_response_params() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1)]);
        let error = extensions
            .client_activate(Some("a; bad=\"x y\""))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unacceptable parameters for extension a (bad=\"x y\"): bad is bad"
        );
    }

    #[test]
    fn client_pipeline_follows_the_response_order() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1), fake("b", Rsv::RSV2)]);
        let pipeline = extensions.client_activate(Some("b, a")).unwrap();
        assert_eq!(pipeline.names().collect::<Vec<_>>(), ["b", "a"]);
    }

    #[test]
    fn pipeline_encodes_in_order_and_decodes_in_reverse() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1), fake("b", Rsv::RSV2)]);
        let (header, mut server) = extensions
            .server_negotiate(extensions.client_offer_header().as_deref())
            .unwrap();
        let mut client = extensions.client_activate(header.as_deref()).unwrap();
        let sent = client.encode(Message::new(OpCode::Binary, "x")).unwrap();
        assert_eq!(
            (&sent.data[..], sent.rsv),
            (&b"xab"[..], Rsv::RSV1 | Rsv::RSV2)
        );
        let received = server.decode(sent, 16).unwrap();
        assert_eq!(received, Message::new(OpCode::Binary, "x"));
    }

    #[test]
    fn pipeline_prefixes_session_errors_with_the_extension_name() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1)]);
        let mut pipeline = extensions.client_activate(Some("a")).unwrap();
        let mut message = Message::new(OpCode::Text, "no tag");
        message.rsv = Rsv::RSV1;
        let error = pipeline.decode(message, 100).unwrap_err();
        assert_eq!(
            (error.close_code(), error.to_string()),
            (CloseCode::INVALID_PAYLOAD, "a: tag missing".into())
        );
        assert_eq!(error.extension(), Some("a"));
    }

    #[test]
    fn pipeline_rejects_rsv_bits_no_extension_owns() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1)]);
        let mut pipeline = extensions.client_activate(Some("a")).unwrap();
        let mut message = Message::new(OpCode::Text, "xa");
        message.rsv = Rsv::RSV1 | Rsv::RSV3;
        let error = pipeline.decode(message, 100).unwrap_err();
        assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
        assert_eq!(error.to_string(), "RSV3 set but not negotiated");
    }

    #[test]
    fn pipeline_fails_a_decoded_message_over_max_length_with_1009() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1)]);
        let mut pipeline = extensions.client_activate(Some("a")).unwrap();
        let mut message = Message::new(OpCode::Text, "12345a");
        message.rsv = Rsv::RSV1;
        let error = pipeline.decode(message.clone(), 4).unwrap_err();
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
        assert_eq!(pipeline.decode(message, 5).unwrap().data, "12345");
    }

    #[test]
    fn pipeline_passes_control_messages_untouched() {
        let (extensions, _) = registry(vec![fake("a", Rsv::RSV1)]);
        let mut pipeline = extensions.client_activate(Some("a")).unwrap();
        let ping = Message::new(OpCode::Ping, "p");
        assert_eq!(pipeline.encode(ping.clone()).unwrap(), ping);
        assert_eq!(pipeline.decode(ping.clone(), 0).unwrap(), ping);
    }

    #[test]
    fn pipeline_fails_a_session_that_sets_bits_it_does_not_own_with_1011() {
        #[derive(Debug)]
        struct Rogue;
        impl Session for Rogue {
            fn decode(&mut self, message: Message, _: usize) -> Result<Message, ExtensionError> {
                Ok(message)
            }
            fn encode(&mut self, mut message: Message) -> Result<Message, ExtensionError> {
                message.rsv = Rsv::RSV3;
                Ok(message)
            }
        }
        let mut pipeline = Pipeline::default();
        pipeline.stages.push(Stage {
            name: "rogue".into(),
            rsv: Rsv::RSV1,
            session: Box::new(Rogue),
        });
        let error = pipeline.encode(Message::new(OpCode::Text, "")).unwrap_err();
        assert_eq!(error.close_code(), CloseCode::INTERNAL_ERROR);
        assert_eq!(error.to_string(), "rogue: set RSV3, which it does not own");
    }

    #[test]
    fn add_rejects_duplicate_names_and_names_that_are_not_tokens() {
        let mut extensions = Extensions::new();
        extensions.add(Arc::new(fake("a", Rsv::RSV1))).unwrap();
        assert_eq!(
            extensions.add(Arc::new(fake("a", Rsv::RSV2))),
            Err(RegistryError::DuplicateName("a".into()))
        );
        assert_eq!(
            extensions.add(Arc::new(fake("a b", Rsv::RSV2))),
            Err(RegistryError::InvalidName("a b".into()))
        );
        assert_eq!(extensions.iter().count(), 1);
    }
}
