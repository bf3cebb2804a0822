//! Stage "object stream", local side: the log files named on the command line (files, or
//! directories walked recursively, in name order). S3 objects are read by the Lambda's edge.

use std::path::{Path, PathBuf};

/// One input named on the command line: a file to read, or a path that cannot be read (reported
/// as that file's error, without stopping the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalInput {
    File(PathBuf),
    Unreadable(PathBuf, String),
}

/// Expands paths into files: directories recursively (sorted, hidden entries skipped), files as
/// given.
pub fn local_inputs(paths: &[PathBuf]) -> Vec<LocalInput> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out);
    }
    out
}

fn walk(path: &Path, out: &mut Vec<LocalInput>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            out.push(LocalInput::Unreadable(path.to_owned(), e.to_string()));
            return;
        }
    };
    if !meta.is_dir() {
        out.push(LocalInput::File(path.to_owned()));
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            out.push(LocalInput::Unreadable(path.to_owned(), e.to_string()));
            return;
        }
    };
    entries.sort();
    for e in entries {
        let hidden = e
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden {
            walk(&e, out);
        }
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
}
