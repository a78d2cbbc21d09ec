//! The standard library: policy sources and the Kubernetes schema, embedded in the binary.

/// The Kubernetes version of the embedded schema.
pub const KUBERNETES_VERSION: &str = "1.37";

/// The Kubernetes schema (kinds and object types) as written by `rampart-schema-gen`.
pub const KUBERNETES_SCHEMA: &str = include_str!("../schema/kubernetes-1.37.json");

include!(concat!(env!("OUT_DIR"), "/policies.rs"));
