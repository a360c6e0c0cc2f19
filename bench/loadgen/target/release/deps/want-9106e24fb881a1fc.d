/work/main/bench/loadgen/target/release/deps/want-9106e24fb881a1fc.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs

/work/main/bench/loadgen/target/release/deps/libwant-9106e24fb881a1fc.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs

/work/main/bench/loadgen/target/release/deps/libwant-9106e24fb881a1fc.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs:
