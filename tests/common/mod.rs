//! Helpers shared by the end-to-end test files that run the real binary.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A command running the binary from the crate root, with a private compile cache.
pub fn rampart(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env("NO_COLOR", "1")
        .env(
            "RAMPART_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("rampart-cache"),
        )
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary and waits for it.
pub fn run(args: &[&str]) -> Output {
    rampart(args).output().expect("the binary runs")
}

/// An empty scratch folder `NAME` under the target's temporary folder.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder can be made");
    dir
}

/// The process's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
