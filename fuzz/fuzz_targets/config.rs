//! The configuration file: any bytes as `tessera.toml`, read by the real
//! loader (`tessera::config::load`: figment, the core's `Config`, the
//! doors' tables, `validate`, the gateway rules). A file that loads must
//! render (`tessera config show`) to a file that loads again (once its
//! redacted secrets are filled back in). The same
//! text also goes straight to `Config` through `toml` and `validate`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use tessera::config::{load, render, Overrides};

fn dir() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        // Keys the loader takes from the environment would mask the file.
        for (k, _) in std::env::vars() {
            if k.starts_with("TESSERA_") && !k.starts_with("TESSERA_FUZZ_") {
                std::env::remove_var(k);
            }
        }
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let a = d.path().join("tessera.toml");
        let b = d.path().join("rendered.toml");
        (d, a, b)
    })
}

fuzz_target!(|bytes: &[u8]| {
    let (_, file, rendered) = dir();
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(config) = toml::from_str::<tessera_model::config::Config>(text) {
            let _ = config.validate();
            let _ = tessera_core::policy::Policy::compile(&config.gateway);
        }
        let _ = toml::from_str::<tessera_http::doors::DoorsConfig>(text);
    }
    std::fs::write(file, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
    let loaded = load(Some(file), &Overrides::default());
    if tessera_fuzz::world::trace() {
        eprintln!(
            "LOADED {:?}",
            loaded.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"))
        );
    }
    let Ok(settings) = loaded else {
        return;
    };
    let text = render(&settings).unwrap_or_else(|e| panic!("a loaded configuration does not render: {e:#}"));
    // Secrets render as "[redacted]", too short for a token: an operator
    // pastes the real ones back.
    let text = text.replace("\"[redacted]\"", "\"a-secret-pasted-back-0123456789\"");
    std::fs::write(rendered, &text).unwrap_or_else(|e| panic!("writing {}: {e}", rendered.display()));
    if let Err(e) = load(Some(rendered), &Overrides::default()) {
        panic!("the rendered configuration does not load: {e:#}\n--- rendered:\n{text}");
    }
});
