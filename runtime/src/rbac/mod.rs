//! `rampart rbac`: the effective permissions of Roles, ClusterRoles and their bindings, as
//! the Kubernetes RBAC authorizer computes them (spec/rbac.md). Data flows one way:
//! manifests → [`model`] → [`policy`] (aggregation, role references) → questions
//! ([`query`], [`risks`], [`diff`]).

pub mod aggregate;
pub mod diff;
pub mod load;
pub mod matching;
pub mod model;
pub mod policy;
pub mod query;
pub mod risks;
pub mod view;
