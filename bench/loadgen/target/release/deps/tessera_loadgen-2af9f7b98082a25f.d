/work/main/bench/loadgen/target/release/deps/tessera_loadgen-2af9f7b98082a25f.d: src/main.rs

/work/main/bench/loadgen/target/release/deps/tessera_loadgen-2af9f7b98082a25f: src/main.rs

src/main.rs:
