//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929): the client
//! side of the tunnel, as a sans-I/O exchange ([`Socks5`]) and its run over a
//! [`Transport`] (for [`tunnel`](crate::tunnel)).

use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll, ready};
use std::io;

use crate::{Error, Timer, Transport};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 0x01;
const ATYP_V4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_V6: u8 = 0x04;

/// Why a SOCKS5 proxy did not open the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocksError {
    /// The proxy accepts none of the methods offered: it wants credentials and the
    /// proxy URL has none (or it wants a method wsd does not speak).
    NoAcceptableMethod,
    /// The proxy refused the username and password.
    AuthenticationFailed,
    /// The proxy could not connect to the target: the reply code of RFC 1928
    /// section 6 (5: connection refused, 4: host unreachable, 2: not allowed, ...).
    Refused(u8),
    /// The proxy's answer is not SOCKS5.
    Malformed(&'static str),
    /// A username, password or host name longer than 255 bytes.
    TooLong(&'static str),
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAcceptableMethod => f.write_str(
                "the SOCKS5 proxy accepts none of the offered authentication methods \
                 (credentials missing?)",
            ),
            Self::AuthenticationFailed => {
                f.write_str("the SOCKS5 proxy refused the username and password")
            }
            Self::Refused(code) => write!(
                f,
                "the SOCKS5 proxy did not connect to the target: {} (reply {code})",
                reply_text(*code)
            ),
            Self::Malformed(why) => write!(f, "the SOCKS5 proxy's answer is malformed: {why}"),
            Self::TooLong(what) => write!(f, "the SOCKS5 {what} is longer than 255 bytes"),
        }
    }
}

impl std::error::Error for SocksError {}

/// RFC 1928 section 6's names for the reply codes.
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned reply code",
    }
}

/// Where the exchange is: which answer the proxy owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The method it chose.
    Method,
    /// The verdict on our credentials.
    Auth,
    /// The reply to our `CONNECT`.
    Connect,
    /// The tunnel is open.
    Open,
}

/// The client side of one SOCKS5 exchange, without I/O: write
/// [`output`](Self::output), feed what the proxy answers to
/// [`receive`](Self::receive), repeat until it says the tunnel is open.
#[derive(Debug)]
pub struct Socks5 {
    step: Step,
    output: Vec<u8>,
    credentials: Option<(Vec<u8>, Vec<u8>)>,
    connect: Vec<u8>,
}

/// What [`Socks5::receive`] made of the proxy's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks5Status {
    /// An answer is incomplete: read more.
    Partial,
    /// An answer took this many bytes; write the new output and go on.
    Next(usize),
    /// The tunnel is open after this many bytes; what follows belongs to it.
    Open(usize),
}

