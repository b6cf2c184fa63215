//! Where the Record and Export buttons write: new, timestamped files in the user's data
//! folder (`crate::pipeline::folders::sessions_dir`: on Linux `$XDG_DATA_HOME/eventlens/sessions`,
//! else `~/.local/share/eventlens/sessions`), or in a folder the app was given.

use std::path::{Path, PathBuf};

/// A fresh session file path, creating its folder.
pub fn new_session_path(dir: Option<&Path>) -> std::io::Result<PathBuf> {
    new_path(dir, "eventlens", "jsonl.zst")
}

/// A fresh `prefix-<time>.extension` path, creating its folder; never an existing file.
pub fn new_path(dir: Option<&Path>, prefix: &str, extension: &str) -> std::io::Result<PathBuf> {
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => crate::pipeline::folders::sessions_dir()
            .ok_or_else(|| std::io::Error::other("no home folder to keep sessions in; choose a folder"))?,
    };
    std::fs::create_dir_all(&dir)?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let mut path = dir.join(format!("{prefix}-{stamp}.{extension}"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{prefix}-{stamp}-{n}.{extension}"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_new_compressed_session_files() {
        let dir = tempfile::tempdir().unwrap();
        let first = new_session_path(Some(dir.path())).unwrap();
        assert!(first.to_string_lossy().ends_with(".jsonl.zst"));
        std::fs::write(&first, b"").unwrap();
        let second = new_session_path(Some(dir.path())).unwrap();
        assert_ne!(first, second, "an existing file is never overwritten");
    }
}
