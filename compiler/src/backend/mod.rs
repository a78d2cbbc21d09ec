//! The backends: each turns the typed IR into something that runs.
//!
//! - [`wasm`]: the reference evaluator's module, run by the runtime's embedded wasmtime.
//! - [`rego`]: Rego, and the Gatekeeper ConstraintTemplates and Constraints that carry it.
//! - [`cel`]: CEL, and the four outputs that carry it: ValidatingAdmissionPolicy, Kyverno
//!   ClusterPolicy and ValidatingPolicy, and Gatekeeper's K8sNativeValidation.

pub mod cel;
pub mod rego;
pub mod wasm;
