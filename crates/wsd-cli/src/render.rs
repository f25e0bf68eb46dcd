//! How `wsd connect` prints what it receives, and how it reads what it sends.

use std::fmt::Write as _;
use std::io::BufRead;

use wsd_core::CloseCode;

/// The stdout line for a binary message: `<binary N bytes: HEX>`.
pub(crate) fn binary_line(data: &[u8]) -> String {
    let mut line = String::with_capacity(data.len() * 2 + 32);
    let _ = write!(line, "<binary {} bytes: ", data.len());
    for byte in data {
        let _ = write!(line, "{byte:02x}");
    }
    line.push('>');
    line
}

/// Whether a close code means the session ended as intended (exit status 0):
/// normal closure, going away, or a close frame without a code.
pub(crate) fn is_normal_close(code: CloseCode) -> bool {
    matches!(code.0, 1000 | 1001 | 1005)
}

/// `: reason` for a non-empty close reason, else nothing.
pub(crate) fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Strips the line ending (`\n` or `\r\n`) from a line read from stdin.
pub(crate) fn trim_line_ending(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// Reads `input` line by line on a thread of its own and hands each line, without
/// its ending, to the returned channel, which closes at the end of input. A thread
/// keeps stdin out of the async runtimes, which each handle it differently.
pub(crate) fn spawn_line_reader<R>(input: R) -> async_channel::Receiver<std::io::Result<String>>
where
    R: BufRead + Send + 'static,
{
    // Capacity 1: lines are read no faster than they are sent.
    let (sender, receiver) = async_channel::bounded(1);
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            let mut line = String::new();
            let item = match input.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => Ok(trim_line_ending(line)),
                Err(error) => Err(error),
            };
            let failed = item.is_err();
            if sender.send_blocking(item).is_err() || failed {
                break;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_printed_as_length_and_hex() {
        assert_eq!(binary_line(&[]), "<binary 0 bytes: >");
        assert_eq!(binary_line(&[0x00, 0xff, 0x10]), "<binary 3 bytes: 00ff10>");
    }

    #[test]
    fn normal_closes_are_1000_1001_and_no_code() {
        assert!(is_normal_close(CloseCode::from(1000)));
        assert!(is_normal_close(CloseCode::from(1001)));
        assert!(is_normal_close(CloseCode::from(1005)));
        assert!(!is_normal_close(CloseCode::from(1006)));
        assert!(!is_normal_close(CloseCode::from(1002)));
    }

    #[test]
    fn line_endings_are_stripped_once() {
        assert_eq!(trim_line_ending("a\r\n".into()), "a");
        assert_eq!(trim_line_ending("a\n".into()), "a");
        assert_eq!(trim_line_ending("a".into()), "a");
        assert_eq!(trim_line_ending("a\n\n".into()), "a\n");
        assert_eq!(trim_line_ending("\r\n".into()), "");
    }

    #[test]
    fn lines_come_through_the_channel_then_it_closes() {
        let receiver = spawn_line_reader(std::io::Cursor::new(b"one\ntwo\r\n\nlast".to_vec()));
        let mut lines = Vec::new();
        while let Ok(line) = receiver.recv_blocking() {
            lines.push(line.unwrap());
        }
        assert_eq!(lines, ["one", "two", "", "last"]);
    }
}
