//! The jurisdiction tree of `areas.yaml` (LANGUAGE.md section 9).

use serde::Deserialize;

use crate::diag::Diagnostic;
use crate::source::{FileId, SourceFile, Span};

/// `areas.yaml`: districts → streets → communities → grids.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AreaTree {
    /// The districts.
    pub districts: Vec<District>,
}

/// A district.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct District {
    /// Its id (`D01`).
    pub id: String,
    /// Its display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its streets.
    #[serde(default)]
    pub streets: Vec<Street>,
}

/// A street (街道).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Street {
    /// Its id (`S01`).
    pub id: String,
    /// Its display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its communities.
    #[serde(default)]
    pub communities: Vec<Community>,
}

/// A community (社区).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Community {
    /// Its id (`C0101`).
    pub id: String,
    /// Its display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The ids of its grids.
    #[serde(default)]
    pub grids: Vec<String>,
}

/// The chain of area ids that contain one grid, lowest first:
/// `[grid, community, street, district]`.
pub type AreaPath = [String; 4];

impl AreaTree {
    /// Every grid with the ids of the areas that contain it.
    pub fn paths(&self) -> impl Iterator<Item = AreaPath> + '_ {
        self.districts.iter().flat_map(|d| {
            d.streets.iter().flat_map(move |s| {
                s.communities.iter().flat_map(move |c| {
                    c.grids
                        .iter()
                        .map(move |g| [g.clone(), c.id.clone(), s.id.clone(), d.id.clone()])
                })
            })
        })
    }

    /// Numbers of districts, streets, communities and grids.
    pub fn counts(&self) -> [usize; 4] {
        let streets = self.districts.iter().map(|d| d.streets.len()).sum();
        let communities = self
            .districts
            .iter()
            .flat_map(|d| &d.streets)
            .map(|s| s.communities.len())
            .sum();
        let grids = self.paths().count();
        [self.districts.len(), streets, communities, grids]
    }
}

/// Parses `areas.yaml`; a YAML or shape error becomes a diagnostic at its line.
pub fn parse_areas(file: FileId, source: &SourceFile) -> Result<AreaTree, Diagnostic> {
    let tree: AreaTree = serde_saphyr::from_str(&source.text).map_err(|e| {
        let (line, col) = e
            .location()
            .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
        let at = offset_of(source, line, col);
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or("invalid YAML");
        // The parser's advice is for a programmer, about a Rust type.
        let message = plain_yaml(message);
        // The place is the diagnostic's own: not said twice.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        Diagnostic::error(
            "E0901",
            Span::new(file, at, at + 1),
            format!("invalid `areas.yaml`: {message}"),
        )
        .with_help(
            "the shape is `districts:` → `streets:` → `communities:` → `grids: [ids]`, each area with an `id` and an optional `name` (docs/LANGUAGE.md, \"The area tree\")",
        )
    })?;
    Ok(tree)
}

/// A YAML reader's message in a policy officer's words: its advice is for
/// a programmer (about a Rust type, or an option of the reader).
pub fn plain_yaml(message: &str) -> String {
    message
        .replace(
            "cannot deserialize null into string; use Option<String>",
            "an empty value (`~`, `null` or nothing) where an id or a name is expected",
        )
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

fn offset_of(source: &SourceFile, line: u64, col: u64) -> usize {
    let line = u32::try_from(line).unwrap_or(1);
    let start = source.line_start(line).unwrap_or(0) as usize;
    let text = source.line_text(line);
    let col = usize::try_from(col).unwrap_or(1).saturating_sub(1);
    start + text.char_indices().nth(col).map_or(text.len(), |(i, _)| i)
}

/// Duplicate ids in the tree (a grid listed twice would make `unit` ambiguous).
pub fn duplicate_ids(tree: &AreaTree) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut dups = Vec::new();
    for id in all_ids(tree) {
        // Each once, however many times it is repeated.
        if !seen.insert(id.as_str()) && !dups.contains(id) {
            dups.push(id.clone());
        }
    }
    dups
}

/// Ids with a blank or a comma inside: in YAML's `[G1 G2, G3]` a missing
/// comma makes one id of two, and both grids disappear from the tree.
pub fn odd_ids(tree: &AreaTree) -> Vec<&String> {
    all_ids(tree)
        .filter(|id| id.contains(|c: char| c.is_whitespace() || c == ',' || c == '，'))
        .collect()
}

/// Every id of the tree, districts first, in file order.
fn all_ids(tree: &AreaTree) -> impl Iterator<Item = &String> {
    tree.districts.iter().flat_map(|d| {
        std::iter::once(&d.id).chain(d.streets.iter().flat_map(|s| {
            std::iter::once(&s.id).chain(
                s.communities
                    .iter()
                    .flat_map(|c| std::iter::once(&c.id).chain(c.grids.iter())),
            )
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example_and_finds_paths() {
        let text = "districts:\n  - id: D01\n    name: 武侯区\n    streets:\n      - id: S01\n        communities:\n          - id: C0101\n            grids: [G010101, G010102]\n";
        let src = SourceFile::new("areas.yaml", text);
        let tree = parse_areas(FileId(0), &src).unwrap_or_default();
        let paths: Vec<AreaPath> = tree.paths().collect();
        assert_eq!(paths.len(), 2);
        assert_eq!(
            paths[1],
            [
                "G010102".to_string(),
                "C0101".into(),
                "S01".into(),
                "D01".into()
            ]
        );
        assert_eq!(tree.counts(), [1, 1, 1, 2]);
    }

    /// An id repeated at every level is one duplicate, not three.
    #[test]
    fn each_duplicate_id_is_named_once() {
        let text = "districts:\n  - id: X\n    streets:\n      - id: X\n        communities:\n          - id: X\n            grids: [X, Y, Y]\n";
        let src = SourceFile::new("areas.yaml", text);
        let tree = parse_areas(FileId(0), &src).unwrap_or_default();
        assert_eq!(duplicate_ids(&tree), ["X", "Y"]);
    }

    #[test]
    fn a_bad_tree_is_a_diagnostic_with_a_line() {
        let src = SourceFile::new("areas.yaml", "districts:\n  - id: D01\n    streetz: []\n");
        let err = parse_areas(FileId(0), &src).err();
        let err = err.map(|d| (d.code, d.span.start));
        assert!(matches!(err, Some(("E0901", s)) if s > 0), "{err:?}");
    }

    /// A key written twice is said so, without the reader's advice to its
    /// programmer.
    #[test]
    fn a_key_written_twice_is_said_in_plain_words() {
        let text = "districts:\n  - id: D01\ndistricts:\n  - id: D02\n";
        let src = SourceFile::new("areas.yaml", text);
        let d = parse_areas(FileId(0), &src).err().map(|d| d.message);
        let said = d.unwrap_or_default();
        assert!(said.contains("duplicate mapping key: districts"), "{said}");
        assert!(!said.contains("Options"), "{said}");
    }

    /// An empty id is said in words, once, where it is.
    #[test]
    fn an_empty_id_is_named_in_words() {
        let text =
            "districts:\n  - id: D01\n    streets:\n      - id: ~\n        communities: []\n";
        let src = SourceFile::new("areas.yaml", text);
        let d = parse_areas(FileId(0), &src).err().map(|d| d.message);
        assert_eq!(
            d.as_deref(),
            Some(
                "invalid `areas.yaml`: an empty value (`~`, `null` or nothing) where an id or a name is expected"
            )
        );
    }
}
