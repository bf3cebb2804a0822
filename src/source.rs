//! Stage "object stream", local side: the log files named on the command line (files, or
//! directories walked recursively, in name order). S3 objects are read by the Lambda's edge.
//!
//! Symlinks are followed, to files and to directories alike, wherever they are; a link back to
//! a directory being walked (a loop) is not followed and is reported once as that path's error,
//! as `find -L` does. A file or directory reached again through another path (a second link,
//! the same path named twice) is skipped: no file is ever read twice in one run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use walkdir::{DirEntry, WalkDir};

/// One input named on the command line: a file to read, or a path that cannot be read (reported
/// as that file's error, without stopping the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalInput {
    File(PathBuf),
    Unreadable(PathBuf, String),
}

/// Expands paths into files: directories recursively (sorted, hidden entries skipped), files as
/// given, each file once. See the module documentation for symlinks.
pub fn local_inputs(paths: &[PathBuf]) -> Vec<LocalInput> {
    let mut walk = LocalWalk::default();
    paths.iter().flat_map(|p| walk.inputs(p)).collect()
}

/// What identifies a file or directory whatever the path it is reached by.
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(unix)]
fn file_id(entry: &DirEntry) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    // With links followed, the metadata is the target's.
    let m = entry.metadata().ok()?;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(entry: &DirEntry) -> Option<FileId> {
    std::fs::canonicalize(entry.path()).ok()
}

/// Walks local paths one after the other, remembering what it has listed so that no file or
/// directory is listed twice across them.
#[derive(Debug, Default)]
pub struct LocalWalk {
    seen: HashSet<FileId>,
}

impl LocalWalk {
    /// The files under `path` (or `path` itself) not listed before, in name order, with the
    /// paths that cannot be read.
    pub fn inputs(&mut self, path: &Path) -> Vec<LocalInput> {
        let seen = &mut self.seen;
        WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            // Hidden entries are skipped below the paths given; a file or directory already
            // listed (through another link or path) is skipped, a directory with all it holds.
            .filter_entry(|e| {
                let hidden = e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
                !hidden && file_id(e).is_none_or(|id| seen.insert(id))
            })
            .filter_map(|entry| match entry {
                Ok(e) if e.file_type().is_dir() => None,
                Ok(e) => Some(LocalInput::File(e.into_path())),
                Err(err) => {
                    let at = err.path().unwrap_or(path).to_owned();
                    let why = match (err.loop_ancestor(), err.io_error()) {
                        (Some(dir), _) => {
                            format!("a symlink loop back to {}: not followed", dir.display())
                        }
                        (None, Some(io)) => io.to_string(),
                        (None, None) => err.to_string(),
                    };
                    Some(LocalInput::Unreadable(at, why))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_directories_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/2.log"), "x").unwrap();
        std::fs::write(dir.path().join("a.log"), "x").unwrap();
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        let got = local_inputs(&[dir.path().to_owned(), dir.path().join("missing")]);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], LocalInput::File(dir.path().join("a.log")));
        assert_eq!(got[1], LocalInput::File(dir.path().join("b/2.log")));
        assert!(matches!(got[2], LocalInput::Unreadable(..)));
    }

    fn files(inputs: &[LocalInput]) -> Vec<PathBuf> {
        inputs
            .iter()
            .filter_map(|i| match i {
                LocalInput::File(p) => Some(p.clone()),
                LocalInput::Unreadable(..) => None,
            })
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_one_error_and_its_files_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("logs");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.log"), "x").unwrap();
        std::os::unix::fs::symlink(&root, root.join("self")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("sub/up")).unwrap();
        let got = local_inputs(std::slice::from_ref(&root));
        assert_eq!(files(&got), [root.join("a.log")], "{got:?}");
        let errors: Vec<&LocalInput> = got
            .iter()
            .filter(|i| matches!(i, LocalInput::Unreadable(..)))
            .collect();
        assert_eq!(errors.len(), 2, "{got:?}");
        assert!(
            matches!(&errors[0], LocalInput::Unreadable(p, e)
                if *p == root.join("self") && e.contains("loop")),
            "{got:?}"
        );
        assert!(
            matches!(&errors[1], LocalInput::Unreadable(p, _) if *p == root.join("sub/up")),
            "{got:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_and_no_file_is_listed_twice() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("o.log"), "x").unwrap();
        std::fs::write(dir.path().join("f.log"), "x").unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.log"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d1")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d2")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("f.log"), root.join("f1.log")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("f.log"), root.join("f2.log")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), root.join("dangling.log")).unwrap();
        // The tree given twice, a file in it and the file a link points to given again.
        let got = local_inputs(&[
            root.clone(),
            root.join("a.log"),
            dir.path().join("f.log"),
            root.clone(),
        ]);
        assert_eq!(
            files(&got),
            [
                root.join("a.log"),
                root.join("d1/o.log"),
                root.join("f1.log")
            ],
            "{got:?}"
        );
        assert_eq!(got.len(), 4, "the dangling link is an error: {got:?}");
        assert!(
            matches!(&got[2], LocalInput::Unreadable(p, _) if *p == root.join("dangling.log")),
            "{got:?}"
        );
        // A symlink named on the command line is followed.
        assert_eq!(
            files(&local_inputs(&[root.join("d2")])),
            [root.join("d2/o.log")]
        );
    }
}
