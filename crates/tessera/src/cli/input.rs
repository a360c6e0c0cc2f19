//! Secrets from standard input: read only when asked for (`--*-stdin`),
//! and never silently ignored when piped without the flag.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal};
use zeroize::Zeroizing;

/// Reads one line from standard input as a secret, without its line
/// break.
///
/// Errors: standard input cannot be read, or the line is empty.
pub fn read_secret_stdin(what: &str) -> Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut buf)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let line = buf.strip_suffix('\n').unwrap_or(&buf);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        bail!("the {what} on standard input is empty");
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// Refuses to go on when something is piped to a command that was not
/// told to read it (`echo pw | tessera user add bob`): the piped secret
/// would be ignored and another one generated. `flag` reads it instead.
/// A terminal, or `/dev/null` (cron, systemd, `</dev/null`), is nothing
/// piped.
pub fn refuse_ignored_stdin(flag: &str, what: &str) -> Result<()> {
    if stdin_may_carry_data() {
        bail!(
            "standard input is not a terminal, but {flag} was not given: pass {flag} to read the {what} from \
             standard input (or run with </dev/null to have one generated)"
        );
    }
    Ok(())
}

/// Whether standard input is a pipe, a socket or a non-empty file.
#[cfg(unix)]
fn stdin_may_carry_data() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return false;
    }
    let Ok(fd) = stdin.as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    let kind = meta.file_type();
    kind.is_fifo() || kind.is_socket() || (kind.is_file() && meta.len() > 0)
}

#[cfg(not(unix))]
fn stdin_may_carry_data() -> bool {
    !std::io::stdin().is_terminal()
}
