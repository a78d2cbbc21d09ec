//! The on-disk cache of the standard library compiled for a run: its Wasm module with what
//! `rampart test` knows about its rules (every rule id, the declared parameters, the
//! selection, the imported CRDs), so that a warm run skips parsing, type-checking and code
//! generation. The compiled machine code of the module is cached apart, by
//! [`rampart_runtime::eval::Policies::load`].
//!
//! An entry is named by its key, a SHA-256 digest of everything the compilation depends on:
//! this binary (version, size and modification time of the executable, which embeds the
//! library's sources, the Kubernetes schema and the profiles), the library's sources and
//! CRDs, and the rule selection. It is written atomically (`output_file`) and starts with a header holding
//! the key and a digest of the rest; an entry whose header, key or digest does not match (a
//! corrupted or truncated file, another version's) is ignored and rebuilt. The Wasm read back
//! is compiled or matched against the machine-code cache like any module, so nothing in an
//! entry is run without Wasm's checks. `RAMPART_NO_CACHE=1` turns both caches off.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use rampart_runtime::runner::params::Declared;

use super::policies::{Module, Selection};

/// The first bytes of an entry; a new layout gets a new number.
const MAGIC: &[u8] = b"rampart-module-cache-1\n";

/// What an entry holds besides the Wasm bytes.
#[derive(Serialize, Deserialize)]
struct Meta {
    all_rules: Vec<String>,
    declared: Declared,
    selected: Vec<String>,
    opt_in: Vec<String>,
    crds: Vec<String>,
}

/// The key of the standard library compiled with `selection` (hex), or `None` when this
/// binary cannot be identified (then nothing is cached).
pub fn key(selection: &Selection) -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(MAGIC);
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(&meta.len().to_le_bytes());
    field(&modified.as_nanos().to_le_bytes());
    for (name, text) in rampart_stdlib::POLICIES.iter().chain(rampart_stdlib::CRDS) {
        field(name.as_bytes());
        field(text.as_bytes());
    }
    for (what, globs) in [
        ("include", &selection.include),
        ("exclude", &selection.exclude),
        ("profile", &selection.profiles),
    ] {
        field(what.as_bytes());
        field(&(globs.len() as u64).to_le_bytes());
        for g in globs {
            field(g.as_bytes());
        }
    }
    Some(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the entry of `key` lives in `dir`.
pub fn path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.module"))
}

/// The entry's bytes: [`MAGIC`], the key and a line break, the SHA-256 of the rest, the
/// length of the metadata (8 bytes, little-endian), the metadata (JSON), the Wasm.
fn encode(key: &str, module: &Module) -> Result<Vec<u8>, serde_json::Error> {
    let meta = serde_json::to_vec(&Meta {
        all_rules: module.all_rules.clone(),
        declared: module.declared.clone(),
        selected: module.selected.clone(),
        opt_in: module.opt_in.clone(),
        crds: module.crds.clone(),
    })?;
    let mut body = Vec::with_capacity(8 + meta.len() + module.wasm.len());
    body.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    body.extend_from_slice(&meta);
    body.extend_from_slice(&module.wasm);
    let mut out = Vec::with_capacity(MAGIC.len() + key.len() + 33 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    Ok(out)
}

/// The module of an entry, if `bytes` is a whole entry written under `key`.
fn decode(key: &str, bytes: &[u8]) -> Option<Module> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let rest = rest.strip_prefix(key.as_bytes())?.strip_prefix(b"\n")?;
    let (digest, body) = rest.split_at_checked(32)?;
    if Sha256::digest(body).as_slice() != digest {
        return None;
    }
    let (len, body) = body.split_at_checked(8)?;
    let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
    let (meta, wasm) = body.split_at_checked(len)?;
    let meta: Meta = serde_json::from_slice(meta).ok()?;
    Some(Module {
        wasm: wasm.to_vec(),
        all_rules: meta.all_rules,
        declared: meta.declared,
        selected: meta.selected,
        opt_in: meta.opt_in,
        sources: rampart_stdlib::POLICIES
            .iter()
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .collect(),
        crds: meta.crds,
    })
}

/// The cached module of `key` in `dir`, if there is a valid entry.
pub fn load(dir: &Path, key: &str) -> Option<Module> {
    let bytes = std::fs::read(path(dir, key)).ok()?;
    decode(key, &bytes)
}

/// Writes the entry of `key`; a cache that cannot be written only costs time on the next
/// run, so failures are ignored.
pub fn store(dir: &Path, key: &str, module: &Module) {
    let Ok(bytes) = encode(key, module) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = rampart_runtime::output_file::write(&path(dir, key), &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module() -> Module {
        Module {
            wasm: b"\0asm\x01\0\0\0".to_vec(),
            all_rules: vec!["a.x".into(), "b.y".into()],
            declared: Declared::new(),
            selected: vec!["a.x".into()],
            opt_in: vec!["b.y".into()],
            sources: Vec::new(),
            crds: vec!["kind: CustomResourceDefinition".into()],
        }
    }

    #[test]
    fn an_entry_reads_back_under_its_key_only() {
        let bytes = encode("k1", &module()).unwrap();
        let back = decode("k1", &bytes).expect("the entry reads back");
        assert_eq!(back.wasm, module().wasm);
        assert_eq!(back.selected, ["a.x"]);
        assert_eq!(back.opt_in, ["b.y"]);
        assert_eq!(back.crds, module().crds);
        assert!(decode("k2", &bytes).is_none(), "another key's entry");
    }

    #[test]
    fn a_damaged_entry_is_refused() {
        let bytes = encode("k1", &module()).unwrap();
        for cut in [0, MAGIC.len(), bytes.len() / 2, bytes.len() - 1] {
            assert!(decode("k1", &bytes[..cut]).is_none(), "cut at {cut}");
        }
        for at in [0, MAGIC.len() + 1, bytes.len() - 20, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x20;
            assert!(decode("k1", &flipped).is_none(), "byte {at} flipped");
        }
    }

    #[test]
    fn the_key_follows_the_selection() {
        let all = key(&Selection::default()).unwrap();
        let some = key(&Selection {
            include: vec!["pss.*".into()],
            ..Selection::default()
        })
        .unwrap();
        assert_ne!(all, some);
        assert_eq!(all, key(&Selection::default()).unwrap());
    }
}
