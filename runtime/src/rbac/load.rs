//! Reading the RBAC objects of files, folders and stdin with the manifest loader, and the
//! built-in default roles of Kubernetes 1.37.

use super::model::Origin;
use super::policy::{Builder, Policy};
use crate::manifest::{self, Limits};
use crate::runner::inputs;

/// The name the built-in defaults are reported under.
pub const DEFAULTS_NAME: &str = "defaults:kubernetes-1.37.yaml";

/// The default ClusterRoles and ClusterRoleBindings of Kubernetes 1.37 (`--with-defaults`).
pub const DEFAULTS: &str = include_str!("defaults-1.37.yaml");

/// Reads every RBAC object of the paths (files, folders walked for `*.yaml`, `*.yml`,
/// `*.json`, `-` for stdin), and of the defaults when asked. Unreadable and malformed
/// inputs are recorded in [`Policy::errors`]; the others are still read.
pub fn load(paths: &[String], with_defaults: bool, limits: &Limits) -> Policy {
    let mut builder = Builder::new();
    if with_defaults {
        match manifest::load(DEFAULTS, &Limits::default()) {
            Ok(loaded) => builder.add(DEFAULTS_NAME, &loaded),
            Err(e) => builder.error(origin(DEFAULTS_NAME, e.line), e.message),
        }
    }
    let none = inputs::Ignore::new(&[]).expect("no globs build");
    let (found, listing) = inputs::collect(paths, &none, limits.max_bytes);
    for e in listing {
        builder.error(origin(&e.file, e.line.unwrap_or(0)), e.message);
    }
    for input in &found {
        let bytes = match inputs::read(input, limits.max_bytes) {
            Ok(b) => b,
            Err(message) => {
                builder.error(origin(&input.name, 0), message);
                continue;
            }
        };
        match manifest::load_bytes(&bytes, limits) {
            Ok(loaded) => builder.add(&input.name, &loaded),
            Err(e) => builder.error(origin(&input.name, e.line), e.message),
        }
    }
    builder.finish()
}

fn origin(file: &str, line: u32) -> Origin {
    Origin {
        file: file.to_string(),
        line,
    }
}
