//! [`WebSocketUpgrade`]: the extractor, its options, and the upgrade.

use core::fmt;
use core::future::Future;
use std::borrow::Cow;
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, Method};
use hyper::upgrade::OnUpgrade;
use wsd_core::{Options, Request};
use wsd_handshake::server;
use wsd_hyper::{Config, PerMessageDeflate};

use crate::{UpgradeError, WebSocket, WebSocketUpgradeRejection};

/// Extractor for a WebSocket request: configure the WebSocket, then answer with
/// [`on_upgrade`](Self::on_upgrade), whose response the handler returns.
///
/// Extraction checks the request against RFC 6455 and fails with a
/// [`WebSocketUpgradeRejection`] (405 for a method other than `GET`, 400 or 426 for
/// a request that is not a valid upgrade). Route it with `any` or `get`.
///
/// ```
/// use axum::{Router, response::Response, routing::any};
/// use wsd_axum::{WebSocket, WebSocketUpgrade};
///
/// async fn handler(ws: WebSocketUpgrade) -> Response {
///     ws.protocols(["graphql-ws", "graphql-transport-ws"])
///         .max_message_size(1 << 20)
///         .on_upgrade(|socket: WebSocket| async move {
///             // ...
///         })
/// }
///
/// let app: Router = Router::new().route("/ws", any(handler));
/// ```
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    /// The request, for the negotiation in `on_upgrade`.
    request: Request,
    on_upgrade: OnUpgrade,
    config: Config,
    /// The subprotocols the client offered, in its order.
    requested: Vec<HeaderValue>,
    /// What the 101 will carry, for `selected_protocol`.
    selected: Option<HeaderValue>,
    on_failed_upgrade: F,
}

