//! Trivia: the comments and line breaks that the syntax tree does not keep.
//!
//! The formatter needs three things from the raw text: every `#` comment
//! (outside strings, including the strings of test-event JSON) with its line
//! and whether code stands before it on that line; the line of any byte
//! offset; and a way to step over whitespace and comments to where the next
//! token starts. Comments are handed out in source order through a cursor
//! ([`Trivia::take_before`]), so that each is attached exactly once.

use std::ops::Range;

/// One `#` comment of the source.
#[derive(Debug, Clone)]
pub(super) struct Comment {
    /// Byte offset of the `#`.
    pub start: usize,
    /// Byte offset of the end of its line (before `\n`).
    pub end: usize,
    /// 0-based line.
    pub line: usize,
    /// No code stands before it on its line.
    pub own_line: bool,
    /// The text from `#` to the end of the line, trailing whitespace removed.
    pub text: String,
}

/// The comments and line table of one source text.
pub(super) struct Trivia<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    comments: Vec<Comment>,
    next: usize,
}

const BOM: &str = "\u{FEFF}";

impl<'a> Trivia<'a> {
    /// Scans `text` once for line starts and comments.
    pub fn new(text: &'a str) -> Trivia<'a> {
        let bytes = text.as_bytes();
        let mut line_starts = vec![0usize];
        let mut comments = Vec::new();
        let mut code_on_line = false;
        let mut i = 0usize;
        // The scanner only acts on ASCII bytes (and the BOM), so it slices the
        // text only where a `#` stands, which is always a character boundary.
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    i += 1;
                    line_starts.push(i);
                    code_on_line = false;
                }
                b' ' | b'\t' | b'\r' => i += 1,
                b'"' => {
                    code_on_line = true;
                    i = skip_string(bytes, i);
                }
                b'#' => {
                    let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                    comments.push(Comment {
                        start: i,
                        end,
                        line: line_starts.len() - 1,
                        own_line: !code_on_line,
                        text: text[i..end].trim_end().to_string(),
                    });
                    i = end;
                }
                _ if bytes[i..].starts_with(BOM.as_bytes()) => i += BOM.len(),
                _ => {
                    code_on_line = true;
                    i += 1;
                }
            }
        }
        Trivia {
            text,
            line_starts,
            comments,
            next: 0,
        }
    }

    /// The comment with index `i`.
    pub fn comment(&self, i: usize) -> &Comment {
        &self.comments[i]
    }

    /// The 0-based line of byte offset `pos`.
    pub fn line(&self, pos: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= pos)
            .saturating_sub(1)
    }

    /// Hands out (as indices) every comment not yet handed out that starts
    /// before `limit`.
    pub fn take_before(&mut self, limit: usize) -> Range<usize> {
        let from = self.next;
        while self.next < self.comments.len() && self.comments[self.next].start < limit {
            self.next += 1;
        }
        from..self.next
    }

    /// Whether a comment not yet handed out starts before `limit`.
    pub fn any_before(&self, limit: usize) -> bool {
        self.comments
            .get(self.next)
            .is_some_and(|c| c.start < limit)
    }

    /// Whether every comment has been handed out.
    pub fn all_taken(&self) -> bool {
        self.next == self.comments.len()
    }

    /// `end` moved back over whitespace and comments to just after the last
    /// token at or after `start`.
    ///
    /// pest lets a rule that ends in an optional or repeated part (`string?`,
    /// `(comma ~ action)*`) swallow the whitespace and comments it skipped
    /// before trying that part, so such spans can run past their last token.
    pub fn tight_end(&self, start: usize, mut end: usize) -> usize {
        let bytes = self.text.as_bytes();
        loop {
            while end > start && matches!(bytes[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
                end -= 1;
            }
            if end >= start + BOM.len() && bytes[..end].ends_with(BOM.as_bytes()) {
                end -= BOM.len();
                continue;
            }
            let i = self.comments.partition_point(|c| c.start < end);
            match i.checked_sub(1).map(|i| &self.comments[i]) {
                Some(c) if c.start >= start && end <= c.end => end = c.start,
                _ => return end,
            }
        }
    }

    /// The offset of the first token at or after `pos`, stepping over
    /// whitespace and comments.
    pub fn skip_trivia(&self, mut pos: usize) -> usize {
        let bytes = self.text.as_bytes();
        while pos < bytes.len() {
            match bytes[pos] {
                b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
                b'#' => {
                    pos = self.text[pos..]
                        .find('\n')
                        .map_or(self.text.len(), |n| pos + n);
                }
                _ if bytes[pos..].starts_with(BOM.as_bytes()) => pos += BOM.len(),
                _ => break,
            }
        }
        pos
    }

    /// The offset of the first `{` at or after `from` that is neither in a
    /// string nor in a comment: the opening brace of a declaration's block.
    pub fn open_brace(&self, from: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let mut i = from;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => return Some(i),
                b'"' => i = skip_string(bytes, i),
                b'#' => i = self.text[i..].find('\n').map_or(bytes.len(), |n| i + n),
                _ => i += 1,
            }
        }
        None
    }
}

/// The offset just past the string literal that starts at `bytes[start]`
/// (a `"`). A string never runs past the end of its line.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1).is_some_and(|&b| b != b'\n') => i += 2,
            b'"' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    i
}
