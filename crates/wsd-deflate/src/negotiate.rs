//! Configuration and the RFC 7692 section 7.1 parameter negotiation, both roles.

use std::fmt;

use wsd_extensions::{Extension, NegotiationError, Params, Session};
use wsd_frame::Rsv;

use crate::codec::{DeflateSession, Strategy, StreamPool, Tuning};

/// The extension's name in the header.
pub const NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The largest window, 32 KiB, and what an absent `*_max_window_bits` means.
const MAX_BITS: u8 = 15;
const MIN_BITS: u8 = 8;
/// A server's window, own and asked of the client, unless configured: 8 KiB windows
/// keep an idle connection at 16 KiB for a few percent of compression (the crate
/// documentation has the figures).
const SERVER_DEFAULT_BITS: u8 = 13;

/// What both ends agreed, from this endpoint's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// We reset our compressor after every message.
    pub(crate) own_no_context_takeover: bool,
    /// The window we compress with (8-15).
    pub(crate) own_window_bits: u8,
    /// The peer resets its compressor, so we reset our decompressor.
    pub(crate) peer_no_context_takeover: bool,
    /// The window the peer compresses with, so the one we decompress with.
    pub(crate) peer_window_bits: u8,
}

/// How this endpoint negotiates permessage-deflate. The options are relative to the
/// endpoint ("own" compression and the "peer's"), so one configuration serves either
/// role; the table in the crate documentation maps them onto the RFC's parameters.
///
/// ```
/// # use wsd_deflate::DeflateConfig;
/// // A server that keeps no compression context and asks clients for a 1 KiB window.
/// let deflate = DeflateConfig::new()
///     .no_context_takeover(true)
///     .request_max_window_bits(10)
///     .build()
///     .unwrap();
/// # let _ = deflate;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    level: u32,
    mem_level: u8,
    strategy: Strategy,
    no_context_takeover: bool,
    max_window_bits: Option<u8>,
    request_no_context_takeover: bool,
    request_max_window_bits: Option<u8>,
    accept_no_context_takeover: bool,
    min_window_bits: u8,
    hold_streams: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DeflateConfig {
    /// Level 6, memLevel 8, the default strategy, context takeover both ways, any
    /// window the peer asks for, streams lent per message. As a client this offers
    /// `permessage-deflate; client_max_window_bits` and requests nothing of the
    /// server. As a server it compresses with an 8 KiB window (13 bits) and asks the
    /// same of a client that offered `client_max_window_bits`, as Python's
    /// `websockets` does with 4 KiB: a server holds many connections, and these
    /// windows keep each one small for a few percent of compression.
    pub const fn new() -> Self {
        Self {
            level: 6,
            mem_level: 8,
            strategy: Strategy::Default,
            no_context_takeover: false,
            max_window_bits: None,
            request_no_context_takeover: false,
            request_max_window_bits: None,
            accept_no_context_takeover: true,
            min_window_bits: MIN_BITS,
            hold_streams: false,
        }
    }

    /// The compression level, 0 (store) to 9 (smallest). Default 6.
    #[must_use]
    pub const fn level(mut self, level: u32) -> Self {
        self.level = level;
        self
    }

    /// zlib's `memLevel`, 1 to 9, default 8: the size of the compressor's buffer of
    /// pending symbols, `2^(mem_level + 6)` of them at 7 bytes each (112 KiB at 8,
    /// 896 bytes at 1). Smaller means less memory per connection and more, smaller
    /// deflate blocks, so slightly worse compression. zlib also sizes its hash table
    /// by memLevel; zlib-rs, used here, keeps a fixed 128 KiB one (see the crate
    /// documentation for measured figures). Like `level` it is our own choice, not
    /// negotiated. Without context takeover, where every message starts a stream
    /// of its own, a message under 4,095 bytes gets a stream of memLevel 6 when this
    /// is larger: it fits in one block either way, so its bytes are the same, and
    /// the symbol buffer that zlib clears at every block is a quarter the size.
    ///
    /// ```
    /// # use wsd_deflate::{DeflateConfig, DeflateError};
    /// assert!(DeflateConfig::new().mem_level(1).build().is_ok());
    /// assert_eq!(
    ///     DeflateConfig::new().mem_level(0).build().unwrap_err(),
    ///     DeflateError::InvalidMemLevel(0)
    /// );
    /// ```
    #[must_use]
    pub const fn mem_level(mut self, mem_level: u8) -> Self {
        self.mem_level = mem_level;
        self
    }

    /// zlib's compression `strategy`, default [`Strategy::Default`]. Our own choice,
    /// not negotiated: any strategy makes streams every peer inflates.
    #[must_use]
    pub const fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Reset our compressor after every message: less memory per idle connection,
    /// worse compression. Announced as `client_no_context_takeover` by a client and
    /// `server_no_context_takeover` by a server.
    #[must_use]
    pub const fn no_context_takeover(mut self, on: bool) -> Self {
        self.no_context_takeover = on;
        self
    }

    /// Compress with at most a `2^bits`-byte window (8-15). Offered as
    /// `client_max_window_bits=<bits>` by a client; a server uses it as its own limit
    /// (default 13 for a server, 15 for a client), without announcing it unless the
    /// client offered `server_max_window_bits`.
    #[must_use]
    pub const fn max_window_bits(mut self, bits: u8) -> Self {
        self.max_window_bits = Some(bits);
        self
    }

    /// Ask the peer to reset its compressor after every message (so ours need not
    /// keep its window). A client fails the handshake if the server does not agree.
    #[must_use]
    pub const fn request_no_context_takeover(mut self, on: bool) -> Self {
        self.request_no_context_takeover = on;
        self
    }

    /// Ask the peer to compress with at most a `2^bits`-byte window (8-15), which
    /// bounds what our connection keeps of the messages it received. A client fails
    /// the handshake if the server does not agree; a server can only ask a client
    /// that offered `client_max_window_bits`, and by default asks for 13.
    #[must_use]
    pub const fn request_max_window_bits(mut self, bits: u8) -> Self {
        self.request_max_window_bits = Some(bits);
        self
    }

    /// Whether to accept a peer's request that we reset our compressor after every
    /// message. Default yes; when no, a server skips such offers and a client fails
    /// such a response.
    #[must_use]
    pub const fn accept_no_context_takeover(mut self, on: bool) -> Self {
        self.accept_no_context_takeover = on;
        self
    }

    /// The smallest window (8-15) the peer may ask us to compress with. Default 8;
    /// a server skips offers below it and a client fails such a response.
    #[must_use]
    pub const fn min_window_bits(mut self, bits: u8) -> Self {
        self.min_window_bits = bits;
        self
    }

    /// Give each connection a compressor and a decompressor of its own for its whole
    /// life, as zlib users usually do, instead of borrowing them from the process's
    /// pool for one message at a time and keeping only the windows. Default no.
    /// A connection that borrows gets its own stream back while no more than 8
    /// connections trade messages in turn; beyond that, each message resets a
    /// stream and primes it with the window, which costs CPU (about 2.8 times the
    /// instructions for a 1 KiB message at window 13, 4.3 times at 15; the crate
    /// documentation has the figures). Holding costs a whole stream per connection:
    /// 322 KiB at window 13 and memLevel 8 instead of 16.6 KiB of windows, 418 KiB
    /// at window 15. Only with context takeover; without it nothing is kept either
    /// way.
    ///
    /// ```
    /// # use wsd_deflate::DeflateConfig;
    /// // Few connections, many small messages each: keep the streams.
    /// let deflate = DeflateConfig::new().hold_streams(true).build().unwrap();
    /// # let _ = deflate;
    /// ```
    #[must_use]
    pub const fn hold_streams(mut self, on: bool) -> Self {
        self.hold_streams = on;
        self
    }

    /// Checks the configuration and makes the extension to register.
    pub fn build(self) -> Result<PerMessageDeflate, DeflateError> {
        self.check()?;
        Ok(PerMessageDeflate {
            config: self,
            alternatives: Vec::new(),
        })
    }

    fn check(&self) -> Result<(), DeflateError> {
        if self.level > 9 {
            return Err(DeflateError::InvalidLevel(self.level));
        }
        if !(1..=9).contains(&self.mem_level) {
            return Err(DeflateError::InvalidMemLevel(self.mem_level));
        }
        let windows = [
            ("max_window_bits", self.max_window_bits),
            ("request_max_window_bits", self.request_max_window_bits),
            ("min_window_bits", Some(self.min_window_bits)),
        ];
        for (option, bits) in windows {
            if let Some(bits) = bits.filter(|bits| !(MIN_BITS..=MAX_BITS).contains(bits)) {
                return Err(DeflateError::InvalidWindowBits { option, bits });
            }
        }
        Ok(())
    }

    /// What our compressor is made with; valid once [`check`](Self::check) passed.
    const fn tuning(&self) -> Tuning {
        Tuning {
            // At most 9 after `check`; the cap keeps the cast lossless regardless.
            level: if self.level > 9 { 9 } else { self.level as u8 },
            mem_level: self.mem_level,
            strategy: self.strategy,
            hold_streams: self.hold_streams,
        }
    }

    /// Client side: this configuration's offer.
    fn offer(&self) -> Params {
        let config = self;
        let mut offer = Params::new();
        if config.no_context_takeover {
            offer = offer.with_flag(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        offer = match config.max_window_bits {
            Some(bits) => offer.with_value(CLIENT_MAX_WINDOW_BITS, &bits.to_string()),
            None => offer.with_flag(CLIENT_MAX_WINDOW_BITS),
        };
        if config.request_no_context_takeover {
            offer = offer.with_flag(SERVER_NO_CONTEXT_TAKEOVER);
        }
        if let Some(bits) = config.request_max_window_bits {
            offer = offer.with_value(SERVER_MAX_WINDOW_BITS, &bits.to_string());
        }
        offer
    }

    /// Server side: the response to one offer, or why it is unacceptable.
    fn answer(&self, offer: &Params) -> Result<(Params, Agreed), String> {
        let offered = Parsed::from_params(offer, Side::Offer)?;
        let config = self;
        if offered.server_no_context_takeover && !config.accept_no_context_takeover {
            return Err(format!("{SERVER_NO_CONTEXT_TAKEOVER} is not accepted"));
        }
        if offered
            .server_max_window_bits
            .is_some_and(|bits| bits < config.min_window_bits)
        {
            return Err(format!(
                "{SERVER_MAX_WINDOW_BITS} below {}",
                config.min_window_bits
            ));
        }
        let own_no_context_takeover =
            config.no_context_takeover || offered.server_no_context_takeover;
        let peer_no_context_takeover =
            config.request_no_context_takeover || offered.client_no_context_takeover;
        let own_window_bits = config
            .max_window_bits
            .unwrap_or(SERVER_DEFAULT_BITS)
            .min(offered.server_max_window_bits.unwrap_or(MAX_BITS));
        // Without client_max_window_bits in the offer the client may not be told a
        // window (RFC 7692 section 7.1.2.2); a bare one means "up to 15".
        let peer_window_bits = match offered.client_max_window_bits {
            None => MAX_BITS,
            Some(bits) => config
                .request_max_window_bits
                .unwrap_or(SERVER_DEFAULT_BITS)
                .min(bits.unwrap_or(MAX_BITS)),
        };
        let mut response = Params::new();
        if own_no_context_takeover {
            response = response.with_flag(SERVER_NO_CONTEXT_TAKEOVER);
        }
        if peer_no_context_takeover {
            response = response.with_flag(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        // Sent only when asked for and below the default: Firefox once failed on an
        // unrequested server_max_window_bits (Node's `permessage-deflate` 0.1.4 does
        // the same).
        if offered.server_max_window_bits.is_some() && own_window_bits < MAX_BITS {
            response = response.with_value(SERVER_MAX_WINDOW_BITS, &own_window_bits.to_string());
        }
        if peer_window_bits < MAX_BITS {
            response = response.with_value(CLIENT_MAX_WINDOW_BITS, &peer_window_bits.to_string());
        }
        let agreed = Agreed {
            own_no_context_takeover,
            own_window_bits,
            peer_no_context_takeover,
            peer_window_bits,
        };
        Ok((response, agreed))
    }

    /// Client side: what the server's response means if it answers this
    /// configuration's offer, or why it cannot (RFC 7692 section 7.1: a requested
    /// `server_no_context_takeover` must be granted, a requested
    /// `server_max_window_bits` met, an offered `client_max_window_bits=N` not exceeded).
    fn activate(&self, answered: &Parsed) -> Result<Agreed, String> {
        let config = self;
        // A response always carries a value here (Side::Response checks it).
        let client_bits = answered.client_max_window_bits.flatten();
        if let (Some(limit), Some(bits)) = (config.max_window_bits, client_bits) {
            if bits > limit {
                return Err(format!(
                    "{CLIENT_MAX_WINDOW_BITS}={bits} exceeds the offered {limit}"
                ));
            }
        }
        if client_bits.is_some_and(|bits| bits < config.min_window_bits) {
            return Err(format!(
                "{CLIENT_MAX_WINDOW_BITS} below {}",
                config.min_window_bits
            ));
        }
        if answered.client_no_context_takeover && !config.accept_no_context_takeover {
            return Err(format!("{CLIENT_NO_CONTEXT_TAKEOVER} is not accepted"));
        }
        if config.request_no_context_takeover && !answered.server_no_context_takeover {
            return Err(format!(
                "{SERVER_NO_CONTEXT_TAKEOVER} was requested but not granted"
            ));
        }
        let peer_window_bits = answered.server_max_window_bits.unwrap_or(MAX_BITS);
        if let Some(requested) = config.request_max_window_bits {
            if peer_window_bits > requested {
                return Err(format!(
                    "{SERVER_MAX_WINDOW_BITS}={requested} was requested but not granted"
                ));
            }
        }
        Ok(Agreed {
            own_no_context_takeover: config.no_context_takeover
                || answered.client_no_context_takeover,
            own_window_bits: config
                .max_window_bits
                .unwrap_or(MAX_BITS)
                .min(client_bits.unwrap_or(MAX_BITS)),
            peer_no_context_takeover: answered.server_no_context_takeover,
            peer_window_bits,
        })
    }
}

/// A [`DeflateConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateError {
    /// The level is not 0-9.
    InvalidLevel(u32),
    /// The memLevel is not 1-9.
    InvalidMemLevel(u8),
    /// The number is none of zlib's strategies (0-4).
    InvalidStrategy(i32),
    /// A window size is not 8-15.
    InvalidWindowBits {
        /// The builder method.
        option: &'static str,
        /// The value given.
        bits: u8,
    },
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLevel(level) => write!(f, "compression level {level} is not 0-9"),
            Self::InvalidMemLevel(mem_level) => write!(f, "memLevel {mem_level} is not 1-9"),
            Self::InvalidStrategy(strategy) => {
                write!(f, "strategy {strategy} is not one of zlib's 0-4")
            }
            Self::InvalidWindowBits { option, bits } => write!(f, "{option} {bits} is not 8-15"),
        }
    }
}

impl std::error::Error for DeflateError {}

/// The permessage-deflate extension, to register with
/// [`Extensions::add`](wsd_extensions::Extensions::add). It owns RSV1.
///
/// It holds one [`DeflateConfig`] or, with [`with_alternative`](Self::with_alternative),
/// several: a client then offers one `permessage-deflate` per configuration, in
/// order of preference (RFC 7692 section 5), and a server answers each of the
/// client's offers in turn with the first configuration that accepts it.
///
/// The connections it negotiates borrow their compression streams from one pool
/// shared by the whole process, so a connection between messages keeps only its
/// windows, however many `PerMessageDeflate` values an application makes (one per
/// connection is fine); see [`DeflateConfig::hold_streams`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerMessageDeflate {
    config: DeflateConfig,
    alternatives: Vec<DeflateConfig>,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        Self::new()
    }
}

