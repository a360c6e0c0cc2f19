//! Shared parts of Tessera's fuzz targets: the one application every
//! iteration calls (`world`), the fuzzer's description of a request
//! (`request`), bodies shaped by the document (`schema`) and what every answer must satisfy (`check`).

pub mod check;
pub mod request;
pub mod schema;
pub mod world;
