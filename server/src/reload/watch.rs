//! Watching the bundle directory. The directory is watched, not its files:
//! editors that save by writing a temporary and renaming it over the
//! original (vim, most IDEs) replace the file a file watch would follow,
//! and a file deleted and created again is a new file. The debouncer
//! gathers an editor's burst of events into one reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::Handle;

/// How often the path of the bundle is looked at again: a directory
/// renamed over it, or a symbolic link switched to another, leaves the
/// watch on the directory it found at first.
const RELOOK: Duration = Duration::from_secs(1);

/// A running watch; dropping it stops watching.
pub struct Watch {
    stop: Arc<AtomicBool>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Watches `dir` and asks `reload` for a reload after each burst of
/// changes to bundle files, `debounce` after the burst's last event. When
/// `dir` comes to name another directory (a new version renamed over it,
/// a link switched), the watch moves to that one and the bundle is read
/// again.
pub fn start(dir: &Path, debounce: Duration, reload: Handle) -> Result<Watch, String> {
    let mut debouncer = watch_dir(dir, debounce, reload.clone())?;
    let mut seen = identity(dir);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("policy-watch".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(RELOOK);
                let now = identity(&dir);
                if now == seen || now.is_none() {
                    // Gone for a moment (between two renames): wait for
                    // what takes its place.
                    continue;
                }
                match watch_dir(&dir, debounce, reload.clone()) {
                    Ok(d) => {
                        debouncer = d;
                        seen = now;
                        tracing::info!(
                            "`{}` names another directory now: watching that one",
                            dir.display()
                        );
                        reload.trigger("file watch (bundle directory replaced)");
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            drop(debouncer);
        })
        .map_err(|e| format!("cannot watch the policy bundle: {e}"))?;
    Ok(Watch { stop })
}

/// Which directory `dir` names now: its real path, its inode and when it
/// was made. A directory renamed over another keeps the path but not the
/// inode; one deleted and made again may get the freed inode back (ext4
/// hands it on at once), but not its birth time.
fn identity(dir: &Path) -> Option<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let real = std::fs::canonicalize(dir).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let ino = u64::from(meta.is_dir());
    Some((real, ino, meta.created().ok()))
}

type DirDebouncer = Debouncer<RecommendedWatcher, RecommendedCache>;

fn watch_dir(dir: &Path, debounce: Duration, reload: Handle) -> Result<DirDebouncer, String> {
    let roots = roots(dir);
    let mut debouncer = new_debouncer(debounce, None, move |res: DebounceEventResult| match res {
        Ok(events) => {
            let relevant = events.iter().any(|e| {
                !matches!(e.kind, EventKind::Access(_))
                    && e.paths
                        .iter()
                        .any(|p| roots.iter().any(|r| touches_bundle(r, p)))
            });
            if relevant {
                reload.trigger("file watch");
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!("watching the policy bundle: {e}");
            }
            // Events may have been lost (an overflowing queue): read the
            // directory again rather than miss a change.
            reload.trigger("file watch (rescan)");
        }
    })
    .map_err(|e| format!("cannot watch the policy bundle: {e}"))?;
    debouncer
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch `{}`: {e}", dir.display()))?;
    Ok(debouncer)
}

/// The forms of `dir` the watcher's paths may start with. It reports
/// absolute paths, so a bundle given as `policies/wuhou` must be compared
/// as absolute (without that, no save under a relative `--policy` was
/// ever noticed); the canonical form covers a bundle reached through a
/// symbolic link.
fn roots(dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![dir.to_path_buf()];
    for r in [std::path::absolute(dir), std::fs::canonicalize(dir)]
        .into_iter()
        .flatten()
    {
        if !roots.contains(&r) {
            roots.push(r);
        }
    }
    roots
}

/// Whether a changed path may change the bundle: a bundle file, or a
/// folder (a folder renamed or removed takes its files with it). Hidden
/// files — editors' swap files and our own temporaries — never do.
fn touches_bundle(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let rel = rel.to_string_lossy().replace('\\', "/");
    if rel.split('/').any(|c| c.starts_with('.')) {
        return false;
    }
    whistle_grammar::bundle::is_bundle_file(&rel) || !rel.contains('.')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn only_bundle_files_and_folders_count() {
        let root = Path::new("/b");
        assert!(touches_bundle(root, Path::new("/b/lists/a.whistle")));
        assert!(touches_bundle(root, Path::new("/b/areas.yaml")));
        assert!(touches_bundle(root, Path::new("/b/lists")));
        assert!(!touches_bundle(root, Path::new("/b/.a.whistle.swp")));
        assert!(!touches_bundle(root, Path::new("/b/.a.whistle.123.tmp")));
        assert!(!touches_bundle(root, Path::new("/b/notes.txt")));
        assert!(!touches_bundle(root, Path::new("/elsewhere/a.whistle")));
    }

    #[test]
    fn a_relative_bundle_is_also_known_by_its_absolute_path() {
        let cwd = std::env::current_dir().unwrap();
        let r = roots(Path::new("src"));
        assert!(
            r.iter()
                .any(|root| touches_bundle(root, &cwd.join("src/a.whistle")))
        );
        assert!(
            !r.iter()
                .any(|root| touches_bundle(root, &cwd.join("src/a.txt")))
        );
    }
}
