//! The user's folders EventLens reads and writes by default: where sessions are recorded
//! and exported, and where the clusters file is. Found by the `directories` crate, so each
//! platform's convention holds: on Linux `$XDG_DATA_HOME/eventlens` (else
//! `~/.local/share/eventlens`) and `$XDG_CONFIG_HOME/eventlens` (else `~/.config/eventlens`);
//! on macOS `~/Library/Application Support/io.github.eventlens.EventLens`; on Windows under
//! `%APPDATA%\eventlens\EventLens`. Shared by the window (recordings, exports) and the Kafka
//! source (the clusters file).

use std::path::PathBuf;

use directories::ProjectDirs;

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("io.github", "eventlens", "EventLens")
}

/// Where recordings and exports go when no folder was given: `<data>/sessions`. `None` when
/// the platform names no home folder.
pub fn sessions_dir() -> Option<PathBuf> {
    project().map(|p| p.data_dir().join("sessions"))
}

/// Where the clusters file is looked for by default: `<config>/clusters.toml`.
pub fn clusters_file() -> Option<PathBuf> {
    project().map(|p| p.config_dir().join("clusters.toml"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_linux_folders_are_where_they_always_were() {
        // Read from the environment the tests run in, as the code does.
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.as_ref().map(|h| h.join(".local/share")));
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        assert_eq!(sessions_dir(), data.map(|d| d.join("eventlens/sessions")));
        assert_eq!(clusters_file(), config.map(|c| c.join("eventlens/clusters.toml")));
    }
}
