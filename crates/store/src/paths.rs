//! Where Parley keeps its files: the platform config and data directories
//! (XDG on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on
//! Windows), overridable for tests and for several headless instances.

use std::path::{Path, PathBuf};

/// The config and data directories of one Parley instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Holds `config.toml`.
    pub config_dir: PathBuf,
    /// Holds the SQLite store and recordings.
    pub data_dir: PathBuf,
}

/// Errors finding the directories.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    /// The platform gave no home directory to derive the defaults from.
    #[error("no home directory: pass --config-dir and --data-dir")]
    NoHome,
}

impl Paths {
    /// The platform defaults, with either directory replaced when given.
    pub fn resolve(config_dir: Option<&Path>, data_dir: Option<&Path>) -> Result<Self, PathsError> {
        if let (Some(c), Some(d)) = (config_dir, data_dir) {
            return Ok(Self {
                config_dir: c.to_owned(),
                data_dir: d.to_owned(),
            });
        }
        let dirs =
            directories::ProjectDirs::from("org", "Parley", "Parley").ok_or(PathsError::NoHome)?;
        Ok(Self {
            config_dir: config_dir.map_or_else(|| dirs.config_dir().to_owned(), Path::to_owned),
            data_dir: data_dir.map_or_else(|| dirs.data_dir().to_owned(), Path::to_owned),
        })
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dirs_win() {
        let p = Paths::resolve(Some(Path::new("/a")), Some(Path::new("/b"))).unwrap();
        assert_eq!(p.config_file(), Path::new("/a/config.toml"));
        assert_eq!(p.data_dir, Path::new("/b"));
    }
}
