//! The front doors: one module per wire dialect of SPEC §3.

pub mod oauth2;
