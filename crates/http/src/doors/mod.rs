//! The front doors: one module per wire dialect of SPEC §3.

pub mod domain_login;
pub mod envelope_login;
pub mod header_login;
pub mod oauth2;
