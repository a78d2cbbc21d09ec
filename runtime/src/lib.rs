//! Runs compiled Rampart policies against Kubernetes objects.
pub mod manifest;
pub mod eval;
pub mod report;
pub mod runner;
pub mod verify;
