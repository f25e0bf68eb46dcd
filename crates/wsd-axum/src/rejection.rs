//! [`WebSocketUpgradeRejection`]: why a request is not a WebSocket upgrade.

use core::fmt;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{StatusCode, Version};
use wsd_core::Rejection;

/// Why [`WebSocketUpgrade`](crate::WebSocketUpgrade) could not be extracted; as a
/// response, the status and plain-text body axum users expect.
///
/// ```
/// use axum::response::IntoResponse;
/// use wsd_axum::WebSocketUpgradeRejection;
///
/// let rejection = WebSocketUpgradeRejection::MethodNotGet;
/// assert_eq!(rejection.status(), http::StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(rejection.body_text(), "Request method must be `GET`");
/// assert_eq!(rejection.into_response().status(), 405);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebSocketUpgradeRejection {
    /// The method is not `GET`: 405, as axum answers.
    MethodNotGet,
    /// The request breaks a rule of RFC 6455's opening handshake: 400, or 426 with
    /// `Sec-WebSocket-Version: 13` for a version we do not speak. The refusal says
    /// which rule.
    InvalidRequest(Rejection),
    /// The request is valid, but hyper cannot hand its connection over (it was not
    /// read by hyper's HTTP/1.1 server): 426, as axum answers.
    ConnectionNotUpgradable,
}

impl WebSocketUpgradeRejection {
    /// The response's status.
    ///
    /// ```
    /// let rejection = wsd_axum::WebSocketUpgradeRejection::ConnectionNotUpgradable;
    /// assert_eq!(rejection.status(), http::StatusCode::UPGRADE_REQUIRED);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidRequest(rejection) => {
                StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::ConnectionNotUpgradable => StatusCode::UPGRADE_REQUIRED,
        }
    }

    /// The response's plain-text body.
    ///
    /// ```
    /// use wsd_axum::WebSocketUpgradeRejection;
    /// use wsd_core::Rejection;
    ///
    /// let rejection = WebSocketUpgradeRejection::InvalidRequest(Rejection::bad_request("no key"));
    /// assert_eq!(rejection.body_text(), "no key");
    /// ```
    pub fn body_text(&self) -> String {
        match self {
            // axum's texts for the two cases it shares with us.
            Self::MethodNotGet => "Request method must be `GET`".to_owned(),
            Self::InvalidRequest(rejection) => rejection.message.clone(),
            Self::ConnectionNotUpgradable => {
                "WebSocket request couldn't be upgraded since no upgrade state was present"
                    .to_owned()
            }
        }
    }
}

impl IntoResponse for WebSocketUpgradeRejection {
    fn into_response(self) -> Response {
        let body = Body::from(self.body_text());
        match self {
            // The refusal's own headers: text/plain, and the version for a 426.
            Self::InvalidRequest(rejection) => {
                rejection.to_http_response(Version::HTTP_11).map(|()| body)
            }
            Self::MethodNotGet | Self::ConnectionNotUpgradable => {
                let plain = [(CONTENT_TYPE, "text/plain; charset=utf-8")];
                (self.status(), plain, body).into_response()
            }
        }
    }
}

impl fmt::Display for WebSocketUpgradeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.body_text())
    }
}

impl std::error::Error for WebSocketUpgradeRejection {}
