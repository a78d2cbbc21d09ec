//! The standard library: policy sources and the Kubernetes schema, embedded in the binary.
