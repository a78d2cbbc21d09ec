//! Running the real binary from the end-to-end tests.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The crate root, where the binary runs.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A command running the binary from the crate root, with a private compile cache and no
/// GitHub job summary of the job running the tests.
pub fn rampart(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.current_dir(root())
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env(
            "RAMPART_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("rampart-cache"),
        )
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary to completion.
pub fn run(args: &[&str]) -> Output {
    rampart(args).output().expect("the binary runs")
}

/// Runs the binary to completion with `input` on its standard input (stdout and stderr
/// captured).
pub fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = rampart(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Written from a thread, so that a child that writes much before reading all its input
    // cannot block both sides.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("the binary runs");
    // A child that exits without reading everything closes the pipe: not an error here.
    let _ = writer.join().expect("the writer thread ends");
    out
}

/// A fresh scratch folder for inputs that cannot live in the repository.
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

/// The exit code and the JSON report of a `rampart test -o json` run.
pub fn report(out: &Output) -> (i32, serde_json::Value) {
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// The first `n` ```yaml blocks of the README after the text `after`.
#[allow(dead_code)]
pub fn readme_yaml_blocks(after: &str, n: usize) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find(after).unwrap()..];
    section
        .split("```yaml\n")
        .skip(1)
        .take(n)
        .map(|b| b[..b.find("```").unwrap()].to_string())
        .collect()
}
