//! `cargo bench -p rampart-lsp --bench latency`: how long the language server takes, in
//! process, to publish diagnostics after an edit and to answer a completion, on the largest
//! file of the standard library (opened in its folder, so its imports are analysed too).
//! The floor is `rampart check`'s work on the same files: parsing and checking them once.

use lsp_types::{Position, Url};
use rampart_lsp::{completion_at, publish, Server};
use std::path::Path;
use std::time::{Duration, Instant};

const ROUNDS: usize = 30;

/// The median time of `ROUNDS` runs of `f`.
fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib/policies");
    let dir = dir.canonicalize().expect("the standard library's folder");
    let (path, text) = largest_file(&dir);
    let uri = Url::from_file_path(&path).unwrap();
    let mut server = Server::new(Some(dir.clone()));
    server.docs.insert(uri.clone(), text.clone());

    // The floor: parse and check the same policy set once, as `rampart check DIR` does.
    let schema = server.schema.clone();
    let floor = median(|| {
        let sources = rampart_compiler::read_sources(std::slice::from_ref(&dir));
        let c = rampart_compiler::compile(sources, &schema);
        assert!(!c.has_errors());
    });

    // An edit: a character typed in a message, then diagnostics for the open documents.
    let mut n = 0;
    let diagnostics = median(|| {
        n += 1;
        let edited = text.replacen("message \"", &format!("message \"{n} "), 1);
        server.docs.insert(uri.clone(), edited);
        let published = publish(&server, &uri);
        assert_eq!(published.len(), 1);
        assert!(
            published[0].diagnostics.is_empty(),
            "{:?}",
            published[0].diagnostics
        );
    });

    // Completion after `c.securityContext.` typed into the first `at` clause.
    let typing = text.replacen(
        "at c.securityContext.privileged",
        "at c.securityContext.",
        1,
    );
    assert_ne!(
        typing, text,
        "the bench file has an `at c.securityContext.privileged` clause"
    );
    let at = typing.find("at c.securityContext.").unwrap() + "at c.securityContext.".len();
    let line = typing[..at].matches('\n').count() as u32;
    let col = (at - typing[..at].rfind('\n').map_or(0, |i| i + 1)) as u32;
    server.docs.insert(uri.clone(), typing);
    let completion = median(|| {
        let items = completion_at(&server, &uri, Position::new(line, col));
        assert!(items > 10, "{items} completion items");
    });

    println!(
        "file: {} ({} lines, {} policy files in its folder)",
        path.strip_prefix(&dir).unwrap().display(),
        text.lines().count(),
        rampart_compiler::read_sources(std::slice::from_ref(&dir)).len()
    );
    println!("| measure | median | target | ratio to the floor |");
    println!("|---|---|---|---|");
    println!(
        "| floor: parse + check the folder | {:.1} ms | | 1.0 |",
        ms(floor)
    );
    for (what, d, target) in [
        ("diagnostics after an edit", diagnostics, 50.0),
        ("completion after `c.securityContext.`", completion, 20.0),
    ] {
        println!(
            "| {what} | {:.1} ms | < {target} ms ({}) | {:.2} |",
            ms(d),
            if ms(d) < target { "holds" } else { "missed" },
            d.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

/// The largest `.rp` file below `dir`.
fn largest_file(dir: &Path) -> (std::path::PathBuf, String) {
    rampart_compiler::read_sources(&[dir.to_path_buf()])
        .into_iter()
        .filter_map(|s| Some((s.name.into(), s.text.ok()?)))
        .max_by_key(|(_, t): &(std::path::PathBuf, String)| t.len())
        .expect("policy files")
}
