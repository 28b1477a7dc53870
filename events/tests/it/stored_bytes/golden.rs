//! Golden files: bytes as a version of shop stored them, checked into the repository.
//!
//! A file is written once, when its version is new, and never again: a test that finds
//! the current code writing other bytes for a version that already has a file fails,
//! because rows of that version are already stored somewhere. `SHOP_WRITE_FIXTURES=1`
//! writes the files that are missing and leaves every existing one alone. (Also used by
//! write-side's snapshot fixtures.)

use std::path::{Path, PathBuf};

/// Set to `1` to write missing golden files.
pub const WRITE_VAR: &str = "SHOP_WRITE_FIXTURES";

/// The golden file `name` under `dir`.
pub fn path(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(name)
}

/// Checks what the code writes for a version against that version's golden file, writing
/// the file first if it is missing and `SHOP_WRITE_FIXTURES=1`.
pub fn check_written(path: &Path, written: &[u8]) {
    if !path.exists() && std::env::var(WRITE_VAR).as_deref() == Ok("1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, written).unwrap();
    }
    let stored = read(path);
    assert!(
        stored == written,
        "{} holds other bytes than the current code writes for its version: a stored \
         layout changed. Bump the version (an event's keeps an upcast from the old one) \
         instead of editing the file.\n stored: {stored:02x?}\nwritten: {written:02x?}",
        path.display(),
    );
}

/// The bytes of a golden file, which must exist.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| {
        panic!(
            "no golden file {} ({error}): a new version's file is written by running the \
             test with {WRITE_VAR}=1; an old version's file must come from the repository",
            path.display()
        )
    })
}
