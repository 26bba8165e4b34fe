//! Loading a policy bundle: every `*.whistle` file below a directory (taken
//! in byte order of their relative paths), `areas.yaml` and an optional
//! `event.schema.json`.
//!
//! A bundle can also be built from files in memory (a draft posted to the
//! server, a preview), so that the same code reads both.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::areas::{AreaTree, duplicate_ids, parse_areas};
use crate::ast;
use crate::diag::Diagnostic;
use crate::parse::parse_file;
use crate::source::{FileId, SourceFile, SourceMap, Span};

/// Largest policy file accepted. Real policies are a few hundred kilobytes;
/// the limit keeps a stray data file from stalling a reload.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Most files in one bundle.
pub const MAX_FILES: usize = 5_000;

/// A loaded bundle: sources, parsed files and what went wrong reading them.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// Every source file, policy files first.
    pub sources: SourceMap,
    /// The parsed `.whistle` files.
    pub files: Vec<(FileId, ast::File)>,
    /// The area tree, if `areas.yaml` exists and parsed.
    pub areas: Option<AreaTree>,
    /// The file id of `areas.yaml`.
    pub areas_file: Option<FileId>,
    /// The JSON Schema for `attr`, if `event.schema.json` exists and parsed.
    pub event_schema: Option<serde_json::Value>,
    /// The file id of `event.schema.json`.
    pub event_schema_file: Option<FileId>,
    /// `sha256:<hex>` over every file's relative path and bytes.
    pub hash: String,
    /// Problems found while reading and parsing.
    pub diagnostics: Vec<Diagnostic>,
}

/// A file of a bundle in memory: its relative path (with `/`) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Relative path inside the bundle.
    pub path: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Why a bundle could not be read at all.
