//! Helpers shared by the fuzz targets in `fuzz_targets/`, and the seed inputs that
//! `examples/seeds.rs` writes to `seeds/<target>/`.
//!
//! Byte-oriented targets read their input as a short header (configuration and a split
//! seed, through [`Reader`]) followed by the wire bytes, so that a seed is a few header
//! bytes plus a real request, frame stream or extension header, and libFuzzer's
//! mutations of the wire part stay meaningful. [`Writer`] is the inverse of
//! [`Reader`], used to build those seeds. Structured targets (`frame_roundtrip`,
//! `driver_pair`) use `arbitrary` instead.
//!
//! Splits come from a seeded [`Rng`] rather than from the input bytes directly, so
//! the same data is tried under many different splits as the seed mutates.

pub mod driver;
pub mod rfc6455;
pub mod seeds;

/// Reads a fuzz input front to back. Never fails: past the end every number reads as
/// zero and every byte string as empty, so each input is a valid case.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte, or 0.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        let mut word = [0u8; 8];
        for b in &mut word {
            *b = self.u8();
        }
        u64::from_le_bytes(word)
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Builds inputs that [`Reader`] reads back field by field (for seeds).
#[derive(Debug, Default, Clone)]
pub struct Writer {
    /// The bytes written so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a byte.
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, value: u16) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Appends a little-endian `u64`.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Appends raw bytes.
    pub fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(data);
        self
    }

    /// The finished input.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

/// splitmix64: tiny, seedable, and good enough to pick split points.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// The length of the next chunk of a split: mostly single bytes and short runs
    /// (where incremental parsers keep state across calls), sometimes long runs.
    pub fn chunk_len(&mut self) -> usize {
        match self.below(8) {
            0..=2 => 1,
            3..=5 => 1 + self.below(16),
            6 => 1 + self.below(256),
            _ => 1 + self.below(8192),
        }
    }
}

/// `data` cut into consecutive non-empty chunks chosen by `seed`.
pub fn split(data: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut rng = Rng::new(seed);
    let mut chunks = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rng.chunk_len().min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// A `max_length` for a decoder from one selector byte: small values (where the
/// limit is hit often), the boundaries around the 7- and 16-bit length encodings,
/// and the defaults.
pub fn max_length(selector: u8, default: u64) -> u64 {
    match selector {
        0..=199 => u64::from(selector) * 3,
        200..=209 => 125,
        210..=219 => 126,
        220..=229 => 65535,
        230..=239 => 65536,
        240..=244 => u64::MAX,
        _ => default,
    }
}

/// Limits for an HTTP head parser from two selector bytes: 0 keeps each default,
/// other values make the limits small enough to be hit.
pub fn limits(head: u8, headers: u8) -> wsd_handshake::Limits {
    let mut limits = wsd_handshake::Limits::default();
    if head != 0 {
        limits.max_head_bytes = usize::from(head) * 16;
    }
    if headers != 0 {
        limits.max_headers = usize::from(headers % 32);
    }
    limits
}

/// The every-prefix property of an incremental head parser: a prefix of a complete
/// head is `Partial`, a prefix of anything else is `Partial` or the same error, and
/// any input that holds the whole head gives the same head. Checks every prefix of
/// short inputs and a sample of prefixes of long ones.
pub fn check_head_prefixes<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    seed: u64,
    parse: impl Fn(&[u8]) -> Result<wsd_handshake::Status<(T, usize)>, wsd_handshake::Error>,
) {
    use wsd_handshake::Status;
    let whole = parse(data);
    let mut cuts: Vec<usize> = if data.len() <= 512 {
        (0..data.len()).collect()
    } else {
        let mut rng = Rng::new(seed);
        (0..32).map(|_| rng.below(data.len())).collect()
    };
    if let Ok(Status::Complete((_, n))) = &whole {
        cuts.extend(
            [n.saturating_sub(1), *n, n + 1]
                .into_iter()
                .filter(|&c| c <= data.len()),
        );
    }
    for cut in cuts {
        let prefix = parse(&data[..cut]);
        match (&whole, &prefix) {
            (Ok(Status::Complete((_, n))), Ok(Status::Partial)) => {
                assert!(cut < *n, "{cut} bytes of a {n}-byte head: Partial");
            }
            (Ok(Status::Complete((head, n))), Ok(Status::Complete((h, m)))) => {
                assert!(cut >= *n && h == head && m == n, "prefix {cut}: {prefix:?}");
            }
            (Ok(Status::Partial), Ok(Status::Partial)) | (Err(_), Ok(Status::Partial)) => {}
            (Err(e), Err(p)) => assert_eq!(e, p, "prefix {cut} fails differently"),
            _ => panic!("prefix {cut}: {prefix:?}; whole input: {whole:?}"),
        }
    }
}
