//! Writing the files Rampart produces (reports, exported policies, bundles, compiled-module
//! caches) without ever replacing what the path points at by something of another kind.
//!
//! - a regular file or a new path: a temporary file in the same folder, renamed over it, so a
//!   reader never sees half a file and an interrupted run leaves the old file whole;
//! - a symlink (even a dangling one): followed, and its target written as above; the link
//!   stays a link;
//! - a character device or a FIFO (`/dev/null`, `/dev/stdout`, a named pipe): written
//!   straight through, since renaming over it would replace the device or the pipe;
//! - anything else (a folder, a socket, a block device): refused, naming what it is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Most symlinks followed before giving up (the limit Linux applies, `ELOOP`).
const MAX_LINKS: usize = 40;

/// What a path points at, after following symlinks.
enum Target {
    /// A regular file, or nothing yet: written through a temporary file and a rename.
    Replace(PathBuf),
    /// A character device or a FIFO: opened and written in place.
    Stream(PathBuf),
}

/// Writes `bytes` to `path` (see the module documentation for what each kind of path gets).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Like [`write`], with the contents written by `fill` through a buffer.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
) -> io::Result<()> {
    match resolve(path)? {
        Target::Replace(target) => replace(&target, fill),
        Target::Stream(target) => {
            let file = OpenOptions::new().write(true).open(&target)?;
            let mut w = io::BufWriter::new(file);
            fill(&mut w)?;
            w.flush()
        }
    }
}

/// Classifies what `path` points at, following symlinks.
fn resolve(path: &Path) -> io::Result<Target> {
    let own = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::Replace(path.into())),
        Err(e) => return Err(e),
    };
    if !own.file_type().is_symlink() {
        return classify(path, path, &own.file_type());
    }
    // The kernel follows the link, including the "magic" links of /proc (`/dev/stdout` →
    // `/proc/self/fd/1` → `pipe:[…]`), which `read_link` cannot.
    match fs::metadata(path) {
        Ok(target) if target.is_file() => Ok(Target::Replace(fs::canonicalize(path)?)),
        Ok(target) if is_stream(&target.file_type()) => Ok(Target::Stream(path.into())),
        Ok(target) => classify(path, &fs::canonicalize(path)?, &target.file_type()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => dangling(path),
        Err(e) => Err(e),
    }
}

/// What to do with a path (`path`, reached from `given`) that is not a symlink.
fn classify(given: &Path, path: &Path, kind: &fs::FileType) -> io::Result<Target> {
    if kind.is_file() {
        return Ok(Target::Replace(path.into()));
    }
    if is_stream(kind) {
        return Ok(Target::Stream(path.into()));
    }
    let what = describe(kind);
    Err(io::Error::other(if given == path {
        format!("it is {what}, not a file")
    } else {
        format!("it leads to `{}`, {what}, not a file", path.display())
    }))
}

/// The path a dangling symlink chain ends at, where the file is then created.
fn dangling(path: &Path) -> io::Result<Target> {
    let mut current = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let meta = match fs::symlink_metadata(&current) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::Replace(current)),
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            return classify(path, &current, &meta.file_type());
        }
        let link = fs::read_link(&current)?;
        current = match current.parent() {
            Some(dir) => dir.join(link),
            None => link,
        };
    }
    Err(io::Error::other(format!(
        "too many levels of symbolic links at `{}`",
        path.display()
    )))
}

#[cfg(unix)]
fn is_stream(kind: &fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_char_device() || kind.is_fifo()
}

#[cfg(not(unix))]
fn is_stream(_: &fs::FileType) -> bool {
    false
}

/// `a folder`, `a socket`, … for the refusal message.
fn describe(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() {
            return "a block device";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else {
        "neither a regular file nor a device"
    }
}

/// Writes a temporary file next to `target` and renames it over `target`, keeping the
/// permissions of the file it replaces (a new file gets the usual ones, `0666` less the
/// umask, rather than the temporary file's private `0600`).
fn replace(
    target: &Path,
    fill: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let existing = fs::metadata(target).ok().map(|m| m.permissions());
    let mut builder = tempfile::Builder::new();
    builder.prefix(".rampart-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Given at creation, so the umask applies as for any new file.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir)?;
    if let Some(permissions) = existing {
        fs::set_permissions(tmp.path(), permissions)?;
    }
    let mut w = io::BufWriter::new(tmp);
    fill(&mut w)?;
    let tmp = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    File::sync_all(tmp.as_file())?;
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rampart-output-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_symlink_chain_is_followed_to_its_last_target() {
        let dir = scratch("chain");
        std::os::unix::fs::symlink("b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink("sub/c", dir.join("b")).unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        write(&dir.join("a"), b"x").unwrap();
        assert_eq!(fs::read(dir.join("sub/c")).unwrap(), b"x");
        assert!(fs::symlink_metadata(dir.join("a"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::symlink_metadata(dir.join("b"))
            .unwrap()
            .file_type()
            .is_symlink());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_loop_is_an_error() {
        let dir = scratch("loop");
        std::os::unix::fs::symlink("b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.join("b")).unwrap();
        let e = write(&dir.join("a"), b"x").unwrap_err();
        assert!(
            e.to_string()
                .to_lowercase()
                .contains("too many levels of symbolic links"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let path = dir.join("report");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
