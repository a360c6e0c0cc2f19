//! The whole application, as a client sees it: any method, path, query,
//! headers, credentials and body, through `tessera_http::app`. Covers
//! every door's body and header parsing (Basic, cookies, every token
//! carrier, form bodies, each JSON body, Accept negotiation, the
//! forward-auth headers and path canonicalization of `/v1/authz` and the
//! gateway) and checks each answer (`tessera_fuzz::check`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_fuzz::request::Fuzzed;
use tessera_fuzz::{check, world};

fuzz_target!(|req: Fuzzed| {
    let w = world::world();
    let Some(built) = req.build(w) else { return };
    let res = w.call(built.request, built.tls);
    check::answer(w, &built.sent, res);
});
