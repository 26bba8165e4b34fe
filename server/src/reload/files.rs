//! The bundle directory on disk: reading it, checking the paths a draft
//! names, and writing a draft's files so that a reader (the watcher, a
//! reload) never sees half a file.

use std::path::{Component, Path};

use whistle_grammar::bundle::{self, BundleFile};

/// Checks a path a client sent for a bundle file: relative, inside the
/// bundle, no hidden component, and a bundle file (`*.whistle`,
/// `areas.yaml`, `event.schema.json`). Returns it normalised with `/`.
pub fn checked_path(raw: &str) -> Result<String, String> {
    let path = Path::new(raw);
    if raw.is_empty() {
        return Err("an empty path".into());
    }
    if raw.contains('\0') {
        return Err(format!("`{}` holds a NUL character", raw.escape_debug()));
    }
    if raw.contains('\\') {
        return Err(format!("`{raw}`: use `/` between folders"));
    }
    // Checked here, not left to the file system: a name it refuses would
    // fail the rollout after the draft was found good, as a server error.
    if raw.len() > MAX_PATH {
        return Err(format!(
            "`{}`: a bundle path is at most {MAX_PATH} bytes; this one is {}",
            shortened(raw),
            raw.len()
        ));
    }
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => {
                let p = p.to_str().ok_or_else(|| format!("`{raw}` is not UTF-8"))?;
                if p.len() > MAX_NAME {
                    return Err(format!(
                        "`{}`: a file or folder name is at most {MAX_NAME} bytes; `{}` is {}",
                        shortened(raw),
                        shortened(p),
                        p.len()
                    ));
                }
                if p.starts_with('.') {
                    return Err(format!("`{raw}`: hidden files are not part of a bundle"));
                }
                parts.push(p);
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{raw}` leaves the bundle: paths are relative to the bundle, without `..`"
                ));
            }
        }
    }
    let rel = parts.join("/");
    if !bundle::is_bundle_file(&rel) {
        return Err(format!(
            "`{raw}` is not a bundle file: `*.whistle`, `areas.yaml` or `event.schema.json`"
        ));
    }
    Ok(rel)
}

/// The longest file or folder name most file systems take, in bytes.
const MAX_NAME: usize = 255;

/// The longest bundle path taken, in bytes: deep enough for any layout.
const MAX_PATH: usize = 1024;

/// A path or name cut for a message: its start and its end.
fn shortened(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 60 {
        return s.to_string();
    }
    let head: String = chars.iter().take(28).collect();
    let tail: String = chars.iter().skip(chars.len() - 28).collect();
    format!("{head}…{tail}")
}

/// Why an empty draft is refused.
pub const EMPTY: &str = "the draft names no file to write or delete";

/// A draft: files to write (relative path → text) and files to remove.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Files to create or replace.
    pub write: Vec<(String, String)>,
    /// Files to delete.
    pub delete: Vec<String>,
}

impl Draft {
    /// Checks every path; the first bad one is the error.
    pub fn checked(write: Vec<(String, String)>, delete: Vec<String>) -> Result<Draft, String> {
        let write = write
            .into_iter()
            .map(|(p, t)| Ok((checked_path(&p)?, t)))
            .collect::<Result<Vec<_>, String>>()?;
        let delete = delete
            .iter()
            .map(|p| checked_path(p))
            .collect::<Result<Vec<_>, String>>()?;
        if write.is_empty() && delete.is_empty() {
            return Err(EMPTY.into());
        }
        Ok(Draft { write, delete })
    }

    /// The first file the draft writes where the bundle at `root` (or the
    /// draft itself) has something else: a file where it needs a folder
    /// (`areas.yaml/x.whistle`), or a folder where it writes a file. Found
    /// before anything is written, it is the client's mistake, not a
    /// failed reload.
    pub fn clash(&self, root: &Path) -> Option<String> {
        for (path, _) in &self.write {
            let mut folder = String::new();
            for part in path
                .split('/')
                .take(path.split('/').count().saturating_sub(1))
            {
                if !folder.is_empty() {
                    folder.push('/');
                }
                folder.push_str(part);
                let in_draft = self.write.iter().any(|(p, _)| *p == folder);
                if in_draft || root.join(&folder).is_file() {
                    return Some(format!(
                        "`{path}`: `{folder}` is a file, not a folder it could go in"
                    ));
                }
            }
            if root.join(path).is_dir() {
                return Some(format!("`{path}` is a folder of the bundle, not a file"));
            }
        }
        None
    }

    /// The first file the draft deletes that `current` does not hold: a
    /// deletion of nothing is a mistaken path, not a no-op to accept.
    pub fn missing_delete(&self, current: &[BundleFile]) -> Option<String> {
        self.delete
            .iter()
            .find(|d| !current.iter().any(|f| f.path == **d))
            .map(|d| format!("`{d}` is not in the bundle: there is nothing to delete"))
    }

    /// The bundle `current` would become with this draft applied.
    pub fn over(&self, current: Vec<BundleFile>) -> Vec<BundleFile> {
        let mut files: Vec<BundleFile> = current
            .into_iter()
            .filter(|f| {
                !self.delete.contains(&f.path) && !self.write.iter().any(|(p, _)| *p == f.path)
            })
            .collect();
        files.extend(self.write.iter().map(|(p, t)| BundleFile {
            path: p.clone(),
            bytes: t.clone().into_bytes(),
        }));
        files
    }
}

/// Writes a draft into the bundle at `root`: each file goes to a hidden
/// temporary beside its target and is renamed over it (readers see the old
/// file or the new, never half), then deletions.
pub fn write(root: &Path, draft: &Draft) -> Result<(), String> {
    // A file the server may not write (read-only, another user's) is found
    // before anything is written, not halfway through the draft.
    for (rel, _) in &draft.write {
        let target = root.join(rel);
        if target.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
        }
    }
    for (rel, text) in &draft.write {
        let target = root.join(rel);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        }
        crate::replace::replace_file(&target, text.as_bytes())
            .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
    }
    for rel in &draft.delete {
        let target = root.join(rel);
        match std::fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove `{}`: {e}", target.display())),
        }
        // A folder the draft emptied goes too (a rollback to a version
        // without `sub/` leaves no `sub/` behind); the bundle's root stays.
        let mut dir = target.parent();
        while let Some(d) = dir.filter(|d| *d != root && d.starts_with(root)) {
            if std::fs::remove_dir(d).is_err() {
                break; // not empty, or not ours to remove
            }
            dir = d.parent();
        }
    }
    Ok(())
}

/// The draft that turns the bundle on disk into exactly `files` (a stored
/// version): every file written, every other bundle file removed.
pub fn exactly(root: &Path, files: &[(String, String)]) -> Result<Draft, String> {
    let on_disk = bundle::read_dir(root).map_err(|e| e.to_string())?;
    let delete = on_disk
        .into_iter()
        .map(|f| f.path)
        .filter(|p| !files.iter().any(|(q, _)| q == p))
        .collect();
    Ok(Draft {
        write: files.to_vec(),
        delete,
    })
}

/// The text of `path` in a stored version's files, as bytes.
pub fn text_of<'a>(files: &'a [(String, String)], path: &str) -> Option<&'a [u8]> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.as_bytes())
}

/// The bytes of `path` in the bundle as read from disk.
pub fn bytes_of<'a>(files: &'a [BundleFile], path: &str) -> Option<&'a [u8]> {
    files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.bytes.as_slice())
}

/// The paths whose content differs between a stored version and the
/// bundle on disk (changed, added or removed), sorted.
pub fn differing(stored: &[(String, String)], disk: &[BundleFile]) -> Vec<String> {
    let mut out: Vec<String> = stored
        .iter()
        .map(|(p, _)| p)
        .chain(disk.iter().map(|f| &f.path))
        .filter(|p| text_of(stored, p) != bytes_of(disk, p))
        .cloned()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Paths for a message: `` `a`, `b` ``.
pub fn list(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A file that cannot be written stops the draft before any other file
    /// of it is: a folder where the draft puts a file (as root, the one
    /// kind of file nothing may write).
    #[test]
    fn nothing_is_written_when_one_file_cannot_be() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.whistle"), "old").unwrap();
        std::fs::create_dir(dir.path().join("z.whistle")).unwrap();
        let draft = Draft {
            write: vec![
                ("a.whistle".into(), "new".into()),
                ("b.whistle".into(), "new".into()),
                ("z.whistle".into(), "new".into()),
            ],
            delete: vec![],
        };
        let e = write(dir.path(), &draft).unwrap_err();
        assert!(e.contains("z.whistle"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.whistle")).unwrap(),
            "old"
        );
        assert!(!dir.path().join("b.whistle").exists());
    }

    #[test]
    fn paths_outside_the_bundle_are_refused() {
        for bad in [
            "../../etc/x",
            "../x.whistle",
            "/etc/passwd",
            "a/../../x.whistle",
            ".hidden.whistle",
            "a/.git/x.whistle",
            "notes.txt",
            "x.whistle\0",
            "a\\b.whistle",
            "",
        ] {
            assert!(checked_path(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            checked_path("./lists/a.whistle").unwrap(),
            "lists/a.whistle"
        );
        assert_eq!(checked_path("areas.yaml").unwrap(), "areas.yaml");
        let e = checked_path("../../etc/x").unwrap_err();
        assert!(e.contains("leaves the bundle"), "{e}");
        let e = checked_path("x.whistle\0.txt").unwrap_err();
        assert!(e.contains("NUL"), "{e}");
        // Names the file system would refuse are refused here, named.
        let long = format!("{}.whistle", "a".repeat(300));
        let e = checked_path(&long).unwrap_err();
        assert!(e.contains("at most 255 bytes") && e.contains('…'), "{e}");
        let deep = format!("{}x.whistle", "folder/".repeat(200));
        let e = checked_path(&deep).unwrap_err();
        assert!(e.contains("at most 1024 bytes"), "{e}");
        let fine = format!("{}.whistle", "a".repeat(240));
        assert_eq!(checked_path(&fine).unwrap(), fine);
    }

    #[test]
    fn writing_a_draft_replaces_creates_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.whistle"), "old").unwrap();
        std::fs::write(dir.path().join("b.whistle"), "gone").unwrap();
        let d = Draft::checked(
            vec![
                ("a.whistle".into(), "new".into()),
                ("sub/c.whistle".into(), "c".into()),
            ],
            vec!["b.whistle".into()],
        )
        .unwrap();
        write(dir.path(), &d).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.whistle")).unwrap(),
            "new"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/c.whistle")).unwrap(),
            "c"
        );
        assert!(!dir.path().join("b.whistle").exists());
        // No temporary is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // `exactly` removes what a stored version does not hold.
        let back = exactly(dir.path(), &[("a.whistle".into(), "old".into())]).unwrap();
        assert_eq!(back.delete, ["sub/c.whistle"]);
        // Written, it leaves no empty folder behind, and the root stays.
        write(dir.path(), &back).unwrap();
        assert!(!dir.path().join("sub").exists());
        assert!(dir.path().join("a.whistle").exists());
    }
}
