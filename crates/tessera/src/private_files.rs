//! Files and directories only their owner can read: the data dir, the
//! master key, the self-signed TLS key, the generated admin password. Used
//! by `runtime`, `tls` and the CLI, so neither of the first two needs the
//! other.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;

/// Refuses a secret file (`what`: "master key file", "TLS private key")
/// that any user but its owner may read or write: any group or other
/// permission bit set, the way OpenSSH refuses an unprotected private key.
/// The message names the file and the `chmod 600` that fixes it. A key
/// someone else could read may already be copied, so Tessera will not
/// start on it quietly (docs/decisions.md, "Key files other users can
/// read: refused, not warned about").
pub fn ensure_private(path: &Path, what: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).with_context(|| format!("reading {what} {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the {what} {path} can be read or written by other users (mode {mode:04o}); \
                 Tessera refuses to start with it: run `chmod 600 {path}` (the file must be readable \
                 only by the user Tessera runs as){hint}",
                path = path.display(),
                hint = if mode & 0o044 != 0 {
                    ", and consider the key exposed if other users could log in to this machine"
                } else {
                    ""
                }
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// Who this process runs as, for messages about files it may not open:
/// `user NAME (uid N)`.
pub fn process_user() -> String {
    let name = whoami::fallible::username().unwrap_or_else(|_| "?".to_owned());
    #[cfg(unix)]
    {
        format!("user {name} (uid {})", rustix::process::getuid().as_raw())
    }
    #[cfg(not(unix))]
    {
        format!("user {name}")
    }
}

/// An I/O error on `path` as one line: `doing PATH: cause`, and when the
/// cause is a permission, which user Tessera runs as and the `access` it
/// needs there ("read", "write").
pub fn io_error(doing: &str, path: &Path, e: &std::io::Error, access: &str) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        anyhow::anyhow!(
            "{doing} {}: permission denied; Tessera runs as {} and needs {access} access there",
            path.display(),
            process_user()
        )
    } else {
        anyhow::anyhow!("{doing} {}: {e}", path.display())
    }
}

/// Creates `dir` (and parents) readable only by its owner when it is new.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_error("creating directory", dir, &e, "write"))
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| io_error("creating", path, &e, "write"))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