#[derive(Debug)]
pub enum LoadError {
    /// The path does not exist or cannot be read.
    Io(PathBuf, std::io::Error),
    /// The path holds no policy file.
    Empty(PathBuf),
    /// More than [`MAX_FILES`] files.
    TooManyFiles(PathBuf),
    /// A single file given that is not a policy file (`.whistle`).
    NotPolicy(PathBuf),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(p, e) => write!(f, "cannot read `{}`: {e}", p.display()),
            LoadError::Empty(p) => write!(f, "`{}` holds no `.whistle` file", p.display()),
            LoadError::TooManyFiles(p) => {
                write!(f, "`{}` holds more than {MAX_FILES} files", p.display())
            }
            LoadError::NotPolicy(p) => write!(
                f,
                "`{}` is not a policy file: give a `.whistle` file or a bundle's directory",
                p.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads the bundle files below `root` (or the single file `root`).
pub fn read_dir(root: &Path) -> Result<Vec<BundleFile>, LoadError> {
    let meta = std::fs::metadata(root).map_err(|e| LoadError::Io(root.to_path_buf(), e))?;
    let mut out = Vec::new();
    if meta.is_file() {
        let name = root.file_name().map_or_else(
            || "policy.whistle".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        // `areas.yaml` or `event.schema.json` alone is no policy either:
        // read as one, it would be checked against the wrong grammar.
        if !name.ends_with(".whistle") {
            return Err(LoadError::NotPolicy(root.to_path_buf()));
        }
        let bytes = read_limited(root)?;
        out.push(BundleFile { path: name, bytes });
        return Ok(out);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| LoadError::Io(dir.clone(), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| LoadError::Io(dir.clone(), e))?;
            let path = entry.path();
            let ft = entry
                .file_type()
                .map_err(|e| LoadError::Io(path.clone(), e))?;
            let rel = relative(root, &path);
            // Editors leave hidden swap and backup files; they are not policy.
            if rel.split('/').any(|c| c.starts_with('.')) {
                continue;
            }
            if ft.is_dir() {
                stack.push(path);
            } else if is_bundle_file(&rel) {
                if out.len() >= MAX_FILES {
                    return Err(LoadError::TooManyFiles(root.to_path_buf()));
                }
                out.push(BundleFile {
                    bytes: read_limited(&path)?,
                    path: rel,
                });
            }
        }
    }
    if !out.iter().any(|f| f.path.ends_with(".whistle")) {
        return Err(LoadError::Empty(root.to_path_buf()));
    }
    Ok(out)
}

/// Whether a relative path is part of a bundle.
pub fn is_bundle_file(rel: &str) -> bool {
    rel.ends_with(".whistle") || rel == "areas.yaml" || rel == "event.schema.json"
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_limited(path: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| LoadError::Io(path.to_path_buf(), e))?;
    let mut bytes = Vec::new();
    // One byte past the limit is enough to know the file is too large.
    f.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LoadError::Io(path.to_path_buf(), e))?;
    Ok(bytes)
}

/// Loads the bundle at `root`.
pub fn load(root: &Path) -> Result<Bundle, LoadError> {
    Ok(from_files(read_dir(root)?))
}

/// Builds a bundle from files in memory. Never fails: every problem is a
/// diagnostic.
pub fn from_files(mut files: Vec<BundleFile>) -> Bundle {
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    files.dedup_by(|a, b| a.path == b.path);
    let mut b = Bundle {
        hash: content_hash(&files),
        ..Bundle::default()
    };
    let (policy, extra): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|f| f.path.ends_with(".whistle"));
    for f in policy {
        let Some((id, text)) = add_text(&mut b, f) else {
            continue;
        };
        let (ast, diags) = parse_file(id, &text);
        b.diagnostics.extend(diags);
        b.files.push((id, ast));
    }
    for f in extra {
        let is_areas = f.path == "areas.yaml";
        let Some((id, _)) = add_text(&mut b, f) else {
            continue;
        };
        let Some(src) = b.sources.get(id) else {
            continue;
        };
        if is_areas {
            b.areas_file = Some(id);
            match parse_areas(id, src) {
                Ok(tree) => {
                    for dup in duplicate_ids(&tree) {
                        let at = src.text.find(dup.as_str()).unwrap_or(0);
                        b.diagnostics.push(Diagnostic::error(
                            "E0902",
                            Span::new(id, at, at + dup.len()),
                            format!("area id `{dup}` appears more than once in `areas.yaml`"),
                        ));
                    }
                    for odd in crate::areas::odd_ids(&tree) {
                        let at = src.text.find(odd.as_str()).unwrap_or(0);
                        b.diagnostics.push(
                            Diagnostic::warning(
                                "W0901",
                                Span::new(id, at, at + odd.len()),
                                format!("area id `{odd}` has a blank or a comma inside"),
                            )
                            .with_help("is a comma missing between two ids? `[G1 G2]` is one id, `[G1, G2]` two"),
                        );
                    }
                    b.areas = Some(tree);
                }
                Err(d) => b.diagnostics.push(d),
            }
        } else {
            b.event_schema_file = Some(id);
            match serde_json::from_str::<serde_json::Value>(&src.text) {
                Ok(v) => b.event_schema = Some(v),
                Err(e) => {
                    let at = src
                        .line_start(u32::try_from(e.line()).unwrap_or(1))
                        .unwrap_or(0) as usize
                        + e.column().saturating_sub(1);
                    b.diagnostics.push(Diagnostic::error(
                        "E0903",
                        Span::new(id, at, at + 1),
                        format!("invalid JSON in `event.schema.json`: {e}"),
                    ));
                }
            }
        }
    }
    b
}

/// Adds a file's text to the source map, or a diagnostic if it is too large
/// or not UTF-8.
/// Old Mac line ends (a lone `\r`) read as line ends: otherwise the first
/// comment would run to the end of the file and swallow it. Each is one
/// byte for one, so every offset stays where it was.
pub(crate) fn lone_cr_as_lf(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let bytes = text.as_bytes();
    let out: Vec<u8> = bytes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if c == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
                b'\n'
            } else {
                c
            }
        })
        .collect();
    // ASCII for ASCII: still UTF-8.
    String::from_utf8(out).unwrap_or(text)
}