impl Socks5 {
    /// An exchange that asks the proxy to connect to `host:port` (the name is sent
    /// as is, so the proxy resolves it; IP literals are sent as addresses), with
    /// `credentials` (username, password) when the proxy URL has them.
    ///
    /// ```
    /// use wsd_io::{Socks5, Socks5Status};
    /// let mut socks = Socks5::new("example.com", 80, None).unwrap();
    /// assert_eq!(socks.output(), [5, 1, 0]); // version 5, one method: no auth
    /// socks.consume_output();
    /// assert_eq!(socks.receive(&[5, 0]).unwrap(), Socks5Status::Next(2));
    /// assert_eq!(socks.output()[..5], [5, 1, 0, 3, 11]); // CONNECT to a name of 11 bytes
    /// socks.consume_output();
    /// let reply = [5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90];
    /// assert_eq!(socks.receive(&reply).unwrap(), Socks5Status::Open(10));
    /// ```
    pub fn new(
        host: &str,
        port: u16,
        credentials: Option<(&str, &str)>,
    ) -> Result<Self, SocksError> {
        let mut connect = vec![VERSION, CONNECT, 0];
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                connect.push(ATYP_V4);
                connect.extend_from_slice(&ip.octets());
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                connect.push(ATYP_V6);
                connect.extend_from_slice(&ip.octets());
            }
            Err(_) => {
                connect.push(ATYP_DOMAIN);
                connect.push(short(host.as_bytes(), "host name")?);
                connect.extend_from_slice(host.as_bytes());
            }
        }
        connect.extend_from_slice(&port.to_be_bytes());
        let credentials = match credentials {
            Some((user, pass)) => {
                short(user.as_bytes(), "username")?;
                short(pass.as_bytes(), "password")?;
                Some((user.as_bytes().to_vec(), pass.as_bytes().to_vec()))
            }
            None => None,
        };
        let output = match credentials {
            Some(_) => vec![VERSION, 2, NO_AUTH, USER_PASS],
            None => vec![VERSION, 1, NO_AUTH],
        };
        Ok(Self {
            step: Step::Method,
            output,
            credentials,
            connect,
        })
    }

    /// The bytes to write to the proxy now.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Reports that the output was written.
    pub fn consume_output(&mut self) {
        self.output.clear();
    }

    /// Takes the proxy's bytes from the start of `input` (everything it sent since
    /// the last complete answer).
    pub fn receive(&mut self, input: &[u8]) -> Result<Socks5Status, SocksError> {
        let Some(len) = self.answer_len(input)? else {
            return Ok(Socks5Status::Partial);
        };
        let answer = &input[..len];
        match self.step {
            Step::Method => match answer[1] {
                NO_AUTH => self.send_connect(),
                USER_PASS => match &self.credentials {
                    Some((user, pass)) => {
                        // RFC 1929: version 1, then the two length-prefixed strings.
                        self.output.push(1);
                        self.output.push(user.len() as u8);
                        self.output.extend_from_slice(user);
                        self.output.push(pass.len() as u8);
                        self.output.extend_from_slice(pass);
                        self.step = Step::Auth;
                    }
                    None => return Err(SocksError::NoAcceptableMethod),
                },
                NO_ACCEPTABLE => return Err(SocksError::NoAcceptableMethod),
                _ => return Err(SocksError::Malformed("a method that was not offered")),
            },
            Step::Auth => match answer[1] {
                0 => self.send_connect(),
                _ => return Err(SocksError::AuthenticationFailed),
            },
            Step::Connect => match answer[1] {
                0 => {
                    self.step = Step::Open;
                    return Ok(Socks5Status::Open(len));
                }
                code => return Err(SocksError::Refused(code)),
            },
            Step::Open => return Err(SocksError::Malformed("bytes after the tunnel opened")),
        }
        Ok(Socks5Status::Next(len))
    }

    fn send_connect(&mut self) {
        self.output.extend_from_slice(&self.connect);
        self.step = Step::Connect;
    }

    /// The length of the answer the proxy owes, once enough of it is in.
    fn answer_len(&self, input: &[u8]) -> Result<Option<usize>, SocksError> {
        if input.len() < 2 {
            return Ok(None);
        }
        let version = match self.step {
            Step::Auth => 1,
            _ => VERSION,
        };
        if input[0] != version {
            return Err(SocksError::Malformed("wrong version"));
        }
        if self.step != Step::Connect {
            return Ok(Some(2));
        }
        // VER REP RSV ATYP BND.ADDR BND.PORT
        let Some(&atyp) = input.get(3) else {
            return Ok(None);
        };
        let address = match atyp {
            ATYP_V4 => 4,
            ATYP_V6 => 16,
            ATYP_DOMAIN => match input.get(4) {
                Some(&n) => 1 + usize::from(n),
                None => return Ok(None),
            },
            // A failure reply may carry no valid address; its code says enough.
            _ if input[1] != 0 => return Ok(Some(input.len())),
            _ => return Err(SocksError::Malformed("unknown address type")),
        };
        let len = 4 + address + 2;
        Ok((input.len() >= len).then_some(len))
    }
}

/// A length that fits SOCKS5's one-byte length fields.
fn short(bytes: &[u8], what: &'static str) -> Result<u8, SocksError> {
    u8::try_from(bytes.len()).map_err(|_| SocksError::TooLong(what))
}

impl Socks5 {
    /// The exchange for reaching `url` (a `ws://` or `wss://` URL) through the proxy
    /// URL `proxy`, with the username and password of its userinfo.
    pub(crate) fn for_urls(url: &str, proxy: &url::Url) -> Result<Self, Error> {
        let (host, port, _) = crate::parse_target(url)?;
        let user = percent_decode(proxy.username());
        let pass = percent_decode(proxy.password().unwrap_or_default());
        let credentials = (!user.is_empty()).then_some((user.as_str(), pass.as_str()));
        Self::new(&host, port, credentials).map_err(Error::Socks)
    }

    /// Runs the exchange on `io` (connected to the proxy) until the tunnel is open,
    /// at most until `deadline` on `timer`; returns the bytes that followed the
    /// proxy's reply (they belong to the tunnel; almost always none).
    pub(crate) async fn run<T: Transport, Z: Timer>(
        mut self,
        io: &mut T,
        timer: &mut Z,
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<u8>, Error> {
        let mut input = Vec::new();
        let mut written = 0;
        poll_fn(|cx| {
            if timer.poll_deadline(cx, deadline).is_ready() {
                return Poll::Ready(Err(Error::HandshakeTimeout));
            }
            poll_exchange(cx, io, &mut self, &mut written, &mut input)
        })
        .await
    }
}

/// Writes the exchange's output and reads the proxy's answers until the tunnel is
/// open.
fn poll_exchange<T: Transport>(
    cx: &mut Context<'_>,
    io: &mut T,
    socks: &mut Socks5,
    written: &mut usize,
    input: &mut Vec<u8>,
) -> Poll<Result<Vec<u8>, Error>> {
    loop {
        while *written < socks.output().len() {
            let n = ready!(io.poll_write(cx, &socks.output()[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(io::ErrorKind::WriteZero.into())));
            }
            *written += n;
        }
        if *written > 0 {
            ready!(io.poll_flush(cx))?;
            socks.consume_output();
            *written = 0;
        }
        match socks.receive(input).map_err(Error::Socks)? {
            Socks5Status::Next(n) => {
                input.drain(..n);
                continue;
            }
            Socks5Status::Open(n) => return Poll::Ready(Ok(input.split_off(n))),
            Socks5Status::Partial => {}
        }
        let mut chunk = [0; 512];
        let n = ready!(io.poll_read(cx, &mut chunk))?;
        if n == 0 {
            return Poll::Ready(Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the SOCKS5 proxy closed the connection before the tunnel opened",
            ))));
        }
        input.extend_from_slice(&chunk[..n]);
    }
}

