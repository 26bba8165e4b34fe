//! Attaching comments to declarations and items.
//!
//! Comments are handed out by [`Trivia`] in source order while the tree is
//! walked in source order, so each lands in exactly one place: before a
//! unit (its own-line comments), inside it, or after it on its last line.

use super::doc::MAX_WIDTH;
use super::parts::{item_ends, one_line_width};
use super::trivia::Trivia;
use crate::ast::Decl;

/// The comments attached to one declaration or item, and the source lines
/// it spans (to find blank lines around it).
#[derive(Default)]
pub(super) struct Unit {
    /// Comments on lines of their own before it.
    pub(super) leading: Vec<usize>,
    /// Comments inside it (for a block: inside its header, before `{`).
    pub(super) inner: Vec<usize>,
    /// The comment after its last token on the same line.
    pub(super) after: Option<usize>,
    /// The line where it starts.
    pub(super) first_line: usize,
    /// The line where it ends.
    pub(super) last_line: usize,
}

impl Unit {
    /// The comments that move above the line, and the one that ends it.
    pub(super) fn split(&self) -> (&[usize], Option<usize>) {
        match (self.after, self.inner.split_last()) {
            (Some(a), _) => (&self.inner, Some(a)),
            (None, Some((last, rest))) => (rest, Some(*last)),
            (None, None) => (&[], None),
        }
    }
}

/// An expanded block's comments.
pub(super) struct BlockUnits {
    /// The header (`inner`: comments before `{`; `after`: the comment after `{`).
    pub(super) header: Unit,
    /// The items in source order.
    pub(super) items: Vec<Unit>,
    /// Comments after the last item, before `}`.
    pub(super) dangling: Vec<usize>,
}

/// A declaration with its comments and chosen layout.
pub(super) struct Placed<'a> {
    pub(super) decl: &'a Decl,
    pub(super) unit: Unit,
    /// `None`: printed on one line; otherwise the comments of its block.
    pub(super) block: Option<BlockUnits>,
}

/// Splits the comments of a gap between two tokens: a comment after code
/// ends the line of `prev`; the others lead what follows (`leading`).
pub(super) fn distribute(
    tv: &Trivia<'_>,
    gap: std::ops::Range<usize>,
    mut prev: Option<&mut Unit>,
    leading: &mut Vec<usize>,
) {
    for c in gap {
        match prev.as_deref_mut() {
            Some(p) if !tv.comment(c).own_line && p.after.is_none() && leading.is_empty() => {
                p.after = Some(c);
            }
            _ => leading.push(c),
        }
    }
}

pub(super) fn place_decl<'a>(
    d: &'a Decl,
    tv: &mut Trivia<'_>,
    prev: Option<&mut Placed<'_>>,
) -> Placed<'a> {
    let span = d.span();
    let s = span.start as usize;
    let e = tv.tight_end(s, span.end as usize);
    let mut unit = Unit::default();
    let gap = tv.take_before(s);
    distribute(tv, gap, prev.map(|p| &mut p.unit), &mut unit.leading);
    unit.first_line = tv.line(s);
    unit.last_line = tv.line(e.saturating_sub(1).max(s));

    let ends = item_ends(d);
    let one_line = match &ends {
        None => true,
        Some(ends) => {
            let written_on_one_line = unit.first_line == unit.last_line;
            (may_stay_inline(d)
                && written_on_one_line
                && ends.len() <= 4
                && one_line_width(d) <= MAX_WIDTH)
                || (ends.is_empty() && !tv.any_before(e))
        }
    };
    let block = match (ends, one_line) {
        (Some(ends), false) => tv
            .open_brace(s)
            .map(|open| place_block(tv, open, e.saturating_sub(1), &ends)),
        _ => None,
    };
    if block.is_none() {
        unit.inner = tv.take_before(e).collect();
    }
    Placed {
        decl: d,
        unit,
        block,
    }
}

fn place_block(tv: &mut Trivia<'_>, open: usize, close: usize, ends: &[usize]) -> BlockUnits {
    let mut header = Unit {
        inner: tv.take_before(open).collect(),
        first_line: tv.line(open),
        last_line: tv.line(open),
        ..Unit::default()
    };
    let mut items: Vec<Unit> = Vec::with_capacity(ends.len());
    let mut pos = open + 1;
    for &end in ends {
        let start = tv.skip_trivia(pos).min(end);
        let end = tv.tight_end(start, end.max(start));
        let mut unit = Unit::default();
        let gap = tv.take_before(start);
        let prev = match items.last_mut() {
            Some(u) => u,
            None => &mut header,
        };
        distribute(tv, gap, Some(prev), &mut unit.leading);
        unit.inner = tv.take_before(end).collect();
        unit.first_line = tv.line(start);
        unit.last_line = tv.line(end.saturating_sub(1).max(start));
        items.push(unit);
        pos = end;
    }
    let mut dangling = Vec::new();
    let gap = tv.take_before(close);
    let prev = match items.last_mut() {
        Some(u) => u,
        None => &mut header,
    };
    distribute(tv, gap, Some(prev), &mut dangling);
    BlockUnits {
        header,
        items,
        dangling,
    }
}

/// Blocks that may stay on one line when written so.
fn may_stay_inline(d: &Decl) -> bool {
    matches!(d, Decl::Department(_) | Decl::Grade(_) | Decl::Fallback(_))
}
