//! Reading the RBAC objects of files, folders and stdin with the manifest loader, and the
//! built-in default roles of Kubernetes 1.37.

use super::model::Origin;
use super::policy::{Builder, Policy};
use rayon::prelude::*;

use crate::manifest::{self, Limits, Loaded};
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
    // Files are read and parsed in parallel, then added in input order (later definitions
    // replace earlier ones, so the order matters).
    let parsed: Vec<Result<Loaded, (u32, String)>> = found
        .par_iter()
        .map(|input| {
            let bytes = inputs::read(input, limits.max_bytes).map_err(|m| (0, m))?;
            manifest::load_bytes(&bytes, limits).map_err(|e| (e.line, e.message))
        })
        .collect();
    for (input, result) in found.iter().zip(parsed) {
        match result {
            Ok(loaded) => builder.add(&input.name, &loaded),
            Err((line, message)) => builder.error(origin(&input.name, line), message),
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
