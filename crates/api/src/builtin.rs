//! The contract's configuration folder built into the binary, so that `itsm`
//! runs from any folder: the default when no `ITSM_CONFIG_DIR` is given. It
//! stays data (the same TOML files), not Rust code.

use catalog::ConfigFiles;
use include_dir::{Dir, include_dir};

static CONFIG: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../config");

/// The built-in configuration's catalog and calendar files.
pub fn config() -> ConfigFiles {
    let mut files = Vec::new();
    for sub in ["catalog", "calendars"] {
        let Some(dir) = CONFIG.get_dir(sub) else { continue };
        for file in dir.files() {
            let path = file.path().to_string_lossy().replace('\\', "/");
            if path.ends_with(".toml")
                && let Some(text) = file.contents_utf8()
            {
                files.push((path, text.to_owned()));
            }
        }
    }
    ConfigFiles::built_in(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_configuration_is_the_folders() {
        let files = super::config();
        for name in [
            "catalog/contract.toml",
            "catalog/items.toml",
            "calendars/windows.toml",
            "calendars/cn-2026.toml",
        ] {
            let on_disk =
                std::fs::read_to_string(format!("{}/../../config/{name}", env!("CARGO_MANIFEST_DIR")))
                    .expect("the folder's file");
            assert_eq!(files.get(name), Some(on_disk.as_str()), "{name}");
        }
    }
}