impl PerMessageDeflate {
    /// The extension with [`DeflateConfig::new`].
    pub const fn new() -> Self {
        Self {
            config: DeflateConfig::new(),
            alternatives: Vec::new(),
        }
    }

    /// Adds `alternative` after the configurations already held, as a less preferred
    /// offer. The server's response does not say which offer it accepted, so a client
    /// takes the response against every offer it fits and keeps the strictest terms
    /// for its own compressor: if any fitting offer carried
    /// `client_no_context_takeover`, or a smaller `client_max_window_bits`, that
    /// promise holds (section 7.1.1.2: the server may rely on it without echoing it).
    /// The compression level, memLevel and strategy are those of the first fitting
    /// configuration.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use wsd_deflate::{DeflateConfig, PerMessageDeflate};
    /// # use wsd_extensions::Extensions;
    /// let deflate = PerMessageDeflate::new()
    ///     .with_alternative(DeflateConfig::new().no_context_takeover(true))
    ///     .unwrap();
    /// let mut client = Extensions::new();
    /// client.add(Arc::new(deflate)).unwrap();
    /// assert_eq!(
    ///     client.client_offer_header().as_deref(),
    ///     Some("permessage-deflate; client_max_window_bits, \
    ///           permessage-deflate; client_no_context_takeover; client_max_window_bits")
    /// );
    /// ```
    pub fn with_alternative(mut self, alternative: DeflateConfig) -> Result<Self, DeflateError> {
        alternative.check()?;
        self.alternatives.push(alternative);
        Ok(self)
    }

