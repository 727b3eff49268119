//! The layer rules of ARCHITECTURE.md, checked on the source: a module never
//! refers to a layer above its own, by `use` or by an inline `crate::` path.
//! A fixture with forbidden references shows that the check can fail.

use std::path::{Path, PathBuf};

/// The layers of `crates/api/src`, each with the layers it may refer to.
/// `startup` wires everything and may refer to anything; so may the binary.
const RULES: &[(&str, &[&str])] = &[
    ("time", &[]),
    ("builtin", &[]),
    ("settings", &["builtin"]),
    ("telemetry", &["settings"]),
    ("fault", &[]),
    ("domain", &["domain"]),
    ("store", &["store", "domain"]),
    ("state", &["domain", "store", "settings", "time"]),
    ("service", &["service", "domain", "store", "state", "settings", "time"]),
    ("worker", &["worker", "service", "domain", "store", "state", "settings", "time", "fault"]),
    ("http", &["http", "service", "domain", "state", "settings", "time"]),
    ("web", &["web", "http", "service", "domain", "state", "settings", "time"]),
];

/// The layer a file belongs to: its first folder, or its own name.
fn layer_of(relative: &Path) -> String {
    let first = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
    first.unwrap_or_default().trim_end_matches(".rs").to_owned()
}

/// The top-level modules a source text refers to through `crate::`, with
/// the line each is on; comments are not code and are skipped.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                // `use crate::{a::b, c};`: each group member's first segment.
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                None => vec![rest],
            };
            for name in names {
                let ident: String =
                    name.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !ident.is_empty() {
                    out.push((n + 1, ident));
                }
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every forbidden reference under `src`, as `file:line: layer refers to other`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let layer = layer_of(relative);
        let Some((_, allowed)) = RULES.iter().find(|(name, _)| *name == layer) else { continue };
        let text = std::fs::read_to_string(&file).expect("read source");
        for (line, target) in references(&text) {
            let known = RULES.iter().any(|(name, _)| *name == target);
            if known && target != layer && !allowed.contains(&target.as_str()) {
                out.push(format!("{}:{line}: {layer} refers to {target}", relative.display()));
            }
        }
    }
    out
}

#[test]
fn no_layer_refers_to_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "forbidden references (see ARCHITECTURE.md):\n{}", found.join("\n"));
}

#[test]
fn the_check_finds_forbidden_uses_and_inline_paths() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layers/src");
    assert_eq!(
        violations(&fixture),
        vec![
            "service/leaky.rs:5: service refers to http".to_owned(),
            "service/leaky.rs:8: service refers to http".to_owned(),
            "web/leaky.rs:4: web refers to store".to_owned(),
        ],
        "a grouped `use` and an inline path are both caught; the allowed `domain` and `store` are not; \
         a page never queries storage itself"
    );
}
