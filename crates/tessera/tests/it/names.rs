//! One identity per visible name (SPEC §5, RFC 8265 UsernameCaseMapped):
//! through the CLI, names that look the same are refused as the same
//! account, invisible and bidi-control characters are refused by name, and
//! a login or command typed in another normalization form or letter case
//! finds the one account.

use crate::harness::{backends, Options, TestServer, ADMIN_PASSWORD};

const FAST_HASHES: &str = "[password]\nmemory_kib = 1024\niterations = 1\n";
/// `José` as most keyboards type it: é is one code point (NFC).
const JOSE: &str = "Jos\u{e9}";
/// `jose` + U+0301 COMBINING ACUTE ACCENT: the same name, decomposed.
const JOSE_DECOMPOSED: &str = "jose\u{301}";
const PASSWORD: &str = "jose-password-1";

fn user_names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn names_that_look_the_same_are_one_account() {
    for backend in backends() {
        let t = TestServer::configure(&Options {
            backend,
            toml: FAST_HASHES.into(),
            ..Default::default()
        })
        .await;
        t.cli(&["init"], None).ok();
        t.cli(
            &["user", "add", JOSE, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        )
        .ok();
        for twin in [JOSE_DECOMPOSED, "JOS\u{c9}", "ＪＯＳÉ"] {
            t.cli(
                &["user", "add", twin, "--password-stdin"],
                Some("other-password\n"),
            )
            .fails_with("already exists");
        }
        // Invisible and bidi-control characters: refused, the code point named.
        t.cli(
            &["user", "add", "admin\u{200b}", "--password-stdin"],
            Some("other-password\n"),
        )
        .fails_with("may not contain U+200B (ZERO WIDTH SPACE)");
        t.cli(
            &["user", "add", "nimda\u{202e}", "--password-stdin"],
            Some("other-password\n"),
        )
        .fails_with("U+202E (RIGHT-TO-LEFT OVERRIDE)");
        let users = t.cli(&["user", "list", "--json"], None).ok().json();
        assert_eq!(user_names(&users), ["admin", JOSE], "{backend:?}");

        // Commands find a user, role or client in any spelling.
        t.cli(&["role", "add", "Auditor"], None).ok();
        t.cli(&["role", "add", "AUDITOR"], None)
            .fails_with("already exists");
        t.cli(&["role", "grant", "auditor", "--user", "JOSE\u{301}"], None)
            .ok();
        t.cli(&["user", "disable", JOSE_DECOMPOSED], None).ok();
        t.cli(&["user", "enable", "jos\u{e9}"], None).ok();
        t.cli(&["user", "unlock", "admin\u{200b}"], None)
            .fails_with("U+200B");
        t.cli(&["client", "add", "My-App", "--public"], None).ok();
        t.cli(&["client", "add", "my-app", "--public"], None)
            .fails_with("already exists");
        t.cli(&["client", "remove", "MY-APP"], None).ok();
        let users = t.cli(&["user", "list", "--json"], None).ok().json();
        let jose = &users[1];
        assert_eq!(jose["enabled"], true, "{backend:?}");
        assert_eq!(jose["roles"][0]["name"], "Auditor", "{backend:?}");

        // A login typed in the other normalization form is José's login.
        let t = t.boot().await;
        let res = t
            .client
            .get(t.url("/login"))
            .basic_auth(JOSE_DECOMPOSED, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{backend:?}");
        assert!(res.headers().contains_key("X-SDS-AUTH-TOKEN"));
        let body = res.text().await.unwrap();
        assert!(body.contains(&format!("<user>{JOSE}</user>")), "{body}");

        // A login name with an invisible character is refused, and says why.
        let res = t
            .client
            .get(t.url("/login"))
            .basic_auth("admin\u{200b}", Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{backend:?}");
        let body = res.text().await.unwrap();
        assert!(body.contains("U+200B (ZERO WIDTH SPACE)"), "{body}");
        t.halt().await;
    }
}