    /// The first (preferred) configuration.
    pub const fn config(&self) -> &DeflateConfig {
        &self.config
    }

    /// Every configuration in order of preference, the first being [`config`](Self::config).
    pub fn configs(&self) -> impl Iterator<Item = &DeflateConfig> + '_ {
        std::iter::once(&self.config).chain(&self.alternatives)
    }

    /// Server side: the first offer (client's order) some configuration accepts,
    /// trying the configurations in order for each.
    fn answer(&self, offers: &[Params]) -> Option<(Params, Box<dyn Session>)> {
        offers.iter().find_map(|offer| {
            self.configs().find_map(|config| {
                let (params, agreed) = config.answer(offer).ok()?;
                Some((params, self.session(config.tuning(), agreed)))
            })
        })
    }

    /// Client side: the terms for `response`, strictest over the configurations whose
    /// offer it fits; the reasons of each when it fits none.
    fn activate(&self, response: &Params) -> Result<(Tuning, Agreed), String> {
        let answered = Parsed::from_params(response, Side::Response)?;
        let mut fitting: Option<(Tuning, Agreed)> = None;
        let mut reasons = Vec::new();
        for config in self.configs() {
            match config.activate(&answered) {
                Ok(agreed) => {
                    fitting = Some(match fitting {
                        None => (config.tuning(), agreed),
                        Some((tuning, earlier)) => (tuning, strictest(earlier, agreed)),
                    });
                }
                Err(reason) => reasons.push(reason),
            }
        }
        match fitting {
            Some(terms) => Ok(terms),
            None if reasons.len() == 1 => Err(reasons.remove(0)),
            None => Err(format!("fits no offer ({})", reasons.join("; "))),
        }
    }
}

