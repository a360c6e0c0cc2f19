//! What a new password must be (`[password]`): long enough, not too long,
//! not one an attacker guesses early, and not the user's own name. Every
//! path that sets a password (`tessera user add` and `user passwd`, the
//! admin API, the self-service change, the first `admin`) goes through
//! [`Core::hash_new_password`], so they cannot disagree; a hash already
//! stored keeps working at login, and only the next change must comply.
//!
//! Length is counted in Unicode code points of the password as given:
//! Tessera hashes the bytes it receives and applies no RFC 8265
//! OpaqueString preparation, so the policy does not either.

use crate::error::{AuthError, AuthResult};
use crate::Core;
use tessera_model::config::PasswordConfig;
use tessera_model::names::{lookup_key, NameKind};
use zeroize::Zeroizing;
use zxcvbn::feedback::Warning;
use zxcvbn::Score;

/// Names shorter than this are refused only as the whole password: `al`
/// inside a password says nothing about it.
const NAME_INSIDE_MIN_CHARS: usize = 3;

/// Words that make a password easy to guess here, whoever the user is.
const CONTEXT_WORDS: [&str; 1] = ["tessera"];

/// Why `password` may not be `user`'s new password, or `Ok`. The message
/// says what to change and never repeats the password.
///
/// Errors: [`AuthError::InvalidInput`], checked in this order: shorter than
/// `min_length` or longer than `max_length` characters; equal to the
/// user's name, or containing it when the name has 3 characters or more
/// (letter case ignored); with `refuse_common`, a password zxcvbn expects
/// an attacker to find within 10^6 guesses.
pub fn check(cfg: &PasswordConfig, user: &str, password: &str) -> AuthResult<()> {
    let refuse = |m: String| Err(AuthError::InvalidInput(m));
    let chars = password.chars().count();
    if chars < cfg.min_length as usize {
        return refuse(format!("password must be at least {} characters", cfg.min_length));
    }
    if chars > cfg.max_length as usize {
        return refuse(format!("password must be at most {} characters", cfg.max_length));
    }
    let lowered = password.to_lowercase();
    // Stored names always have a key; any other text is compared lowercased.
    let name = lookup_key(NameKind::User, user).unwrap_or_else(|_| user.to_lowercase());
    if lowered == name {
        return refuse("password must not be the user name".into());
    }
    if name.chars().count() >= NAME_INSIDE_MIN_CHARS
        && (lowered.contains(&name) || lowered.contains(&name.replace(' ', "")))
    {
        return refuse("password must not contain the user name".into());
    }
    if cfg.refuse_common {
        if let Some(why) = too_guessable(password, user) {
            return refuse(why);
        }
    }
    Ok(())
}

/// zxcvbn's verdict: `None` when guessing the password takes more than a
/// million tries (score 2 or more), else what is wrong with it.
fn too_guessable(password: &str, user: &str) -> Option<String> {
    let mut inputs: Vec<&str> = CONTEXT_WORDS.to_vec();
    inputs.push(user);
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() > Score::One {
        return None;
    }
    let warning = estimate.feedback().and_then(|f| f.warning());
    Some(match warning {
        Some(
            Warning::ThisIsATop10Password | Warning::ThisIsATop100Password | Warning::ThisIsACommonPassword,
        ) => "password is among the most common passwords; choose another".into(),
        Some(Warning::ThisIsSimilarToACommonlyUsedPassword) => {
            "password is a common password with small changes; choose another".into()
        }
        Some(w) => {
            let hint = w.to_string();
            let hint = hint.trim_end_matches('.');
            let mut chars = hint.chars();
            let hint = match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect::<String>(),
                None => String::new(),
            };
            format!("password is too easy to guess ({hint}); choose a longer or less predictable one")
        }
        None => "password is too easy to guess; choose a longer or less predictable one".into(),
    })
}

