//! The cache of the compiled standard library (src/cli/module_cache.rs): a warm run reads
//! it instead of compiling, gives the same report, and a damaged or foreign entry is ignored
//! and rebuilt.

mod common;

use std::path::Path;

use common::{rampart, scratch};

/// `rampart test -o json` of the example manifests with the cache in `cache`: the report.
fn report(cache: &Path) -> String {
    let out = rampart(&["test", "-o", "json", "examples/manifests"])
        .env("RAMPART_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The cache's entries of the compiled library.
fn entries(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "module"))
        .collect();
    found.sort();
    found
}

/// The bad bytes at `entry` were replaced by a valid entry, which the next run reads and
/// leaves as it is.
fn rebuilt(cache: &Path, entry: &Path, bad: &[u8]) {
    let now = std::fs::read(entry).unwrap();
    assert_ne!(now, bad, "the entry is rewritten");
    report(cache);
    assert_eq!(
        std::fs::read(entry).unwrap(),
        now,
        "the rewritten entry is used"
    );
}

#[test]
fn the_library_is_compiled_once_and_a_bad_entry_is_rebuilt() {
    let cache = scratch("module-cache");
    let cold = report(&cache);
    let [entry] = entries(&cache).try_into().expect("one entry written");
    let written = std::fs::read(&entry).unwrap();
    assert_eq!(report(&cache), cold, "a warm run reports the same");
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        written,
        "and leaves the entry"
    );

    // One byte of the Wasm changed: refused by the digest, compiled again, rewritten.
    let mut damaged = written.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x01;
    std::fs::write(&entry, &damaged).unwrap();
    assert_eq!(report(&cache), cold);
    rebuilt(&cache, &entry, &damaged);

    // Truncated, or another key's entry under this name: the same.
    std::fs::write(&entry, &written[..written.len() / 2]).unwrap();
    assert_eq!(report(&cache), cold);
    rebuilt(&cache, &entry, &written[..written.len() / 2]);
    let mut foreign = written.clone();
    let key_at = b"rampart-module-cache-1\n".len();
    foreign[key_at] = if foreign[key_at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&entry, &foreign).unwrap();
    assert_eq!(report(&cache), cold);
    rebuilt(&cache, &entry, &foreign);
}

#[test]
fn a_rule_selection_has_its_own_entry_and_no_cache_writes_none() {
    let cache = scratch("module-cache-selection");
    let run = |extra: &[&str], env: Option<(&str, &str)>| {
        let mut cmd = rampart(&["test", "-o", "json"]);
        cmd.args(extra).arg("examples/manifests");
        cmd.env("RAMPART_CACHE_DIR", &cache);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let off = run(&[], Some(("RAMPART_NO_CACHE", "1")));
    assert!(
        !cache.exists() || entries(&cache).is_empty(),
        "RAMPART_NO_CACHE writes nothing"
    );
    assert_eq!(run(&[], None), off);
    let some = run(&["--rule", "pss.*"], None);
    assert_eq!(entries(&cache).len(), 2);
    assert_eq!(run(&["--rule", "pss.*"], None), some);
    assert_ne!(some, off);
}
