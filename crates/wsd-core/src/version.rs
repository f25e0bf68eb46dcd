//! [`Version`]: the WebSocket protocol a connection speaks.

use std::fmt;

/// The WebSocket protocol a connection speaks: RFC 6455, or one of the two legacy
/// drafts a server accepts with [`Options::allow_drafts`](crate::Options::allow_drafts).
///
/// `websocket-driver` (Node) reports the version as a string; [`as_str`](Self::as_str)
/// gives the same strings, for code that logs or compares them.
///
/// ```
/// use wsd_core::{Connection, Options, Version};
///
/// let server = Connection::server(Options::default());
/// assert_eq!(server.version(), Version::Rfc6455);
/// assert_eq!(server.version().as_str(), "hybi-13");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 6455, the WebSocket protocol (`Sec-WebSocket-Version: 13`). Every client
    /// speaks it, and so does a server unless it accepted a legacy draft.
    Rfc6455,
    /// draft-hixie-thewebsocketprotocol-76: the key challenge, text frames only, and
    /// the `0xFF 0x00` closing handshake.
    Hixie76,
    /// draft-hixie-thewebsocketprotocol-75: no key challenge, text frames only, no
    /// closing handshake.
    Hixie75,
}

impl Version {
    /// `websocket-driver`'s (Node) name for the version: `"hybi-13"`, `"hixie-76"` or
    /// `"hixie-75"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rfc6455 => "hybi-13",
            Self::Hixie76 => "hixie-76",
            Self::Hixie75 => "hixie-75",
        }
    }

    /// True for the legacy drafts, which have no binary messages, pings or pongs.
    pub const fn is_draft(self) -> bool {
        !matches!(self, Self::Rfc6455)
    }
}

/// Writes [`as_str`](Version::as_str).
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_websocket_driver_s_strings() {
        let names = [
            (Version::Rfc6455, "hybi-13", false),
            (Version::Hixie76, "hixie-76", true),
            (Version::Hixie75, "hixie-75", true),
        ];
        for (version, name, draft) in names {
            assert_eq!(version.as_str(), name);
            assert_eq!(version.to_string(), name);
            assert_eq!(version.is_draft(), draft);
        }
    }
}
