//! The ceiling: the least an echo server can do per wake-up, for comparison only.
//! One read, then for every complete frame in the buffer: unmask the payload in
//! place, write an unmasked header right before it and slide the frame down next to
//! the previous one; then one write of all of them. No validation at all (no UTF-8
//! check, no control-frame rules, no limits beyond memory): a close frame is echoed
//! and ends the connection, everything else is echoed as it came.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The read size, like the other servers' (64 KiB).
const READ: usize = 64 << 10;

fn main() {
    wsd_peers::serve(|mut stream| async move {
        if wsd_peers::handshake(&mut stream).await.is_ok() {
            let _ = echo(stream).await;
        }
    });
}

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; READ];
    // `buf[..filled]` holds input not yet echoed (the start of an incomplete frame).
    let mut filled = 0;
    loop {
        if buf.len() - filled < READ / 2 {
            let grown = (buf.len() * 2).max(filled + READ);
            buf.resize(grown, 0);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let (out, consumed, close) = reframe(&mut buf[..filled]);
        if !out.is_empty() {
            stream.write_all(&buf[out]).await?;
        }
        if close {
            return Ok(());
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

/// Turns the complete masked frames at the start of `buf` into unmasked ones, in
/// place and contiguous; returns where they are, how many input bytes they used,
/// and whether one was a close frame (the last one echoed).
fn reframe(buf: &mut [u8]) -> (std::ops::Range<usize>, usize, bool) {
    let (mut read, mut start, mut end) = (0, None, 0);
    while buf.len() - read >= 2 {
        let (b0, b1) = (buf[read], buf[read + 1]);
        let (header, len) = match b1 & 0x7f {
            126 if buf.len() - read >= 4 => (
                4,
                u16::from_be_bytes([buf[read + 2], buf[read + 3]]) as usize,
            ),
            127 if buf.len() - read >= 10 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&buf[read + 2..read + 10]);
                (10, u64::from_be_bytes(bytes) as usize)
            }
            126 | 127 => break,
            small => (2, small as usize),
        };
        let payload = read + header + 4;
        if buf.len() < payload || buf.len() - payload < len {
            break;
        }
        let key = [
            buf[payload - 4],
            buf[payload - 3],
            buf[payload - 2],
            buf[payload - 1],
        ];
        unmask(&mut buf[payload..payload + len], key);
        // The unmasked header goes where the key was, right before the payload.
        let at = payload - header;
        buf.copy_within(read..read + header, at);
        buf[at + 1] &= 0x7f;
        match start {
            None => start = Some(at),
            Some(_) => buf.copy_within(at..payload + len, end),
        }
        end = if start == Some(at) {
            payload + len
        } else {
            end + header + len
        };
        read = payload + len;
        if b0 & 0x0f == 0x8 {
            return (start.unwrap_or(0)..end, read, true);
        }
    }
    (start.unwrap_or(0)..end, read, false)
}

/// XORs `payload` with the repeated `key`, eight bytes at a time.
fn unmask(payload: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = payload.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
    }
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::reframe;

    /// A masked client frame of `payload` with `opcode`.
    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let key = [1u8, 2, 3, 4];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65_536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&key);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        frame
    }

    /// The unmasked server frame of `payload` with `opcode`.
    fn plain(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = masked(opcode, payload);
        let header = frame.len() - payload.len() - 4;
        frame[1] &= 0x7f;
        frame.drain(header..header + 4);
        frame[header..].copy_from_slice(payload);
        frame
    }

    #[test]
    fn complete_frames_come_out_unmasked_and_contiguous_and_a_partial_one_stays() {
        let small: Vec<u8> = (0..13).collect();
        let medium: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let large: Vec<u8> = (0..70_000u32).map(|i| (i * 13) as u8).collect();
        let mut input = [masked(2, &small), masked(1, &medium), masked(2, &large)].concat();
        let partial = masked(2, &small);
        input.extend_from_slice(&partial[..5]);
        let expected = [plain(2, &small), plain(1, &medium), plain(2, &large)].concat();
        let (out, consumed, close) = reframe(&mut input);
        assert_eq!(&input[out], &expected[..]);
        assert_eq!(consumed, input.len() - 5);
        assert!(!close);
    }

    #[test]
    fn a_close_frame_is_echoed_and_ends_the_connection() {
        let mut input = [masked(2, b"hi"), masked(8, &[3, 232]), masked(2, b"late")].concat();
        let (out, _, close) = reframe(&mut input);
        assert_eq!(
            &input[out],
            &[plain(2, b"hi"), plain(8, &[3, 232])].concat()[..]
        );
        assert!(close);
    }
}
