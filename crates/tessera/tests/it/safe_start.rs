//! Issue 15, "safe by default" at start: `tessera serve` refuses, before it
//! writes anything, to start without the master key of an existing store,
//! with a key file or TLS private key other users can read, or on a store
//! it cannot open; each time with one message saying where and what to do.

use crate::harness::{backends, CliOutput, Options, TestServer};
use crate::log_capture;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Runs `tessera serve` on `t`'s configuration (as the user `uid`, when
/// given) and expects it to refuse to start: what it printed once it
/// exited. A server that starts instead is killed and the test fails.
async fn serve_refused(t: &TestServer, uid: Option<u32>) -> CliOutput {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.arg("--config")
        .arg(&t.config_path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(t.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in tessera::config::NAMED_ENV {
        cmd.env_remove(var);
    }
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("tessera serve should have refused to start, but it kept running")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    log_capture::save("serve", &stderr);
    let out = CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    };
    assert!(
        !out.stdout.contains("tessera listening"),
        "serve started: {}",
        out.stdout
    );
    assert!(!out.stderr.contains("panicked"), "serve panicked: {}", out.stderr);
    out
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The one `error:` line of a refusal.
fn error_line(out: &CliOutput) -> String {
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {}", out.stderr);
    errors[0].to_owned()
}

#[tokio::test]
async fn a_missing_master_key_beside_a_store_is_refused_not_regenerated() {
    for backend in backends() {
        let t = TestServer::configure(&Options {
            backend,
            ..Default::default()
        })
        .await;
        // A first start sets the store up with the generated key.
        t.process_peer().await.stop().await;
        let key_path = t.data_dir().join("master.key");
        let key = std::fs::read(&key_path).unwrap();
        std::fs::remove_file(&key_path).unwrap();

        let out = serve_refused(&t, None).await;
        assert_ne!(out.code, 0, "{backend:?}");
        let line = error_line(&out);
        for needle in [
            key_path.display().to_string().as_str(),
            "missing",
            "backup",
            "TESSERA_MASTER_KEY",
            "No new key was written",
        ] {
            assert!(line.contains(needle), "{backend:?}: {needle:?} in {line}");
        }
        assert!(
            !key_path.exists(),
            "{backend:?}: a new master.key was written beside the existing store"
        );

        // The key restored from the backup: the store is whole and serves.
        std::fs::write(&key_path, key).unwrap();
        chmod(&key_path, 0o600);
        t.process_peer().await.stop().await;
    }
}

#[tokio::test]
async fn a_master_key_file_other_users_can_read_is_refused() {
    let t = TestServer::configure(&Options::default()).await;
    t.cli(&["init"], None).ok();
    let key_path = t.data_dir().join("master.key");
    for mode in [0o644, 0o640, 0o604] {
        chmod(&key_path, mode);
        let out = serve_refused(&t, None).await;
        assert_ne!(out.code, 0);
        let line = error_line(&out);
        assert!(line.contains(&key_path.display().to_string()), "{mode:o}: {line}");
        assert!(
            line.contains(&format!("chmod 600 {}", key_path.display())),
            "{mode:o}: {line}"
        );
        assert!(line.contains(&format!("mode {mode:04o}")), "{mode:o}: {line}");
    }
    chmod(&key_path, 0o600);
    t.process_peer().await.stop().await;
}

#[tokio::test]
async fn a_tls_private_key_other_users_can_read_is_refused() {
    // The self-signed key Tessera wrote itself.
    let t = TestServer::configure(&Options::default()).await;
    t.process_peer().await.stop().await;
    let key_path = t.data_dir().join("tls/self-signed.key");
    chmod(&key_path, 0o644);
    let out = serve_refused(&t, None).await;
    assert_ne!(out.code, 0);
    let line = error_line(&out);
    assert!(line.contains("TLS private key"), "{line}");
    assert!(
        line.contains(&format!("chmod 600 {}", key_path.display())),
        "{line}"
    );

    // The operator's own `[server] tls_key`.
    let (cert, key) = (t.dir.path().join("own.crt"), t.dir.path().join("own.key"));
    std::fs::copy(t.data_dir().join("tls/self-signed.crt"), &cert).unwrap();
    std::fs::copy(&key_path, &key).unwrap();
    chmod(&key, 0o640);
    let config = std::fs::read_to_string(&t.config_path).unwrap().replace(
        "tls = \"self-signed\"",
        &format!(
            "tls = \"files\"\ntls_cert = {:?}\ntls_key = {:?}",
            cert.display().to_string(),
            key.display().to_string()
        ),
    );
    std::fs::write(&t.config_path, config).unwrap();
    let out = serve_refused(&t, None).await;
    assert_ne!(out.code, 0);
    let line = error_line(&out);
    assert!(line.contains(&format!("chmod 600 {}", key.display())), "{line}");
    chmod(&key, 0o600);
    t.process_peer().await.stop().await;
}

#[tokio::test]
async fn a_corrupt_sqlite_store_is_one_message_with_advice() {
    let t = TestServer::configure(&Options::default()).await;
    t.cli(&["init"], None).ok();
    let db = t.data_dir().join("tessera.db");
    std::fs::write(&db, "this is not a database, whatever it was before ".repeat(200)).unwrap();

    let out = serve_refused(&t, None).await;
    assert_ne!(out.code, 0);
    let line = error_line(&out);
    assert!(line.contains(&db.display().to_string()), "{line}");
    assert!(line.contains("backup"), "{line}");
    assert!(line.contains("move it aside"), "{line}");
    assert_eq!(
        line.matches("file is not a database").count(),
        1,
        "the driver's words once: {line}"
    );
    // The CLI commands open the store the same way.
    let line = error_line(t.cli(&["user", "list"], None).fails_with("backup"));
    assert_eq!(line.matches("file is not a database").count(), 1, "{line}");
}

#[tokio::test]
async fn an_unwritable_sqlite_store_names_the_path_and_the_user() {
    let t = TestServer::configure(&Options::default()).await;
    t.cli(&["init"], None).ok();
    let data = t.data_dir();
    let db = data.join("tessera.db");
    // Root may write anywhere: as root, run Tessera as `nobody` on a data
    // dir it cannot enter; as anyone else, take away the dir's write bit.
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let (uid, user) = if root {
        chmod(t.dir.path(), 0o755);
        chmod(&t.config_path, 0o644);
        (Some(65534), "uid 65534")
    } else {
        chmod(&data, 0o500);
        (None, "")
    };
    let out = serve_refused(&t, uid).await;
    chmod(&data, 0o700);
    assert_ne!(out.code, 0);
    let line = error_line(&out);
    assert!(line.contains(&db.display().to_string()), "{line}");
    assert!(line.contains("Tessera runs as user"), "{line}");
    assert!(line.contains(user), "{line}");
    assert!(line.contains("read and write access"), "{line}");
}
