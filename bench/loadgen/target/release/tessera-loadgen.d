/work/main/bench/loadgen/target/release/tessera-loadgen: /work/main/bench/loadgen/src/main.rs
