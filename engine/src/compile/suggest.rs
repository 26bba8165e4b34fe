//! "Did you mean": the declared name closest to a misspelt one, so that
//! `lead comittee` points at `committee` instead of inviting a new
//! declaration.

/// The name in `known` closest to `name` by edit distance, when it is
/// close enough to be a slip of the keyboard (at most two edits, and
/// fewer than a third of the name); ties go to the first in sorted order.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 2);
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        // A swap of two letters (`gird`) is one slip, not two.
        let d = strsim::osa_distance(name, k);
        if d == 0 || d > limit {
            continue;
        }
        if best.is_none_or(|(bd, bk)| (d, k) < (bd, bk)) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

use unicode_normalization::UnicodeNormalization;

/// The help for an unknown name: the close one if there is one, else
/// `otherwise`.
pub(crate) fn help<'a>(
    name: &str,
    known: impl IntoIterator<Item = &'a str> + Clone,
    otherwise: impl Into<String>,
) -> String {
    // The same letters in other code points (`é` as one, or as `e` and a
    // combining accent): the two look alike and no edit count shows it.
    let composed: String = name.nfc().collect();
    if let Some(k) = known
        .clone()
        .into_iter()
        .find(|k| *k != name && k.nfc().eq(composed.chars()))
    {
        return format!(
            "`{k}` is declared: the two look the same but are written with other Unicode code points (a letter with its accent as one, or as two); type the name again"
        );
    }
    match closest(name, known) {
        Some(k) => format!("did you mean `{k}`?"),
        None => otherwise.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_is_matched_and_a_new_name_is_not() {
        let known = ["committee", "grid_team", "police", "shared_bikes"];
        assert_eq!(closest("comittee", known), Some("committee"));
        assert_eq!(closest("grid_teem", known), Some("grid_team"));
        assert_eq!(closest("shared_bike", known), Some("shared_bikes"));
        assert_eq!(closest("fire", known), None);
        assert_eq!(closest("polce", known), Some("police"));
        assert_eq!(closest("gird", ["grid", "street"]), Some("grid"));
        // Short names need an exact spelling but for one letter.
        assert_eq!(closest("pol", ["police", "poll"]), Some("poll"));
        assert_eq!(help("firemen", known, "declare it"), "declare it");
        // The same name in other code points is named as such.
        let h = help("cafe\u{301}", ["caf\u{e9}", "police"], "declare it");
        assert!(h.starts_with("`caf\u{e9}` is declared"), "{h}");
    }
}