/// Both readings of one response: the peer's terms come from the response alone and
/// so agree; for our own compressor the stricter promise wins.
fn strictest(a: Agreed, b: Agreed) -> Agreed {
    Agreed {
        own_no_context_takeover: a.own_no_context_takeover || b.own_no_context_takeover,
        own_window_bits: a.own_window_bits.min(b.own_window_bits),
        ..a
    }
}

impl PerMessageDeflate {
    fn session(&self, tuning: Tuning, agreed: Agreed) -> Box<dyn Session> {
        Box::new(DeflateSession::new(tuning, agreed, StreamPool::shared()))
    }
}

impl Extension for PerMessageDeflate {
    fn name(&self) -> &str {
        NAME
    }

    fn rsv(&self) -> Rsv {
        Rsv::RSV1
    }

    fn client_offers(&self) -> Vec<Params> {
        self.configs().map(DeflateConfig::offer).collect()
    }

    fn client_activate(&self, response: &Params) -> Result<Box<dyn Session>, NegotiationError> {
        match self.activate(response) {
            Ok((tuning, agreed)) => Ok(self.session(tuning, agreed)),
            Err(reason) => Err(NegotiationError::rejected(NAME, response, reason)),
        }
    }

    /// The first acceptable offer wins; none acceptable declines the extension.
    fn server_accept(
        &self,
        offers: &[Params],
    ) -> Result<Option<(Params, Box<dyn Session>)>, NegotiationError> {
        Ok(self.answer(offers))
    }
}

/// Which message the parameters come from: `client_max_window_bits` may be bare only
/// in an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// Valid permessage-deflate parameters (RFC 7692 section 7.1): only the four names,
/// none repeated, flags bare, window sizes 8-15 in decimal without leading zeros.
#[derive(Debug, Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered bare.
    client_max_window_bits: Option<Option<u8>>,
}

impl Parsed {
    fn from_params(params: &Params, side: Side) -> Result<Self, String> {
        let mut parsed = Self::default();
        for (name, value) in params.iter() {
            let name = name.to_ascii_lowercase();
            let repeated = || format!("{name} repeated");
            match name.as_str() {
                SERVER_NO_CONTEXT_TAKEOVER | CLIENT_NO_CONTEXT_TAKEOVER => {
                    if value.is_some() {
                        return Err(format!("{name} takes no value"));
                    }
                    let flag = if name == SERVER_NO_CONTEXT_TAKEOVER {
                        &mut parsed.server_no_context_takeover
                    } else {
                        &mut parsed.client_no_context_takeover
                    };
                    if *flag {
                        return Err(repeated());
                    }
                    *flag = true;
                }
                SERVER_MAX_WINDOW_BITS => {
                    if parsed.server_max_window_bits.is_some() {
                        return Err(repeated());
                    }
                    parsed.server_max_window_bits = Some(window_bits(&name, value)?);
                }
                CLIENT_MAX_WINDOW_BITS => {
                    if parsed.client_max_window_bits.is_some() {
                        return Err(repeated());
                    }
                    let bits = match (value, side) {
                        (None, Side::Offer) => None,
                        _ => Some(window_bits(&name, value)?),
                    };
                    parsed.client_max_window_bits = Some(bits);
                }
                _ => return Err(format!("unknown parameter {name}")),
            }
        }
        Ok(parsed)
    }
}

