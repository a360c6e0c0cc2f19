/work/main/bench/loadgen/target/release/deps/try_lock-7ab6e00572a5862d.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs

/work/main/bench/loadgen/target/release/deps/libtry_lock-7ab6e00572a5862d.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs

/work/main/bench/loadgen/target/release/deps/libtry_lock-7ab6e00572a5862d.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs:
