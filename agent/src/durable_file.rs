//! Small files the agent keeps in its data dir (node ID, pid file, member snapshot).

use std::path::Path;

/// Writes a small file via a temporary name and rename, so a crash never leaves it half-written.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