/// A window size value: `8` to `15`, no sign, no leading zero.
fn window_bits(name: &str, value: Option<&str>) -> Result<u8, String> {
    let bits = match value {
        Some(text) if !text.starts_with('0') && text.bytes().all(|byte| byte.is_ascii_digit()) => {
            text.parse().ok()
        }
        _ => None,
    };
    bits.filter(|bits| (MIN_BITS..=MAX_BITS).contains(bits))
        .ok_or_else(|| format!("{name} must be a number from 8 to 15"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use wsd_extensions::{Extensions, Message, parse_header};
    use wsd_frame::OpCode;

    /// The parameters of `permessage-deflate; <text>`.
    fn params(text: &str) -> Params {
        let header = if text.is_empty() {
            NAME.to_owned()
        } else {
            format!("{NAME}; {text}")
        };
        parse_header(&header).unwrap().remove(0).params
    }

    fn deflate(config: DeflateConfig) -> PerMessageDeflate {
        config.build().unwrap()
    }

    /// `(own_no_context_takeover, own_window_bits, peer_no_context_takeover, peer_window_bits)`.
    type Terms = (bool, u8, bool, u8);

    fn terms(agreed: Agreed) -> Terms {
        (
            agreed.own_no_context_takeover,
            agreed.own_window_bits,
            agreed.peer_no_context_takeover,
            agreed.peer_window_bits,
        )
    }

    const DEFAULT: Terms = (false, 15, false, 15);

    #[test]
    fn server_answers_each_valid_offer_as_node_permessage_deflate_does() {
        // Node's windows: 15 unless asked for less.
        let c = || {
            DeflateConfig::new()
                .max_window_bits(15)
                .request_max_window_bits(15)
        };
        let all = "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8";
        let table: Vec<(DeflateConfig, &str, &str, Terms)> = vec![
            (c(), "", "", DEFAULT),
            (c(), "client_max_window_bits", "", DEFAULT),
            (
                c(),
                "client_max_window_bits=10",
                "client_max_window_bits=10",
                (false, 15, false, 10),
            ),
            (
                c(),
                "server_max_window_bits=10",
                "server_max_window_bits=10",
                (false, 10, false, 15),
            ),
            (
                c(),
                "server_max_window_bits=\"10\"",
                "server_max_window_bits=10",
                (false, 10, false, 15),
            ),
            (c(), "server_max_window_bits=15", "", DEFAULT),
            (
                c(),
                "server_max_window_bits=8",
                "server_max_window_bits=8",
                (false, 8, false, 15),
            ),
            (
                c(),
                "server_no_context_takeover",
                "server_no_context_takeover",
                (true, 15, false, 15),
            ),
            (
                c(),
                "client_no_context_takeover",
                "client_no_context_takeover",
                (false, 15, true, 15),
            ),
            (c(), all, all, (true, 9, true, 8)),
            (
                c().no_context_takeover(true),
                "",
                "server_no_context_takeover",
                (true, 15, false, 15),
            ),
            (
                c().request_no_context_takeover(true),
                "",
                "client_no_context_takeover",
                (false, 15, true, 15),
            ),
            (c().max_window_bits(10), "", "", (false, 10, false, 15)),
            (
                c().max_window_bits(10),
                "server_max_window_bits=12",
                "server_max_window_bits=10",
                (false, 10, false, 15),
            ),
            (
                c().max_window_bits(12),
                "server_max_window_bits=10",
                "server_max_window_bits=10",
                (false, 10, false, 15),
            ),
            (c().request_max_window_bits(10), "", "", DEFAULT),
            (
                c().request_max_window_bits(10),
                "client_max_window_bits",
                "client_max_window_bits=10",
                (false, 15, false, 10),
            ),
            (
                c().request_max_window_bits(10),
                "client_max_window_bits=9",
                "client_max_window_bits=9",
                (false, 15, false, 9),
            ),
            (
                c().request_max_window_bits(9),
                "client_max_window_bits=12",
                "client_max_window_bits=9",
                (false, 15, false, 9),
            ),
        ];
        for (config, offer, response, expected) in table {
            let (answer, agreed) = config
                .answer(&params(offer))
                .unwrap_or_else(|e| panic!("{offer}: {e}"));
            assert_eq!(
                (answer.to_string(), terms(agreed)),
                (response.to_owned(), expected),
                "{config:?} / {offer}"
            );
        }
    }

    #[test]
    fn server_refuses_invalid_or_unacceptable_offers() {
        let c = DeflateConfig::new;
        let table = [
            (c(), "x_unknown", "unknown parameter x_unknown"),
            (
                c(),
                "server_no_context_takeover=1",
                "server_no_context_takeover takes no value",
            ),
            (
                c(),
                "client_no_context_takeover; client_no_context_takeover",
                "client_no_context_takeover repeated",
            ),
            (
                c(),
                "server_max_window_bits",
                "server_max_window_bits must be a number from 8 to 15",
            ),
            (
                c(),
                "server_max_window_bits=7",
                "server_max_window_bits must be a number from 8 to 15",
            ),
            (
                c(),
                "server_max_window_bits=16",
                "server_max_window_bits must be a number from 8 to 15",
            ),
            (
                c(),
                "server_max_window_bits=08",
                "server_max_window_bits must be a number from 8 to 15",
            ),
            (
                c(),
                "server_max_window_bits=+9",
                "server_max_window_bits must be a number from 8 to 15",
            ),
            (
                c(),
                "server_max_window_bits=9; server_max_window_bits=9",
                "server_max_window_bits repeated",
            ),
            (
                c(),
                "client_max_window_bits=abc",
                "client_max_window_bits must be a number from 8 to 15",
            ),
            (
                c(),
                "client_max_window_bits; client_max_window_bits=9",
                "client_max_window_bits repeated",
            ),
            (
                c().accept_no_context_takeover(false),
                "server_no_context_takeover",
                "server_no_context_takeover is not accepted",
            ),
            (
                c().min_window_bits(10),
                "server_max_window_bits=9",
                "server_max_window_bits below 10",
            ),
        ];
        for (config, offer, reason) in table {
            assert_eq!(
                config.answer(&params(offer)).unwrap_err(),
                reason,
                "{offer}"
            );
        }
    }

    #[test]
    fn server_takes_the_first_valid_offer_and_declines_when_none_is() {
        let server = PerMessageDeflate::new();
        let offers = [params("x"), params("server_max_window_bits=10"), params("")];
        let (response, _) = server.server_accept(&offers).unwrap().unwrap();
        assert_eq!(response.to_string(), "server_max_window_bits=10");
        assert!(
            server
                .server_accept(&[params("x"), params("server_max_window_bits=99")])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn client_offers_what_it_is_configured_to() {
        let offer = |config: DeflateConfig| deflate(config).client_offers()[0].to_string();
        assert_eq!(offer(DeflateConfig::new()), "client_max_window_bits");
        let all = DeflateConfig::new()
            .no_context_takeover(true)
            .max_window_bits(10)
            .request_no_context_takeover(true)
            .request_max_window_bits(11);
        assert_eq!(
            offer(all),
            "client_no_context_takeover; client_max_window_bits=10; server_no_context_takeover; server_max_window_bits=11"
        );
    }

    #[test]
    fn client_activates_each_acceptable_response() {
        let c = DeflateConfig::new;
        let table = [
            (c(), "", DEFAULT),
            (c(), "server_no_context_takeover", (false, 15, true, 15)),
            (c(), "client_no_context_takeover", (true, 15, false, 15)),
            (c(), "server_max_window_bits=10", (false, 15, false, 10)),
            (c(), "client_max_window_bits=8", (false, 8, false, 15)),
            (c().no_context_takeover(true), "", (true, 15, false, 15)),
            (c().max_window_bits(10), "", (false, 10, false, 15)),
            (
                c().max_window_bits(10),
                "client_max_window_bits=9",
                (false, 9, false, 15),
            ),
            (
                c().request_no_context_takeover(true),
                "server_no_context_takeover",
                (false, 15, true, 15),
            ),
            (
                c().request_max_window_bits(10),
                "server_max_window_bits=10",
                (false, 15, false, 10),
            ),
            (
                c().request_max_window_bits(10),
                "server_max_window_bits=9",
                (false, 15, false, 9),
            ),
            (c().request_max_window_bits(15), "", DEFAULT),
        ];
        for (config, response, expected) in table {
            let agreed = deflate(config)
                .activate(&params(response))
                .unwrap_or_else(|e| panic!("{response}: {e}"));
            assert_eq!(terms(agreed.1), expected, "{config:?} / {response}");
        }
    }

    #[test]
    fn client_rejects_responses_that_violate_its_offer_or_policy() {
        let c = DeflateConfig::new;
        let table = [
            (
                c(),
                "client_max_window_bits",
                "client_max_window_bits must be a number from 8 to 15",
            ),
            (c(), "x", "unknown parameter x"),
            (
                c(),
                "server_no_context_takeover; server_no_context_takeover",
                "server_no_context_takeover repeated",
            ),
            (
                c().max_window_bits(10),
                "client_max_window_bits=12",
                "client_max_window_bits=12 exceeds the offered 10",
            ),
            (
                c().request_no_context_takeover(true),
                "",
                "server_no_context_takeover was requested but not granted",
            ),
            (
                c().request_max_window_bits(10),
                "",
                "server_max_window_bits=10 was requested but not granted",
            ),
            (
                c().request_max_window_bits(10),
                "server_max_window_bits=11",
                "server_max_window_bits=10 was requested but not granted",
            ),
            (
                c().accept_no_context_takeover(false),
                "client_no_context_takeover",
                "client_no_context_takeover is not accepted",
            ),
            (
                c().min_window_bits(10),
                "client_max_window_bits=9",
                "client_max_window_bits below 10",
            ),
        ];
        for (config, response, reason) in table {
            assert_eq!(
                deflate(config).activate(&params(response)).unwrap_err(),
                reason,
                "{response}"
            );
        }
    }

    /// The offer `wsd autobahn-client --deflate` makes: context takeover preferred,
    /// without it as the alternative.
    fn with_fallback() -> PerMessageDeflate {
        PerMessageDeflate::new()
            .with_alternative(DeflateConfig::new().no_context_takeover(true))
            .unwrap()
    }

    #[test]
    fn alternatives_are_offered_in_order_and_checked_when_added() {
        let offers: Vec<String> = with_fallback()
            .client_offers()
            .iter()
            .map(Params::to_string)
            .collect();
        assert_eq!(
            offers,
            [
                "client_max_window_bits",
                "client_no_context_takeover; client_max_window_bits"
            ]
        );
        assert_eq!(
            PerMessageDeflate::new().with_alternative(DeflateConfig::new().max_window_bits(16)),
            Err(DeflateError::InvalidWindowBits {
                option: "max_window_bits",
                bits: 16
            })
        );
        assert_eq!(with_fallback().configs().count(), 2);
    }

    #[test]
    fn client_reads_a_response_against_the_offers_it_fits_keeping_the_strictest_promise() {
        let c = DeflateConfig::new;
        let strict = c()
            .request_no_context_takeover(true)
            .max_window_bits(10)
            .level(1);
        let lenient = c().level(9);
        let both = strict.build().unwrap().with_alternative(lenient).unwrap();
        let table = [
            // Fits only the lenient offer: its terms and level.
            ("", (9, DEFAULT)),
            ("client_max_window_bits=12", (9, (false, 12, false, 15))),
            // Fits both: the first one's level, the smaller own window.
            ("server_no_context_takeover", (1, (false, 10, true, 15))),
            (
                "server_no_context_takeover; client_max_window_bits=9",
                (1, (false, 9, true, 15)),
            ),
        ];
        for (response, (level, expected)) in table {
            let (tuning, agreed) = both
                .activate(&params(response))
                .unwrap_or_else(|e| panic!("{response}: {e}"));
            assert_eq!(
                (tuning.level, terms(agreed)),
                (level, expected),
                "{response}"
            );
        }
        // A plain answer fits both the plain offer and the one promising no context
        // takeover; the server may hold the client to that promise.
        for response in ["", "client_max_window_bits=9"] {
            let (_, agreed) = with_fallback().activate(&params(response)).unwrap();
            assert!(agreed.own_no_context_takeover, "{response}");
        }
    }

    #[test]
    fn client_rejects_a_response_that_fits_none_of_its_offers_giving_each_reason() {
        let both = DeflateConfig::new()
            .request_no_context_takeover(true)
            .build()
            .unwrap()
            .with_alternative(DeflateConfig::new().max_window_bits(10))
            .unwrap();
        assert_eq!(
            both.activate(&params("client_max_window_bits=12"))
                .unwrap_err(),
            "fits no offer (server_no_context_takeover was requested but not granted; \
             client_max_window_bits=12 exceeds the offered 10)"
        );
        // Malformed parameters fail before any offer is consulted.
        assert_eq!(
            both.activate(&params("x")).unwrap_err(),
            "unknown parameter x"
        );
    }

    #[test]
    fn server_answers_the_first_offer_some_configuration_accepts() {
        // The preferred configuration refuses server_no_context_takeover; the
        // alternative takes it.
        let server = DeflateConfig::new()
            .accept_no_context_takeover(false)
            .build()
            .unwrap()
            .with_alternative(DeflateConfig::new().request_max_window_bits(9))
            .unwrap();
        let offers = [
            params("server_max_window_bits=99"),
            params("server_no_context_takeover; client_max_window_bits"),
            params(""),
        ];
        let (response, _) = server.answer(&offers).unwrap();
        assert_eq!(
            response.to_string(),
            "server_no_context_takeover; client_max_window_bits=9"
        );
        // An offer both accept goes to the preferred configuration.
        let (response, _) = server.answer(&[params("client_max_window_bits")]).unwrap();
        assert_eq!(response.to_string(), "client_max_window_bits=13");
    }

    #[test]
    fn autobahn_13_server_choices_all_work_with_the_fallback_offer() {
        // Each of the fuzzing server's 13.x choices, made on the header the client
        // sends, then a few messages both ways.
        let client = {
            let mut extensions = Extensions::new();
            extensions.add(Arc::new(with_fallback())).unwrap();
            extensions
        };
        let offer = client.client_offer_header().unwrap();
        assert_eq!(
            offer,
            "permessage-deflate; client_max_window_bits, \
             permessage-deflate; client_no_context_takeover; client_max_window_bits"
        );
        let responses = [
            "",
            "client_no_context_takeover",
            "client_max_window_bits=9",
            "client_max_window_bits=15",
            "client_no_context_takeover; client_max_window_bits=9",
            "client_no_context_takeover; client_max_window_bits=15",
        ];
        for response in responses {
            let server_config = match response {
                "" => DeflateConfig::new(),
                "client_no_context_takeover" => {
                    DeflateConfig::new().request_no_context_takeover(true)
                }
                _ => DeflateConfig::new()
                    .request_no_context_takeover(response.contains("no_context"))
                    .request_max_window_bits(if response.ends_with("=9") { 9 } else { 15 }),
            };
            let header = if response.is_empty() {
                NAME.to_owned()
            } else {
                format!("{NAME}; {response}")
            };
            let mut client_pipe = client.client_activate(Some(&header)).unwrap();
            let (_, mut server_pipe) = registry(server_config)
                .server_negotiate(Some(&offer))
                .unwrap();
            for round in 0..3 {
                let text = format!("{round} {}", "json data ".repeat(300));
                let sent = client_pipe
                    .encode(Message::new(OpCode::Text, text.clone()))
                    .unwrap();
                assert_eq!(server_pipe.decode(sent, 1 << 20).unwrap().data, text);
                let sent = server_pipe
                    .encode(Message::new(OpCode::Binary, text.clone()))
                    .unwrap();
                assert_eq!(client_pipe.decode(sent, 1 << 20).unwrap().data, text);
            }
        }
    }

    #[test]
    fn build_rejects_out_of_range_settings() {
        assert_eq!(
            DeflateConfig::new().level(10).build(),
            Err(DeflateError::InvalidLevel(10))
        );
        let error = DeflateConfig::new().max_window_bits(7).build().unwrap_err();
        assert_eq!(error.to_string(), "max_window_bits 7 is not 8-15");
        assert!(
            DeflateConfig::new()
                .request_max_window_bits(16)
                .build()
                .is_err()
        );
        assert!(DeflateConfig::new().min_window_bits(16).build().is_err());
        for mem_level in [0, 10, 255] {
            let error = DeflateConfig::new()
                .mem_level(mem_level)
                .build()
                .unwrap_err();
            assert_eq!(error, DeflateError::InvalidMemLevel(mem_level));
            assert_eq!(
                error.to_string(),
                format!("memLevel {mem_level} is not 1-9")
            );
            // An alternative is checked as well.
            assert!(
                PerMessageDeflate::new()
                    .with_alternative(DeflateConfig::new().mem_level(mem_level))
                    .is_err()
            );
        }
        for mem_level in 1..=9 {
            assert!(DeflateConfig::new().mem_level(mem_level).build().is_ok());
        }
        assert!(
            DeflateConfig::new()
                .level(0)
                .max_window_bits(8)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn strategy_takes_zlibs_numbers_and_rejects_others() {
        for (number, strategy) in (0..).zip(Strategy::ALL) {
            assert_eq!(Strategy::try_from(number), Ok(strategy));
        }
        for number in [-1, 5, i32::MAX] {
            let error = Strategy::try_from(number).unwrap_err();
            assert_eq!(error, DeflateError::InvalidStrategy(number));
            assert_eq!(
                error.to_string(),
                format!("strategy {number} is not one of zlib's 0-4")
            );
        }
    }

    /// The first byte's block type (bits 1-2): 0b01 for fixed codes, 0b10 dynamic.
    fn block_type(message: &Message) -> u8 {
        (message.data[0] >> 1) & 0b11
    }

    #[test]
    fn each_side_compresses_with_its_own_tuning_which_is_not_negotiated() {
        let fixed = DeflateConfig::new().mem_level(1).strategy(Strategy::Fixed);
        let (client, server) = (registry(DeflateConfig::new()), registry(fixed));
        let offer = client.client_offer_header();
        let (response, mut server_pipe) = server.server_negotiate(offer.as_deref()).unwrap();
        // The tuning leaves the header alone.
        assert_eq!(
            response.as_deref(),
            Some("permessage-deflate; client_max_window_bits=13")
        );
        let mut client_pipe = client.client_activate(response.as_deref()).unwrap();
        // Varied enough that zlib's default picks dynamic codes.
        let text: String = (0..200)
            .map(|i| format!("{{\"id\": {i}, \"name\": \"user{}\"}}, ", i * 7919 % 1000))
            .collect();
        for _ in 0..2 {
            let sent = server_pipe
                .encode(Message::new(OpCode::Text, text.clone()))
                .unwrap();
            assert_eq!(block_type(&sent), 0b01, "the server uses fixed codes");
            assert_eq!(client_pipe.decode(sent, 1 << 20).unwrap().data, text);
            let sent = client_pipe
                .encode(Message::new(OpCode::Text, text.clone()))
                .unwrap();
            assert_eq!(block_type(&sent), 0b10, "the client keeps dynamic codes");
            assert_eq!(server_pipe.decode(sent, 1 << 20).unwrap().data, text);
        }
    }

    #[test]
    fn a_client_tunes_its_compressor_as_the_first_configuration_the_response_fits() {
        let fixed = DeflateConfig::new()
            .request_no_context_takeover(true)
            .strategy(Strategy::Fixed)
            .mem_level(2)
            .level(1);
        let both = fixed
            .build()
            .unwrap()
            .with_alternative(DeflateConfig::new().strategy(Strategy::HuffmanOnly))
            .unwrap();
        let table = [
            ("server_no_context_takeover", fixed.tuning()),
            (
                "",
                DeflateConfig::new()
                    .strategy(Strategy::HuffmanOnly)
                    .tuning(),
            ),
        ];
        for (response, expected) in table {
            let (tuning, _) = both.activate(&params(response)).unwrap();
            assert_eq!(tuning, expected, "{response}");
        }
        assert_eq!(
            fixed.tuning(),
            Tuning {
                level: 1,
                mem_level: 2,
                strategy: Strategy::Fixed,
                hold_streams: false,
            }
        );
    }

    fn registry(config: DeflateConfig) -> Extensions {
        let mut extensions = Extensions::new();
        extensions.add(Arc::new(deflate(config))).unwrap();
        extensions
    }

    #[test]
    fn client_and_server_negotiate_and_exchange_messages_through_extensions() {
        let client_configs = [
            DeflateConfig::new(),
            DeflateConfig::new()
                .no_context_takeover(true)
                .max_window_bits(9),
            DeflateConfig::new()
                .request_no_context_takeover(true)
                .request_max_window_bits(8),
        ];
        let server_configs = [
            DeflateConfig::new(),
            DeflateConfig::new()
                .request_max_window_bits(10)
                .no_context_takeover(true),
        ];
        for client_config in client_configs {
            for server_config in server_configs {
                let (client, server) = (registry(client_config), registry(server_config));
                let offer = client.client_offer_header();
                let (response, mut server_pipe) =
                    server.server_negotiate(offer.as_deref()).unwrap();
                let mut client_pipe = client.client_activate(response.as_deref()).unwrap();
                assert_eq!(
                    (client_pipe.rsv(), server_pipe.rsv()),
                    (Rsv::RSV1, Rsv::RSV1)
                );
                for round in 0..3 {
                    let text = format!("message {round}: {}", "abcdefgh".repeat(200));
                    let sent = client_pipe
                        .encode(Message::new(OpCode::Text, text.clone()))
                        .unwrap();
                    assert!(sent.data.len() < text.len() / 4);
                    assert_eq!(server_pipe.decode(sent, 1 << 20).unwrap().data, text);
                    let sent = server_pipe
                        .encode(Message::new(OpCode::Binary, text.clone()))
                        .unwrap();
                    assert_eq!(client_pipe.decode(sent, 1 << 20).unwrap().data, text);
                }
            }
        }
    }

    #[test]
    fn default_client_offers_the_common_header_and_a_default_server_asks_for_window_13() {
        let extensions = registry(DeflateConfig::new());
        let offer = extensions.client_offer_header();
        assert_eq!(
            offer.as_deref(),
            Some("permessage-deflate; client_max_window_bits")
        );
        let (response, _) = extensions.server_negotiate(offer.as_deref()).unwrap();
        assert_eq!(
            response.as_deref(),
            Some("permessage-deflate; client_max_window_bits=13")
        );
        let (_, agreed) = DeflateConfig::new()
            .answer(&params("client_max_window_bits"))
            .unwrap();
        assert_eq!(terms(agreed), (false, 13, false, 13));
    }

    #[test]
    fn a_default_server_uses_window_13_unless_configured_or_asked_for_less() {
        let c = DeflateConfig::new;
        let table = [
            // A client that did not offer client_max_window_bits may use 15.
            (c(), "", "", (false, 13, false, 15)),
            (
                c(),
                "client_max_window_bits=15",
                "client_max_window_bits=13",
                (false, 13, false, 13),
            ),
            (
                c(),
                "client_max_window_bits=10",
                "client_max_window_bits=10",
                (false, 13, false, 10),
            ),
            // Our own window is announced only when the client asked for one.
            (
                c(),
                "server_max_window_bits=15",
                "server_max_window_bits=13",
                (false, 13, false, 15),
            ),
            (
                c(),
                "server_max_window_bits=9",
                "server_max_window_bits=9",
                (false, 9, false, 15),
            ),
            (
                c().max_window_bits(15).request_max_window_bits(15),
                "client_max_window_bits",
                "",
                (false, 15, false, 15),
            ),
            (
                c().request_max_window_bits(11),
                "client_max_window_bits",
                "client_max_window_bits=11",
                (false, 13, false, 11),
            ),
        ];
        for (config, offer, response, expected) in table {
            let (answer, agreed) = config.answer(&params(offer)).unwrap();
            assert_eq!(
                (answer.to_string(), terms(agreed)),
                (response.to_owned(), expected),
                "{offer}"
            );
        }
    }

    #[test]
    fn a_refused_response_fails_the_client_handshake_naming_the_params() {
        let extensions = registry(DeflateConfig::new().request_no_context_takeover(true));
        let error = extensions
            .client_activate(Some("permessage-deflate; server_max_window_bits=10"))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unacceptable parameters for extension permessage-deflate (server_max_window_bits=10): \
             server_no_context_takeover was requested but not granted"
        );
    }
}
