//! End-to-end tests of where `rampart test --output-file` and `rampart build -o` write: the
//! real binary runs against each kind of target (regular file, new path, symlink, dangling
//! symlink, FIFO, character device, folder), and nothing is ever replaced by something of
//! another kind.
#![cfg(unix)]

mod common;

use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{rampart, stderr};

const POLICIES: &str = "tests/manifests/policies";
const POD: &str = "tests/manifests/controllers/pod.yaml";

/// `rampart test -p POLICIES POD -o json --output-file TARGET`.
fn report_to(target: &Path) -> Output {
    rampart(&[
        "test",
        "-p",
        POLICIES,
        POD,
        "-o",
        "json",
        "--output-file",
        &target.display().to_string(),
    ])
    .output()
    .expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("output-files/{name}"))
}

/// The names in a folder, sorted (to see that no temporary file is left).
fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn is_report(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|v| v["summary"]["violations"].as_u64() == Some(2))
}

#[test]
fn a_regular_file_is_replaced_whole() {
    let dir = scratch("regular");
    let target = dir.join("report.json");
    std::fs::write(&target, "old content that is longer than nothing").unwrap();
    let out = report_to(&target);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(is_report(&std::fs::read(&target).unwrap()));
    assert_eq!(names(&dir), ["report.json"], "no temporary file is left");
}

#[test]
fn a_new_path_is_created() {
    let dir = scratch("new");
    let target = dir.join("report.json");
    let out = report_to(&target);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(is_report(&std::fs::read(&target).unwrap()));
    assert_eq!(names(&dir), ["report.json"]);
}

#[test]
fn a_symlink_is_followed_and_kept() {
    let dir = scratch("symlink");
    std::fs::create_dir(dir.join("real")).unwrap();
    std::fs::write(dir.join("real/report.json"), "old").unwrap();
    symlink("real/report.json", dir.join("link.json")).unwrap();
    let out = report_to(&dir.join("link.json"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let link = std::fs::symlink_metadata(dir.join("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is still a link");
    assert!(is_report(
        &std::fs::read(dir.join("real/report.json")).unwrap()
    ));
    assert_eq!(names(&dir.join("real")), ["report.json"]);
    assert_eq!(names(&dir), ["link.json", "real"]);
}

#[test]
fn a_dangling_symlink_gets_its_target_created() {
    let dir = scratch("dangling");
    symlink("made-by-the-run.json", dir.join("link.json")).unwrap();
    let out = report_to(&dir.join("link.json"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(dir.join("link.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(is_report(
        &std::fs::read(dir.join("made-by-the-run.json")).unwrap()
    ));
}

#[test]
fn a_fifo_is_written_through_to_its_reader() {
    let dir = scratch("fifo");
    let fifo = dir.join("pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        // Opening a FIFO for reading waits for the writer: the run.
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = report_to(&fifo);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(is_report(&reader.join().unwrap()));
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO is still a FIFO");
    assert_eq!(names(&dir), ["pipe"]);
}

#[test]
fn dev_null_and_dev_stdout_are_written_through() {
    let out = report_to(Path::new("/dev/null"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let kind = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(kind.is_char_device(), "/dev/null is still a device");

    // stdout is a pipe here: /dev/stdout is a symlink to a /proc link to it.
    let out = report_to(Path::new("/dev/stdout"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        is_report(&out.stdout),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_folder_socket_or_link_to_a_folder_is_refused() {
    let dir = scratch("refused");
    let folder = dir.join("report.json");
    std::fs::create_dir(&folder).unwrap();
    let out = report_to(&folder);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).lines().next().unwrap(),
        format!(
            "error: cannot write `{}`: it is a folder, not a file",
            folder.display()
        )
    );
    assert!(folder.is_dir() && names(&folder).is_empty());

    symlink("report.json", dir.join("link")).unwrap();
    let out = report_to(&dir.join("link"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("it leads to `")
            && stderr(&out).contains("report.json`, a folder, not a file"),
        "{}",
        stderr(&out)
    );

    let socket_path = dir.join("socket");
    let _socket = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    let out = report_to(&socket_path);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("it is a socket, not a file"),
        "{}",
        stderr(&out)
    );
    let kind = std::fs::symlink_metadata(&socket_path).unwrap().file_type();
    assert!(kind.is_socket());
    assert_eq!(names(&dir), ["link", "report.json", "socket"]);
}

/// `build -o DIR`: DIR may be a symlink to a folder; each file in it is written the same way
/// as `--output-file` (a symlinked file keeps its link, a device is written through).
#[test]
fn build_output_folder_and_files_follow_the_same_rules() {
    let dir = scratch("build");
    std::fs::create_dir(dir.join("real")).unwrap();
    symlink("real", dir.join("out")).unwrap();
    std::fs::create_dir(dir.join("elsewhere")).unwrap();
    std::fs::write(dir.join("elsewhere/t-tag.yaml"), "old").unwrap();
    std::fs::create_dir_all(dir.join("real/templates")).unwrap();
    std::fs::create_dir_all(dir.join("real/constraints")).unwrap();
    symlink(
        "../../elsewhere/t-tag.yaml",
        dir.join("real/templates/t-tag.yaml"),
    )
    .unwrap();
    symlink("/dev/null", dir.join("real/constraints/t-privileged.yaml")).unwrap();
    let out = rampart(&[
        "build",
        "--target",
        "gatekeeper",
        "-o",
        &dir.join("out").display().to_string(),
        POLICIES,
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(dir.join("out"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(names(&dir.join("real")), ["constraints", "templates"]);
    let rules = [
        "t-non-root.yaml",
        "t-privileged.yaml",
        "t-role-wildcard.yaml",
        "t-tag.yaml",
    ];
    assert_eq!(names(&dir.join("real/templates")), rules);
    assert_eq!(names(&dir.join("real/constraints")), rules);
    for linked in ["templates/t-tag.yaml", "constraints/t-privileged.yaml"] {
        let kind = std::fs::symlink_metadata(dir.join("real").join(linked)).unwrap();
        assert!(kind.file_type().is_symlink(), "{linked} is still a link");
    }
    let template = std::fs::read_to_string(dir.join("elsewhere/t-tag.yaml")).unwrap();
    assert!(template.contains("kind: ConstraintTemplate"), "{template}");
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());

    // A wasm bundle over a folder is refused, the folder left as it is.
    let bundle_dir = dir.join("bundle");
    std::fs::create_dir_all(bundle_dir.join("policies.wasm")).unwrap();
    let out = rampart(&[
        "build",
        "--target",
        "wasm",
        "-o",
        &bundle_dir.display().to_string(),
        POLICIES,
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("policies.wasm`: it is a folder, not a file"),
        "{}",
        stderr(&out)
    );
    assert!(bundle_dir.join("policies.wasm").is_dir());
}
