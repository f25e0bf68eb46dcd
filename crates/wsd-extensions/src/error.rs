//! The errors of negotiation, registration and message processing.

use std::fmt;

use wsd_frame::{CloseCode, Rsv};

use crate::header::{HeaderError, Params};

/// Why the extension handshake failed. Each case says which extension is at fault;
/// the driver fails the opening handshake with it (a client closes the connection, a
/// server answers 400 for a malformed offer header).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The `Sec-WebSocket-Extensions` header does not follow the grammar.
    InvalidHeader(HeaderError),
    /// The server's response names an extension the client did not offer.
    UnknownExtension {
        /// The name in the response.
        name: String,
    },
    /// The server's response answers the same extension twice.
    DuplicateResponse {
        /// The repeated name.
        name: String,
    },
    /// Two extensions in the server's response claim the same RSV bit.
    RsvConflict {
        /// The bits both claim.
        bits: Rsv,
        /// The extension that took them first (response order).
        first: String,
        /// The later one.
        second: String,
    },
    /// An extension refused the parameters offered (server) or answered (client).
    Rejected {
        /// The extension.
        extension: String,
        /// The parameters it refused, as they would be written in the header.
        params: String,
        /// Why.
        reason: String,
    },
}

impl NegotiationError {
    /// The error an [`Extension`](crate::Extension) returns to refuse `params`.
    ///
    /// ```
    /// # use wsd_extensions::{NegotiationError, Params};
    /// let error = NegotiationError::rejected("x-demo", &Params::new().with_value("level", "99"), "level must be 0-9");
    /// assert_eq!(error.to_string(), "unacceptable parameters for extension x-demo (level=99): level must be 0-9");
    /// ```
    pub fn rejected(extension: &str, params: &Params, reason: impl Into<String>) -> Self {
        Self::Rejected {
            extension: extension.into(),
            params: params.to_string(),
            reason: reason.into(),
        }
    }
}

/// The texts of the client's failures are `websocket-driver`'s (Node), which took them
/// from websocket-extensions: `Server sent an extension response for unknown extension
/// "x"`, `Server sent two extension responses that use the RSV1 bit: "a" and "b"`.
impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHeader(error) => error.fmt(f),
            Self::UnknownExtension { name } => write!(
                f,
                "Server sent an extension response for unknown extension \"{name}\""
            ),
            Self::DuplicateResponse { name } => {
                write!(f, "Server sent two extension responses for \"{name}\"")
            }
            Self::RsvConflict {
                bits,
                first,
                second,
            } => {
                let plural = if bits.bits().count_ones() > 1 {
                    "s"
                } else {
                    ""
                };
                write!(
                    f,
                    "Server sent two extension responses that use the {bits} bit{plural}: \
                     \"{first}\" and \"{second}\""
                )
            }
            Self::Rejected {
                extension,
                params,
                reason,
            } => {
                write!(
                    f,
                    "unacceptable parameters for extension {extension} ({params}): {reason}"
                )
            }
        }
    }
}

impl std::error::Error for NegotiationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // `InvalidHeader` shows the header error's own text, so the chain goes on
        // from that error's source rather than repeating it.
        match self {
            Self::InvalidHeader(error) => error.source(),
            _ => None,
        }
    }
}

impl From<HeaderError> for NegotiationError {
    fn from(error: HeaderError) -> Self {
        Self::InvalidHeader(error)
    }
}

/// Why [`Extensions::add`](crate::Extensions::add) refused an extension: a mistake in
/// the application's setup, never the peer's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// An extension with this name is already registered.
    DuplicateName(String),
    /// The name is not an RFC 7230 token, so it cannot appear in the header.
    InvalidName(String),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateName(name) => {
                write!(f, "an extension named {name:?} is already registered")
            }
            Self::InvalidName(name) => write!(f, "extension name {name:?} is not a token"),
        }
    }
}

impl std::error::Error for RegistryError {}

/// An extension failed to process a message: the connection fails with
/// [`ExtensionError::close_code`]. Corrupt data from the peer is 1007, output over
/// the size limit 1009, a failure of our own 1011.
///
/// ```
/// # use wsd_extensions::ExtensionError;
/// # use wsd_frame::CloseCode;
/// let error = ExtensionError::invalid_data("invalid block type");
/// assert_eq!(error.close_code(), CloseCode::INVALID_PAYLOAD);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionError {
    code: CloseCode,
    extension: Option<String>,
    message: String,
}

impl ExtensionError {
    /// An error that closes the connection with `code`.
    pub fn new(code: CloseCode, message: impl Into<String>) -> Self {
        Self {
            code,
            extension: None,
            message: message.into(),
        }
    }

    /// The peer sent data the extension cannot decode (1007).
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(CloseCode::INVALID_PAYLOAD, message)
    }

    /// The decoded message would exceed the size limit (1009).
    pub fn too_big(message: impl Into<String>) -> Self {
        Self::new(CloseCode::MESSAGE_TOO_BIG, message)
    }

    /// The extension failed for reasons of its own (1011).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(CloseCode::INTERNAL_ERROR, message)
    }

    /// The close code to fail the connection with.
    pub const fn close_code(&self) -> CloseCode {
        self.code
    }

    /// The extension that failed, once the [`Pipeline`](crate::Pipeline) has named it.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// The message without the extension name.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Names the extension, unless a name is already there.
    pub(crate) fn in_extension(mut self, name: &str) -> Self {
        if self.extension.is_none() {
            self.extension = Some(name.into());
        }
        self
    }
}

/// `<extension>: <message>`, `websocket-driver`'s (Node) format for close reasons.
impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.extension {
            Some(name) => write!(f, "{name}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ExtensionError {}
