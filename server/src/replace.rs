//! Replacing a file in place as editors do: readers see the old text or
//! the new, never half; a symbolic link stays a link to the file it names;
//! the file keeps its permissions, its owner and its group; a file the
//! process may not write is refused, as a plain write would be.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces the file at `path` with `bytes` (creating it if missing),
/// through a hidden temporary in the same directory and a rename: a
/// bundle loader never reads the temporary as policy, and a crash leaves
/// the old file whole.
///
/// A link is followed: the file it points at is replaced and the link is
/// kept, as an editor saving through it would. A file with other names
/// (hard links) is written in place instead, so that they all see the new
/// text. An existing file keeps its mode (a private policy file stays
/// private), its owner and its group: when the process may not give them
/// to a new file (it is not root, and the file is another user's that it
/// may write), the file is written in place too, or the server reading
/// the bundle as its owner could lose access to it. A new one gets the
/// mode a plain `create` would (0666 less the umask). A file the process
/// may not write (read-only, or another user's) is refused with
/// `PermissionDenied` and left as it is: a rename would replace it
/// anyway, the directory being writable. An error names `path`, not the
/// temporary.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = resolve(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(&target).ok();
    if existing.is_some() {
        // Whether a plain write would be let through (it opens nothing new
        // and truncates nothing).
        std::fs::OpenOptions::new().write(true).open(&target)?;
    }
    #[cfg(unix)]
    if existing
        .as_ref()
        .is_some_and(|m| std::os::unix::fs::MetadataExt::nlink(m) > 1)
    {
        // A file with other names (hard links): a rename would leave them
        // on the old text. Written in place, as editors do then.
        return write_in_place(&target, bytes);
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".whistle-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // The temporary's own name means nothing to whoever reads the error.
    let plain = |e: std::io::Error| std::io::Error::new(e.kind(), e.kind().to_string());
    let mut tmp = builder.tempfile_in(dir).map_err(plain)?;
    tmp.write_all(bytes)?;
    if let Some(meta) = existing {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let made = tmp.as_file().metadata()?;
            let owner = (meta.uid(), meta.gid());
            // Only root may give a file away: anyone else writes another's
            // file where it is, and it stays theirs.
            if (made.uid(), made.gid()) != owner
                && std::os::unix::fs::fchown(tmp.as_file(), Some(owner.0), Some(owner.1)).is_err()
            {
                drop(tmp);
                return write_in_place(&target, bytes);
            }
        }
        // After the owner: giving a file away clears its set-id bits.
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// Writes `bytes` over the file at `target`, keeping the file itself
/// (its other names, its owner): not atomic, as an editor's save then.
fn write_in_place(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(target)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The file `path` names, through any links; `path` itself when nothing
/// is there yet (or a link points nowhere: it is replaced by the file).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(e) => Err(e),
    }
}

/// The name [`replace_file`] gives its temporaries: `.whistle-XXXXXX.tmp`.
fn is_temporary(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with(".whistle-") && n.ends_with(".tmp"))
}

/// Removes the temporaries [`replace_file`] left under `root` (a folder
/// and its folders, links not followed) when a crash cut a write short,
/// if they were last written more than `older_than` ago: a younger one
/// may be another process's write under way. Returns the files removed;
/// one that cannot be read or removed is left, and the sweep goes on.
pub fn sweep_temporaries(root: &Path, older_than: std::time::Duration) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file()
                && is_temporary(&entry.file_name())
                && meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age > older_than)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed.push(entry.path());
            }
        }
    }
    removed
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn old_temporaries_are_swept_and_young_ones_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("categories")).unwrap();
        let old = [
            dir.path().join(".whistle-a1B2c3.tmp"),
            dir.path().join("categories/.whistle-Zz9yX8.tmp"),
        ];
        let kept = [
            dir.path().join("policy.whistle"),
            dir.path().join(".whistle.tmp.notes"),
            dir.path().join("other.tmp"),
        ];
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for f in old.iter().chain(&kept) {
            std::fs::write(f, "x").unwrap();
            let file = std::fs::File::options().write(true).open(f).unwrap();
            file.set_modified(hour_ago).unwrap();
        }
        let young = dir.path().join(".whistle-young1.tmp");
        std::fs::write(&young, "x").unwrap();
        let mut removed = sweep_temporaries(dir.path(), std::time::Duration::from_secs(600));
        removed.sort();
        let mut want = old.to_vec();
        want.sort();
        assert_eq!(removed, want);
        assert!(old.iter().all(|f| !f.exists()));
        assert!(kept.iter().chain([&young]).all(|f| f.exists()));
    }

    #[test]
    fn a_link_is_kept_and_its_target_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.whistle");
        let link = dir.path().join("link.whistle");
        std::fs::write(&real, "old").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&real, &link).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(&real, &link).unwrap();
        replace_file(&link, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        #[cfg(unix)]
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // Nothing left behind but the two names.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_keeps_its_mode_and_a_new_one_gets_the_usual_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private.whistle");
        std::fs::write(&private, "old").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        replace_file(&private, b"new").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&private), 0o600);
        assert_eq!(std::fs::read_to_string(&private).unwrap(), "new");
        // A new file: as `std::fs::write` would make it.
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        let fresh = dir.path().join("fresh.whistle");
        replace_file(&fresh, b"x").unwrap();
        assert_eq!(mode(&fresh), mode(&plain));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_keeps_its_owner_where_the_process_may_give_it() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("owned.whistle");
        std::fs::write(&file, "old").unwrap();
        // Given away, as only root can: elsewhere there is nothing to test.
        if std::os::unix::fs::chown(&file, Some(65534), Some(65534)).is_err() {
            return;
        }
        replace_file(&file, b"new").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    }

    #[cfg(unix)]
    #[test]
    fn every_name_of_a_hard_linked_file_sees_the_new_text() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.whistle");
        let b = dir.path().join("b.whistle");
        std::fs::write(&a, "old").unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        replace_file(&a, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new");
    }

    #[test]
    fn an_error_names_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let nowhere = dir.path().join("missing").join("a.whistle");
        let e = replace_file(&nowhere, b"new").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(!e.to_string().contains(".whistle-"), "{e}");
    }
}