fn add_text(b: &mut Bundle, f: BundleFile) -> Option<(FileId, String)> {
    if f.bytes.len() > MAX_FILE_BYTES {
        let id = b.sources.add(SourceFile::new(f.path.clone(), ""));
        b.diagnostics.push(
            Diagnostic::error(
                "E0002",
                Span::new(id, 0, 0),
                format!(
                    "`{}` is larger than {} MiB",
                    f.path,
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            )
            .with_help(
                "a policy file is text of a few hundred kilobytes at most; is this the right file?",
            ),
        );
        return None;
    }
    match String::from_utf8(f.bytes) {
        Ok(text) => {
            let text = lone_cr_as_lf(text);
            let id = b.sources.add(SourceFile::new(f.path, text.clone()));
            Some((id, text))
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            // Keep the valid prefix so the diagnostic can show the line.
            let prefix = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            let id = b.sources.add(SourceFile::new(f.path.clone(), prefix));
            b.diagnostics.push(
                Diagnostic::error(
                    "E0002",
                    Span::new(id, valid, valid),
                    format!("`{}` is not valid UTF-8 (at byte {valid})", f.path),
                )
                .with_help("policy files are UTF-8 text; re-save the file as UTF-8"),
            );
            None
        }
    }
}

/// `sha256:<hex>` of the files (sorted by path): the policy's identity.
pub fn content_hash(files: &[BundleFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update((f.path.len() as u64).to_le_bytes());
        h.update(f.path.as_bytes());
        h.update((f.bytes.len() as u64).to_le_bytes());
        h.update(&f.bytes);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(path: &str, text: &str) -> BundleFile {
        BundleFile {
            path: path.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    /// A file saved with old Mac line ends (`\r` alone) reads line by
    /// line: its first comment does not swallow the rest.
    #[test]
    fn lone_carriage_returns_end_lines() {
        let text = "# departments\rdepartment urban \"城管\" { level street }\r";
        let b = from_files(vec![file("d.whistle", text)]);
        assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
        let decls = b.files.first().map(|(_, f)| f.decls.len());
        assert_eq!(decls, Some(1));
        assert_eq!(lone_cr_as_lf("a\r\nb\rc".into()), "a\r\nb\nc");
    }

    #[test]
    fn files_are_taken_in_byte_order_and_hashed_stably() {
        let a = from_files(vec![
            file("b.whistle", "levels a < b"),
            file("a.whistle", "grades x"),
        ]);
        let names: Vec<&str> = a.sources.iter().map(|(_, f)| f.name.as_str()).collect();
        assert_eq!(names, ["a.whistle", "b.whistle"]);
        let b = from_files(vec![
            file("a.whistle", "grades x"),
            file("b.whistle", "levels a < b"),
        ]);
        assert_eq!(a.hash, b.hash);
        assert!(a.hash.starts_with("sha256:") && a.hash.len() == 71);
        let c = from_files(vec![
            file("a.whistle", "grades y"),
            file("b.whistle", "levels a < b"),
        ]);
        assert_ne!(a.hash, c.hash);
    }

    #[test]
    fn invalid_utf8_is_a_diagnostic() {
        let b = from_files(vec![BundleFile {
            path: "x.whistle".into(),
            bytes: vec![b'l', b'e', 0xff, 0xfe],
        }]);
        assert_eq!(b.diagnostics.len(), 1);
        assert_eq!(b.diagnostics[0].code, "E0002");
        assert!(b.diagnostics[0].message.contains("byte 2"));
    }

    #[test]
    fn a_single_file_must_be_a_policy_file() {
        let dir = std::env::temp_dir().join(format!("whistle-single-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let notes = dir.join("README.md");
        std::fs::write(&notes, "# notes").unwrap();
        let err = read_dir(&notes).unwrap_err();
        assert!(matches!(err, LoadError::NotPolicy(_)));
        assert!(
            err.to_string().contains("README.md` is not a policy file"),
            "{err}"
        );
        let policy = dir.join("p.whistle");
        std::fs::write(&policy, "grades x").unwrap();
        let files = read_dir(&policy).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, "p.whistle");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
