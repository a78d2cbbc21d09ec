//! Runs compiled Rampart policies against Kubernetes objects.
