//! Runs compiled Rampart policies against Kubernetes objects.
pub mod eval;
pub mod fix;
pub mod manifest;
pub mod output_file;
pub mod rbac;
pub mod report;
pub mod runner;
pub mod schema_check;
pub mod verify;