impl Core {
    /// The hash to store for `password` as `user`'s new password, once it
    /// meets `[password]` ([`check`]). The check runs on the password
    /// workers, off the async runtime: a long password takes zxcvbn some
    /// milliseconds.
    ///
    /// Errors: [`AuthError::InvalidInput`] saying what to change;
    /// [`AuthError::Busy`] when the password workers are saturated.
    pub async fn hash_new_password(&self, user: &str, password: Zeroizing<String>) -> AuthResult<String> {
        let cfg = self.config.password;
        let (user, candidate) = (user.to_owned(), password.clone());
        self.passwords
            .run(move |_| check(&cfg, &user, &candidate))
            .await??;
        self.passwords.hash(password).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(cfg: &PasswordConfig, user: &str, password: &str) -> String {
        match check(cfg, user, password) {
            Err(AuthError::InvalidInput(m)) => m,
            other => panic!("{password:?} for {user:?}: {other:?}"),
        }
    }

    #[test]
    fn short_long_common_and_own_name_are_refused_saying_what_to_change() {
        let cfg = PasswordConfig::default();
        assert_eq!(
            refusal(&cfg, "carol", "x"),
            "password must be at least 8 characters"
        );
        assert_eq!(
            refusal(&cfg, "carol", " "),
            "password must be at least 8 characters"
        );
        assert_eq!(
            refusal(&cfg, "carol", "password"),
            "password is among the most common passwords; choose another"
        );
        assert_eq!(
            refusal(&cfg, "carol", "P@ssw0rd"),
            "password is a common password with small changes; choose another"
        );
        assert!(refusal(&cfg, "carol", "aaaaaaaaaaaa").contains("repeats like \"aaa\""));
        assert!(refusal(&cfg, "carol", "abcdefghijkl").contains("too easy to guess"));
        assert_eq!(
            refusal(&cfg, "Caroline", "caroline"),
            "password must not be the user name"
        );
        assert_eq!(
            refusal(&cfg, "Caroline", "my-CAROLINE-77"),
            "password must not contain the user name"
        );
        assert_eq!(
            refusal(&cfg, "Jane Doe", "JaneDoe-and-more"),
            "password must not contain the user name"
        );
        assert_eq!(
            refusal(&cfg, "carol", &"é".repeat(129)),
            "password must be at most 128 characters"
        );
        // 128 characters of four bytes each (the emoji from U+1F600,
        // shuffled): counted as characters, not bytes.
        let emoji: String = (0..128u32)
            .filter_map(|i| char::from_u32(0x1F600 + i * 37 % 128))
            .collect();
        assert_eq!((emoji.chars().count(), emoji.len()), (128, 512));
        check(&cfg, "carol", &emoji).unwrap();
    }

    #[test]
    fn ordinary_passwords_pass() {
        let cfg = PasswordConfig::default();
        for ok in [
            "kxqzmvbt",
            "next-password",
            "Tr0ub4dor&3",
            "correct horse battery staple",
        ] {
            check(&cfg, "carol", ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        // A short name only counts as the whole password.
        check(&cfg, "al", "also-fine-7Qz").unwrap();
        for _ in 0..20 {
            check(&cfg, "admin", &crate::random::password()).unwrap();
        }
    }

    #[test]
    fn the_common_check_and_the_lengths_follow_the_configuration() {
        let relaxed = PasswordConfig {
            min_length: 1,
            refuse_common: false,
            ..PasswordConfig::default()
        };
        check(&relaxed, "carol", "password").unwrap();
        check(&relaxed, "carol", "x").unwrap();
        assert_eq!(
            refusal(&relaxed, "carol", "carol"),
            "password must not be the user name"
        );
        let asvs = PasswordConfig {
            min_length: 12,
            ..PasswordConfig::default()
        };
        assert_eq!(
            refusal(&asvs, "carol", "kxqzmvbt"),
            "password must be at least 12 characters"
        );
    }
}
