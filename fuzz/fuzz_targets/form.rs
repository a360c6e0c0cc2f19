//! Form bodies (`extract::Form::parse`, RFC 6749 §3.2: defined parameters
//! once, unknown ones ignored) and query strings (`query_params`,
//! `query_flag`) on any bytes.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tessera_http::extract::{query_flag, query_params, Form};

const DEFINED: [&str; 8] = [
    "grant_type",
    "username",
    "password",
    "scope",
    "client_id",
    "client_secret",
    "refresh_token",
    "token",
];

#[derive(Arbitrary, Debug)]
struct Case {
    /// Which of `DEFINED` the endpoint defines (a bit each).
    defined: u8,
    body: Vec<u8>,
    query: String,
    flag: String,
}

fuzz_target!(|case: Case| {
    let defined: Vec<&str> = DEFINED
        .iter()
        .enumerate()
        .filter(|(i, _)| case.defined & (1 << i) != 0)
        .map(|(_, d)| *d)
        .collect();
    let pairs: Option<Vec<(String, String)>> = serde_urlencoded::from_bytes(&case.body).ok();
    match (Form::parse(&case.body, &defined), pairs) {
        (Ok(form), Some(pairs)) => {
            for d in &defined {
                let given: Vec<&String> = pairs.iter().filter(|(k, _)| k == d).map(|(_, v)| v).collect();
                assert!(given.len() <= 1, "{d:?} given twice was accepted");
                assert_eq!(form.has(d), !given.is_empty(), "{d:?}");
                let value = given.first().map(|v| v.as_str()).filter(|v| !v.is_empty());
                assert_eq!(form.get(d), value, "{d:?}");
                assert_eq!(form.require(d).ok(), value, "{d:?}");
            }
        }
        (Err(why), Some(pairs)) => {
            let repeated = defined
                .iter()
                .any(|d| pairs.iter().filter(|(k, _)| k == d).count() > 1);
            assert!(repeated, "refused without a repeated defined parameter: {why}");
        }
        (Ok(_), None) => panic!("a body serde_urlencoded refuses was accepted"),
        (Err(_), None) => {}
    }
    let params = query_params(Some(&case.query));
    for flag in ["using-cookies", "force", "all", case.flag.as_str()] {
        let _ = query_flag(&params, flag);
    }
    let _ = query_params(None);
});