/// Decodes the `%XX` escapes of a URL's userinfo (`url` keeps them encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_password_are_sent_when_the_proxy_asks_for_them() {
        let mut socks = Socks5::new("10.1.2.3", 443, Some(("user", "pw"))).unwrap();
        assert_eq!(socks.output(), [5, 2, 0, 2]);
        socks.consume_output();
        assert_eq!(socks.receive(&[5, 2]), Ok(Socks5Status::Next(2)));
        assert_eq!(
            socks.output(),
            [1, 4, b'u', b's', b'e', b'r', 2, b'p', b'w']
        );
        socks.consume_output();
        assert_eq!(socks.receive(&[1]), Ok(Socks5Status::Partial));
        assert_eq!(socks.receive(&[1, 0]), Ok(Socks5Status::Next(2)));
        assert_eq!(socks.output(), [5, 1, 0, 1, 10, 1, 2, 3, 1, 187]);
        socks.consume_output();
        // A reply with a domain address, split, then a byte of the tunnel.
        let reply = [5, 0, 0, 3, 2, b'h', b'i', 0, 80, 42];
        assert_eq!(socks.receive(&reply[..6]), Ok(Socks5Status::Partial));
        assert_eq!(socks.receive(&reply), Ok(Socks5Status::Open(9)));
    }

    #[test]
    fn refusals_say_why() {
        let mut socks = Socks5::new("::1", 80, Some(("u", "bad"))).unwrap();
        assert_eq!(socks.receive(&[5, 2]), Ok(Socks5Status::Next(2)));
        assert_eq!(
            socks.receive(&[1, 1]),
            Err(SocksError::AuthenticationFailed)
        );

        let mut socks = Socks5::new("example.com", 80, None).unwrap();
        assert_eq!(
            socks.receive(&[5, 0xff]),
            Err(SocksError::NoAcceptableMethod)
        );
        let mut socks = Socks5::new("example.com", 80, None).unwrap();
        assert_eq!(socks.receive(&[5, 2]), Err(SocksError::NoAcceptableMethod));

        let mut socks = Socks5::new("[::1]", 80, None).unwrap();
        socks.consume_output();
        assert_eq!(socks.receive(&[5, 0]), Ok(Socks5Status::Next(2)));
        assert_eq!(socks.output()[3], ATYP_V6);
        let refused = [5, 5, 0, 1, 0, 0, 0, 0, 0, 0];
        let error = socks.receive(&refused).unwrap_err();
        assert_eq!(error, SocksError::Refused(5));
        assert!(error.to_string().contains("connection refused"), "{error}");

        let mut socks = Socks5::new("example.com", 80, None).unwrap();
        assert!(matches!(
            socks.receive(&[4, 0]),
            Err(SocksError::Malformed(_))
        ));
        assert!(matches!(
            Socks5::new(&"x".repeat(256), 80, None),
            Err(SocksError::TooLong("host name"))
        ));
    }

    /// Feeds `answers` as a proxy would send them, in chunks of `chunk` bytes, writing
    /// the output in between; returns how the exchange ended.
    fn run(answers: &[u8], chunk: usize) -> Result<Option<usize>, SocksError> {
        let mut socks = Socks5::new("example.com", 443, Some(("u", "p")))?;
        let mut input = Vec::new();
        for piece in answers.chunks(chunk.max(1)) {
            socks.consume_output();
            input.extend_from_slice(piece);
            loop {
                match socks.receive(&input)? {
                    Socks5Status::Partial => break,
                    Socks5Status::Next(n) => drop(input.drain(..n)),
                    Socks5Status::Open(n) => return Ok(Some(input.len() - n)),
                }
            }
        }
        Ok(None)
    }

    proptest::proptest! {
        #[test]
        fn any_answer_in_any_chunks_is_handled_without_panicking(
            answers in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            chunk in 1usize..8,
        ) {
            let _ = run(&answers, chunk);
        }

        #[test]
        fn a_valid_transcript_opens_the_tunnel_at_every_split(chunk in 1usize..20) {
            // Method user/pass, auth ok, CONNECT ok with a domain address, then two
            // bytes of the tunnel: as many of them as came with the reply's last
            // chunk are left over for the tunnel.
            let answers = [5, 2, 1, 0, 5, 0, 0, 3, 3, b'a', b'b', b'c', 1, 187, 7, 7];
            let reply_end = answers.len() - 2;
            let with_reply = (reply_end.div_ceil(chunk) * chunk).min(answers.len()) - reply_end;
            proptest::prop_assert_eq!(run(&answers, chunk), Ok(Some(with_reply)));
        }
    }

    #[test]
    fn userinfo_escapes_are_decoded() {
        assert_eq!(percent_decode("p%40ss%3Aword"), "p@ss:word");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
