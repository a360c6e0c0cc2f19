//! Tessera's integration tests: one binary, one module per door or
//! feature. Each test starts the real server on port 0 with a temporary
//! data dir and speaks HTTPS to it with reqwest; CLI tests run the real
//! `tessera` binary against the same store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod log_capture;

mod admin;
mod atomic;

mod cli;
mod cli_first_hour;
mod cluster;
mod config_checks;
mod connections;
mod crash;
mod domain_login;
mod edges;
mod envelope_login;
mod foundation;
mod front;
mod gateway;
mod guarantees;
mod guides;
mod header_login;
mod https_upstream;
mod last_admin;
mod lazy_fill;
mod ldap;
mod ldap_harness;
mod metrics;
mod names;
mod oauth2;
mod oauth2_endpoints;
mod openapi;
mod password_policy;
mod paths;
mod proxies;
mod refresh_race;
mod safe_start;
mod staleness;
mod tls;
mod upstream;
mod upstream_pool;