impl<F> fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", &self.request)
            .field("config", &self.config)
            .field("requested", &self.requested)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl<F> WebSocketUpgrade<F> {
    /// The subprotocols to accept. The 101 carries the first protocol the client
    /// offered (in the client's order) that is in this list, if any;
    /// [`selected_protocol`](Self::selected_protocol) tells which.
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.protocols(["graphql-ws", "graphql-transport-ws"]);
    /// if ws.selected_protocol().is_none() {
    ///     // the client offered neither
    /// }
    /// # }
    /// ```
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Cow<'static, str>>,
    {
        let protocols = protocols.into_iter().map(|p| p.into().into_owned());
        self.config.options.protocols = protocols.collect();
        self.selected = self.negotiated_protocol();
        self
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol: soap, wamp`
    /// gives `soap`, then `wamp`).
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let offered: Vec<&str> = ws.requested_protocols().filter_map(|p| p.to_str().ok()).collect();
    /// # }
    /// ```
    pub fn requested_protocols(&self) -> impl Iterator<Item = &HeaderValue> {
        self.requested.iter()
    }

    /// Chooses the subprotocol: the 101 carries `protocol` if the client offered it
    /// (RFC 6455 lets a server answer only with an offered one; axum sends it
    /// regardless). Replaces what [`protocols`](Self::protocols) set.
    ///
    /// ```
    /// # fn run(mut ws: wsd_axum::WebSocketUpgrade) {
    /// let first = ws.requested_protocols().next().cloned();
    /// if let Some(first) = first {
    ///     ws.set_selected_protocol(first);
    /// }
    /// # }
    /// ```
    pub fn set_selected_protocol(&mut self, protocol: HeaderValue) {
        let protocol = String::from_utf8_lossy(protocol.as_bytes()).into_owned();
        self.config.options.protocols = vec![protocol];
        self.selected = self.negotiated_protocol();
    }

    /// The subprotocol the 101 will carry, if one was chosen.
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.protocols(["chat"]);
    /// let chat = ws.selected_protocol().is_some_and(|p| p == "chat");
    /// # }
    /// ```
    pub fn selected_protocol(&self) -> Option<&HeaderValue> {
        self.selected.as_ref()
    }

    /// The protocol the negotiation will choose, by the code the 101 is built with.
    fn negotiated_protocol(&self) -> Option<HeaderValue> {
        let accepted = server::negotiate(&self.request, &self.config.options.protocols).ok()?;
        HeaderValue::from_str(&accepted.protocol?).ok()
    }

    /// The size of each read (64 KiB by default; more while a large frame arrives).
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.read_buffer_size(16 * 1024);
    /// # }
    /// ```
    pub fn read_buffer_size(mut self, size: usize) -> Self {
        self.config.io.read_buffer_size = size;
        self
    }

    /// Queued output above this size is written at once rather than batched (64 KiB
    /// by default); `flush` always writes everything.
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.write_buffer_size(0); // write each message at once
    /// # }
    /// ```
    pub fn write_buffer_size(mut self, size: usize) -> Self {
        self.config.io.write_buffer_size = size;
        self
    }

    /// Sending waits while more than this many bytes wait to be written (256 KiB by
    /// default): backpressure when the client reads slowly.
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.max_write_buffer_size(1 << 20);
    /// # }
    /// ```
    pub fn max_write_buffer_size(mut self, max: usize) -> Self {
        self.config.io.max_write_buffer_size = max;
        self
    }

    /// The largest message accepted (2^26 - 1 bytes by default, one byte short of
    /// 64 MiB): a bigger one, or a bigger frame, closes the connection with 1009,
    /// detected from the frame header before the payload is read.
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.max_message_size(64 * 1024);
    /// # }
    /// ```
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.config.options.max_length = max;
        self
    }

    /// Accepts frames the client did not mask (off by default: RFC 6455 requires
    /// clients to mask).
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.accept_unmasked_frames(true);
    /// # }
    /// ```
    pub fn accept_unmasked_frames(mut self, accept: bool) -> Self {
        self.config.options.require_masking = !accept;
        self
    }

    /// Negotiates permessage-deflate (RFC 7692) with these settings, when the client
    /// offers it.
    ///
    /// ```
    /// use wsd_axum::PerMessageDeflate;
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.deflate(PerMessageDeflate::new());
    /// # }
    /// ```
    pub fn deflate(mut self, deflate: PerMessageDeflate) -> Self {
        self.config = self.config.deflate(deflate);
        self
    }

    /// How long to wait for the client's close frame after sending ours (10 s by
    /// default); then the connection closes with 1006. `None` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let ws = ws.close_timeout(Duration::from_secs(2));
    /// # }
    /// ```
    pub fn close_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config = self.config.close_timeout(timeout);
        self
    }

    /// Replaces every connection option at once (extensions, custom 101 headers,
    /// limits, ...), keeping the subprotocols unless `options` names some.
    ///
    /// ```
    /// # fn run(ws: wsd_axum::WebSocketUpgrade) {
    /// let mut options = wsd_axum::Options::default();
    /// options.headers.push(("X-Served-By".into(), "wsd".into()));
    /// let ws = ws.options(options);
    /// # }
    /// ```
    pub fn options(mut self, mut options: Options) -> Self {
        if options.protocols.is_empty() {
            options.protocols = std::mem::take(&mut self.config.options.protocols);
        }
        self.config.options = options;
        self.selected = self.negotiated_protocol();
        self
    }

    /// Calls `callback` if the upgrade fails after the response was returned
    /// (hyper could not hand the connection over), or if the response is an error
    /// because the options could not be used. By default such failures are ignored.
    ///
    /// ```
    /// use axum::response::Response;
    /// use wsd_axum::WebSocketUpgrade;
    ///
    /// async fn handler(ws: WebSocketUpgrade) -> Response {
    ///     ws.on_failed_upgrade(|error| eprintln!("upgrade failed: {error}"))
    ///         .on_upgrade(|socket| async { drop(socket) })
    /// }
    /// ```
    pub fn on_failed_upgrade<C: OnFailedUpgrade>(self, callback: C) -> WebSocketUpgrade<C> {
        WebSocketUpgrade {
            request: self.request,
            on_upgrade: self.on_upgrade,
            config: self.config,
            requested: self.requested,
            selected: self.selected,
            on_failed_upgrade: callback,
        }
    }

    /// Answers the request: returns the `101 Switching Protocols` response for the
    /// handler to return, and once hyper has sent it, calls `callback` with the
    /// [`WebSocket`] on a task of its own.
    ///
    /// Should the negotiation fail at this point (the options cannot be used), the
    /// response is the error's answer, and the
    /// [`on_failed_upgrade`](Self::on_failed_upgrade) callback is called.
    ///
    /// ```
    /// use axum::response::Response;
    /// use wsd_axum::{Message, WebSocketUpgrade};
    ///
    /// async fn handler(ws: WebSocketUpgrade) -> Response {
    ///     ws.on_upgrade(|mut socket| async move {
    ///         let _ = socket.send(Message::text("welcome")).await;
    ///     })
    /// }
    /// ```
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        let on_failed_upgrade = self.on_failed_upgrade;
        match wsd_hyper::accept(self.request, Some(self.on_upgrade), self.config) {
            Ok((response, websocket)) => {
                tokio::spawn(async move {
                    match websocket.await {
                        Ok(ws) => callback(WebSocket::new(ws)).await,
                        Err(error) => on_failed_upgrade.call(error),
                    }
                });
                response.map(|()| Body::empty())
            }
            Err(error) => {
                let response = error.to_response().map(Body::new);
                on_failed_upgrade.call(error);
                response
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade> {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if parts.method != Method::GET {
            return Err(WebSocketUpgradeRejection::MethodNotGet);
        }
        let invalid = WebSocketUpgradeRejection::InvalidRequest;
        let request = Request::try_from(&*parts).map_err(|e| invalid(e.into()))?;
        // Every rule is checked here, so a handler runs only for a valid request;
        // `on_upgrade` negotiates again with the protocols and extensions set since.
        server::negotiate::<&str>(&request, &[]).map_err(invalid)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(WebSocketUpgradeRejection::ConnectionNotUpgradable)?;
        let requested = request
            .headers
            .tokens("Sec-WebSocket-Protocol")
            .filter_map(|p| HeaderValue::from_str(p).ok())
            .collect();
        Ok(Self {
            request,
            on_upgrade,
            config: Config::default(),
            requested,
            selected: None,
            on_failed_upgrade: DefaultOnFailedUpgrade,
        })
    }
}

/// What to do when an upgrade fails (see
/// [`WebSocketUpgrade::on_failed_upgrade`]); any `FnOnce(UpgradeError)` is one.
///
/// ```
/// use wsd_axum::{OnFailedUpgrade, UpgradeError};
///
/// struct Log;
/// impl OnFailedUpgrade for Log {
///     fn call(self, error: UpgradeError) {
///         eprintln!("WebSocket upgrade failed: {error}");
///     }
/// }
/// ```
pub trait OnFailedUpgrade: Send + 'static {
    /// Handles the failure.
    fn call(self, error: UpgradeError);
}

