//! The rules the HTTP/1.1 upgrade (RFC 6455 §4) and the extended `CONNECT` (RFC 8441 §5) share: the
//! protocol version, the subprotocol and the opaque extension header, on both sides.
//!
//! Each handshake applies its own checks (method, `Upgrade`, key, pseudo-headers) and then calls these,
//! so a rule about subprotocols or extensions is written once.

use std::borrow::Cow;

use crate::client::{ClientOptions, Negotiated};
use crate::error::{Error, HeaderError, RequestError, ResponseError};
use crate::headers::{Headers, is_safe_value, trim_ows};
use crate::server::VERSION;

/// Server side: `Sec-WebSocket-Version` must be exactly `13` (RFC 6455 §4.2.1 item 6).
pub(crate) fn check_version(headers: &Headers) -> Result<(), RequestError> {
    match headers.get("Sec-WebSocket-Version") {
        Some(v) if trim_ows(&v) == VERSION => Ok(()),
        v => Err(RequestError::UnsupportedVersion(v.map(|v| v.into_owned()))),
    }
}

/// Server side: the subprotocol to answer with and the raw extension offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selection {
    /// The first protocol in the client's `Sec-WebSocket-Protocol` list (client order wins, as in
    /// `websocket-driver` (Node)) that is also in the server's list, compared case-sensitively.
    pub(crate) protocol: Option<String>,
    /// Every `Sec-WebSocket-Extensions` header, joined with `", "`.
    pub(crate) extensions_offer: Option<String>,
}

pub(crate) fn select<S: AsRef<str>>(headers: &Headers, protocols: &[S]) -> Selection {
    Selection {
        protocol: headers
            .tokens("Sec-WebSocket-Protocol")
            .find(|offered| protocols.iter().any(|p| p.as_ref() == *offered))
            .map(str::to_owned),
        extensions_offer: headers
            .get("Sec-WebSocket-Extensions")
            .map(|e| e.into_owned()),
    }
}

/// The extension response as it goes out: trimmed, and absent when empty.
pub(crate) fn extensions_answer(extensions: Option<&str>) -> Option<String> {
    extensions
        .map(trim_ows)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
}

/// Server side: the answer's `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions`, each only
/// when present.
pub(crate) fn answer_headers<'a>(
    protocol: Option<&'a str>,
    extensions: Option<&'a str>,
) -> impl Iterator<Item = (&'static str, &'a str)> {
    let protocol = protocol.map(|p| ("Sec-WebSocket-Protocol", p));
    let extensions = extensions.map(|e| ("Sec-WebSocket-Extensions", e));
    protocol.into_iter().chain(extensions)
}

/// Fails on the first value that cannot go on a header line, naming its header.
pub(crate) fn check_values<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), Error> {
    match headers.into_iter().find(|(_, v)| !is_safe_value(v)) {
        Some((name, value)) => Err(HeaderError::InvalidValue {
            name: name.to_owned(),
            value: value.to_owned(),
        }
        .into()),
        None => Ok(()),
    }
}

/// Client side: the response's subprotocol must be one we offered (RFC 6455 §4.1 item 6); the
/// extension response is passed on raw, for the extensions layer to activate.
pub(crate) fn check_answer(
    headers: &Headers,
    offered: &[String],
) -> Result<Negotiated, ResponseError> {
    let protocol = headers
        .get("Sec-WebSocket-Protocol")
        .map(|p| trim_ows(&p).to_owned())
        .filter(|p| !p.is_empty());
    if let Some(p) = &protocol {
        if !offered.contains(p) {
            return Err(ResponseError::UnexpectedProtocol(p.clone()));
        }
    }
    Ok(Negotiated {
        protocol,
        extensions: headers
            .get("Sec-WebSocket-Extensions")
            .map(|e| e.into_owned())
            .filter(|e| !e.is_empty()),
    })
}

/// Client side: the request headers after the transport-specific ones, in `websocket-driver`
/// (Node)'s order: `Sec-WebSocket-Version`, `Sec-WebSocket-Protocol` (if any), `Origin` (if set),
/// `Authorization` (if the URL has userinfo), the custom headers, `Sec-WebSocket-Extensions` (if
/// offered).
///
/// A custom header is skipped when its name is in `skip` (the transport's own headers), is one of the
/// headers above, or is `Origin` / `Authorization` while the handshake sets that header itself: a
/// custom header cannot break the handshake.
pub(crate) fn offer_headers<'a>(
    options: &'a ClientOptions,
    authorization: Option<&'a str>,
    skip: &[&str],
) -> Vec<(&'a str, Cow<'a, str>)> {
    let mut out = vec![("Sec-WebSocket-Version", Cow::Borrowed(VERSION))];
    if !options.protocols.is_empty() {
        out.push((
            "Sec-WebSocket-Protocol",
            Cow::Owned(options.protocols.join(", ")),
        ));
    }
    let mut skip = [skip, &OFFER_HEADERS].concat();
    if let Some(origin) = &options.origin {
        out.push(("Origin", Cow::Borrowed(origin.as_str())));
        skip.push("Origin");
    }
    if let Some(auth) = authorization {
        out.push(("Authorization", Cow::Borrowed(auth)));
        skip.push("Authorization");
    }
    out.extend(
        options
            .headers
            .iter()
            .filter(|(name, _)| !skip.iter().any(|s| s.eq_ignore_ascii_case(name)))
            .map(|(name, value)| (name, Cow::Borrowed(value))),
    );
    if let Some(ext) = options.extensions.as_deref().filter(|e| !e.is_empty()) {
        out.push(("Sec-WebSocket-Extensions", Cow::Borrowed(ext)));
    }
    out
}

/// The headers [`offer_headers`] writes itself, which a custom header may not replace.
const OFFER_HEADERS: [&str; 3] = [
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
];
