//! The `tessera` command.

fn main() -> std::process::ExitCode {
    tessera::cli::main()
}