impl<F: FnOnce(UpgradeError) + Send + 'static> OnFailedUpgrade for F {
    fn call(self, error: UpgradeError) {
        self(error);
    }
}

/// The default [`OnFailedUpgrade`]: ignores the failure.
///
/// ```
/// use wsd_axum::{DefaultOnFailedUpgrade, OnFailedUpgrade, UpgradeError};
///
/// DefaultOnFailedUpgrade.call(UpgradeError::NotUpgradable);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultOnFailedUpgrade;

impl OnFailedUpgrade for DefaultOnFailedUpgrade {
    fn call(self, _error: UpgradeError) {}
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    /// The parts of a request with these method, version and headers.
    fn parts(method: Method, version: http::Version, headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder()
            .method(method)
            .version(version)
            .uri("/ws");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    const VALID: [(&str, &str); 5] = [
        ("host", "example.com"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];

    async fn extract(mut parts: Parts) -> Result<WebSocketUpgrade, WebSocketUpgradeRejection> {
        WebSocketUpgrade::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn extraction_refuses_other_methods_with_405() {
        let post = parts(Method::POST, http::Version::HTTP_11, &VALID);
        let rejection = extract(post).await.unwrap_err();
        assert_eq!(rejection, WebSocketUpgradeRejection::MethodNotGet);
        assert_eq!(rejection.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn extraction_checks_every_rule_of_the_handshake() {
        let mut no_key = VALID.to_vec();
        no_key.retain(|(name, _)| *name != "sec-websocket-key");
        let rejection = extract(parts(Method::GET, http::Version::HTTP_11, &no_key))
            .await
            .unwrap_err();
        assert_eq!(rejection.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            rejection.body_text(),
            "Missing handshake request header: Sec-WebSocket-Key"
        );

        let mut short_key = VALID.to_vec();
        short_key[3].1 = "c2hvcnQ=";
        let rejection = extract(parts(Method::GET, http::Version::HTTP_11, &short_key))
            .await
            .unwrap_err();
        assert_eq!(rejection.status(), StatusCode::BAD_REQUEST);

        let mut old = VALID.to_vec();
        old[4].1 = "8";
        let rejection = extract(parts(Method::GET, http::Version::HTTP_11, &old))
            .await
            .unwrap_err();
        assert_eq!(rejection.status(), StatusCode::UPGRADE_REQUIRED);
        let response = axum::response::IntoResponse::into_response(rejection);
        assert_eq!(response.headers()["sec-websocket-version"], "13");

        let http10 = parts(Method::GET, http::Version::HTTP_10, &VALID);
        let rejection = extract(http10).await.unwrap_err();
        assert_eq!(rejection.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_valid_request_hyper_did_not_read_is_not_upgradable() {
        let rejection = extract(parts(Method::GET, http::Version::HTTP_11, &VALID))
            .await
            .unwrap_err();
        assert_eq!(
            rejection,
            WebSocketUpgradeRejection::ConnectionNotUpgradable
        );
        assert_eq!(rejection.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(
            rejection.to_string(),
            "WebSocket request couldn't be upgraded since no upgrade state was present"
        );
    }
}
