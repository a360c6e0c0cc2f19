//! The `tessera` command.

/// mimalloc: the request path allocates many small, short-lived buffers
/// (header maps, bodies, futures) across worker threads; glibc malloc spent
/// ~7% of the gateway's CPU in bench/gateway.sh profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tessera::cli::main()
}
