//! The crate's modules form layers: no module depends, directly or through
//! others, on a module that depends on it. Read from the sources: every
//! `crate::<module>` a module names outside comments, its unit tests and its
//! `pub use` re-exports (a re-export keeps an old path working; it is not a
//! dependency of the code). `lib.rs` and `wasm.rs` sit on top of everything.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code names.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap();
            let module = first.as_os_str().to_str().unwrap().trim_end_matches(".rs");
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            let deps = graph.entry(module.to_owned()).or_default();
            for line in code.lines().map(str::trim_start) {
                if line.starts_with("//") || line.starts_with("pub use") {
                    continue;
                }
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + "crate::".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    // `crate::Type` (a root re-export) names no module.
                    if !name.is_empty() && name != module {
                        deps.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// Whether `to` is reachable from `from`.
fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(m) = todo.pop() {
        if m == to {
            return true;
        }
        if seen.insert(m.clone()) {
            todo.extend(graph.get(&m).into_iter().flatten().cloned());
        }
    }
    false
}

#[test]
fn modules_form_layers_without_cycles() {
    let graph = dependencies();
    assert!(graph.len() > 20, "read {} modules", graph.len());
    let mut cycles = Vec::new();
    for (module, deps) in &graph {
        for dep in deps {
            if reaches(&graph, dep, module) {
                cycles.push(format!("{module} -> {dep} -> … -> {module}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "dependency cycles:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_leaves_depend_on_nothing_above_them() {
    let graph = dependencies();
    for (leaf, allowed) in [
        ("reason", &[][..]),
        ("limits", &[][..]),
        ("protocol", &[][..]),
        ("encoding", &[][..]),
        ("crypto", &["encoding", "limits", "probe"][..]),
    ] {
        let deps = graph.get(leaf).cloned().unwrap_or_default();
        let extra: Vec<&String> = deps
            .iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(extra.is_empty(), "{leaf} depends on {extra:?}");
    }
}
