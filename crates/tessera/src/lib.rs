//! The `tessera` binary as a library: command line, configuration loading,
//! TLS and the listener. Integration tests start the server through
//! `server::start` with their own clock and configuration.

pub mod cli;
pub mod config;
pub mod private_files;
pub mod runtime;
pub mod server;
pub mod tls;
