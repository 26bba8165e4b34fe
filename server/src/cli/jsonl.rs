//! Reading a JSON-lines file of events, as `route`, `diff --replay` and a
//! replayed simulation all do: numbered non-blank lines, a byte-order mark
//! at the very start skipped (spreadsheet tools on Windows write one), and
//! reading stopped at the first error of the file itself.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use whistle_engine::event::EventError;

/// A UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest line read (1 MiB, as much as a request body holds): an
/// event is a few hundred bytes, and a longer line is a file of another
/// kind (one JSON array of every event, a binary file) that would
/// otherwise be held in memory whole, or never end (`/dev/zero`).
pub const MAX_LINE: usize = 1 << 20;

/// One non-blank input line.
pub struct Line {
    /// Its number in the input, from 1.
    pub number: u64,
    /// The line as read, newline included.
    pub bytes: Vec<u8>,
}

impl Line {
    /// The line as text.
    pub fn text(&self) -> Result<&str, EventError> {
        std::str::from_utf8(&self.bytes)
            .map_err(|e| EventError(format!("not valid UTF-8 at byte {}", e.valid_up_to() + 1)))
    }
}

/// The non-blank lines of an input, numbered.
pub struct Lines<R> {
    input: R,
    number: u64,
    failed: bool,
    /// An error met after some lines of a chunk: those are given first.
    deferred: Option<std::io::Error>,
}

impl<R: BufRead> Lines<R> {
    /// The lines of `input`.
    pub fn new(input: R) -> Lines<R> {
        Lines {
            input,
            number: 0,
            failed: false,
            deferred: None,
        }
    }

    /// Lines read so far, blank ones included.
    pub fn lines_read(&self) -> u64 {
        self.number
    }

    /// Up to `max` more lines; empty at the end of the input. The lines
    /// before an error come first; the error with the next call.
    pub fn chunk(&mut self, max: usize) -> std::io::Result<Vec<Line>> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let mut chunk = Vec::with_capacity(max);
        while chunk.len() < max {
            match self.next() {
                Some(Ok(line)) => chunk.push(line),
                Some(Err(e)) if chunk.is_empty() => return Err(e),
                Some(Err(e)) => {
                    self.deferred = Some(e);
                    break;
                }
                None => break,
            }
        }
        Ok(chunk)
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = std::io::Result<Line>;

    /// An error of the input ends the lines: reading a directory, or a
    /// failing disk, would fail the same way on every later call.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let mut bytes = Vec::with_capacity(256);
            let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
            match self
                .input
                .by_ref()
                .take(limit)
                .read_until(b'\n', &mut bytes)
            {
                Ok(0) => return None,
                Ok(_) if bytes.len() > MAX_LINE => {
                    self.failed = true;
                    return Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "line {} is longer than {} MiB; a JSON-lines file holds one event per line",
                            self.number + 1,
                            MAX_LINE >> 20
                        ),
                    )));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
            self.number += 1;
            if self.number == 1 && bytes.starts_with(BOM) {
                bytes.drain(..BOM.len());
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(Line {
                number: self.number,
                bytes,
            }));
        }
    }
}

/// Opens an events file (`-`: standard input) for reading, or says why
/// it cannot be read, naming it.
pub fn open(path: &str) -> Result<Lines<BufReader<Box<dyn Read>>>, String> {
    let input: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot read `{path}`: {e}");
        let file = File::open(path).map_err(|e| cannot(&e))?;
        // Opening a directory succeeds on Unix; reading it does not.
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(cannot(&"it is a directory"));
        }
        Box::new(file)
    };
    Ok(Lines::new(BufReader::with_capacity(1 << 16, input)))
}

/// How an events file is named in messages: standard input as such.
pub fn display(path: &str) -> &str {
    if path == "-" { "standard input" } else { path }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn blank_lines_are_skipped_and_counted_and_a_leading_bom_dropped() {
        let input: &[u8] = b"\xEF\xBB\xBF{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":\xEF\xBB\xBF3}";
        let mut lines = Lines::new(input);
        let got: Vec<(u64, String)> = lines
            .by_ref()
            .map(|l| {
                let l = l.unwrap();
                (l.number, l.text().unwrap().trim_end().to_string())
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "{\"a\":1}".to_string()),
                (4, "{\"b\":2}".to_string()),
                // Only the file's first bytes are a byte-order mark.
                (5, "{\"c\":\u{feff}3}".to_string()),
            ]
        );
        assert_eq!(lines.lines_read(), 5);
    }

    #[test]
    fn a_directory_is_refused_by_name_and_bad_utf8_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        let said = open(path).err();
        assert_eq!(
            said.as_deref().unwrap_or("opened"),
            format!("cannot read `{path}`: it is a directory").as_str()
        );
        let mut lines = Lines::new(&b"ok\nab\xFFc\n"[..]);
        lines.next();
        let bad = lines.next().unwrap().unwrap();
        assert_eq!(bad.text().unwrap_err().0, "not valid UTF-8 at byte 3");
    }

    /// A reader that fails forever, as a directory does.
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn an_error_of_the_input_ends_the_lines() {
        let mut lines = Lines::new(BufReader::new(Failing));
        assert!(lines.next().unwrap().is_err());
        assert!(lines.next().is_none(), "no endless errors");
    }
}
