//! Differential canonicalization check against libxml2 (issue #4).
//!
//! Reads a JSON Lines file of cases made by `tests/c14n_diff/gen.py`, one
//! case per line:
//!
//! ```json
//! {"input": "<r>…</r>", "apex_index": null | 3, "exclusive": true,
//!  "inclusive_prefixes": ["#default", "p"] | null, "expected": "<r>…</r>",
//!  "doc": 17, "name": "d17-e3-exc-list", "oracle": "lxml"}
//! ```
//!
//! `apex_index` is the index, in document order, of the element to
//! canonicalize among all elements (`null` = the root element); `#default`
//! in `inclusive_prefixes` is the default namespace. `doc`, `name` and
//! `oracle` are optional and only used in reports. Each case is
//! canonicalized with `assertion_grant::xml::c14n` (without comments) and
//! compared byte for byte with `expected`.
//!
//! ```text
//! cargo run --release --example c14n_diff -- CASES.jsonl [--failures OUT.jsonl] [--show N]
//! ```
//!
//! Prints `N documents, M comparisons, K differences` (and the first
//! `--show` failures, default 20, each with a minimal diff); `--failures`
//! writes every failing case line to a file (for `tests/c14n_diff/minimize.py`).
//! Exit status 1 if any case differs or any document is refused by our
//! parser (lxml accepted all of them), 2 on a usage or input error.

use assertion_grant::xml::c14n::{Method, canonicalize};
use assertion_grant::xml::{Document, Limits};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::process::ExitCode;

struct Failure {
    line: usize,
    raw: String,
    report: String,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut failures_out = None;
    let mut show = 20usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--failures" => failures_out = args.next(),
            "--show" => show = args.next().and_then(|n| n.parse().ok()).unwrap_or(20),
            _ if path.is_none() && !a.starts_with("--") => path = Some(a),
            _ => {
                eprintln!("usage: c14n_diff CASES.jsonl [--failures OUT.jsonl] [--show N]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        eprintln!("usage: c14n_diff CASES.jsonl [--failures OUT.jsonl] [--show N]");
        return ExitCode::from(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("c14n_diff: {path}: {e}");
            return ExitCode::from(2);
        }
    };

    let limits = Limits::default();
    let mut documents = 0usize;
    let mut comparisons = 0usize;
    let mut refused_docs = 0usize;
    let mut failures: Vec<Failure> = Vec::new();
    // The previous line's document: cases of one document are consecutive.
    let mut last_key: Option<(Option<u64>, String)> = None;
    let mut last_doc: Option<Result<Document, String>> = None;

    for (i, line) in BufReader::new(file).lines().enumerate() {
        let lineno = i + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("c14n_diff: {path}:{lineno}: {e}");
                return ExitCode::from(2);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let case: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("c14n_diff: {path}:{lineno}: not JSON: {e}");
                return ExitCode::from(2);
            }
        };
        let (Some(input), Some(expected), Some(exclusive)) = (
            case["input"].as_str(),
            case["expected"].as_str(),
            case["exclusive"].as_bool(),
        ) else {
            eprintln!("c14n_diff: {path}:{lineno}: needs input, expected and exclusive");
            return ExitCode::from(2);
        };
        let name = describe(&case, lineno);

        let key = (case["doc"].as_u64(), input.to_owned());
        if last_key.as_ref() != Some(&key) {
            documents += 1;
            let parsed = Document::parse(input.as_bytes(), &limits).map_err(|e| e.to_string());
            if let Err(e) = &parsed {
                refused_docs += 1;
                failures.push(Failure {
                    line: lineno,
                    raw: line.clone(),
                    report: format!(
                        "{name}: our parser refused a document lxml accepts: {e}\n  input: {}",
                        show_input(input)
                    ),
                });
            }
            last_doc = Some(parsed);
            last_key = Some(key);
        }
        let Some(Ok(doc)) = &last_doc else {
            continue; // refusal already reported once for this document
        };

        let apex = match case["apex_index"].as_u64() {
            None => doc.root(),
            Some(n) => match doc.elements().nth(n as usize) {
                Some((id, _)) => id,
                None => {
                    failures.push(Failure {
                        line: lineno,
                        raw: line.clone(),
                        report: format!(
                            "{name}: apex_index {n} out of range ({} elements)",
                            doc.elements().count()
                        ),
                    });
                    continue;
                }
            },
        };
        let method = if exclusive {
            let inclusive_prefixes = case["inclusive_prefixes"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(|p| (p != "#default").then(|| p.to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            Method::Exclusive { inclusive_prefixes }
        } else {
            Method::Inclusive
        };
        comparisons += 1;
        let ours = canonicalize(doc, apex, None, &method);
        if ours != expected.as_bytes() {
            let mut report = format!(
                "{name}: {} differs from {}\n{}",
                method_name(&case),
                case["oracle"].as_str().unwrap_or("expected"),
                diff(expected.as_bytes(), &ours)
            );
            let _ = write!(report, "\n  input: {}", show_input(input));
            failures.push(Failure {
                line: lineno,
                raw: line.clone(),
                report,
            });
        }
    }

    if let Some(out) = failures_out {
        let mut text = String::new();
        for f in &failures {
            text.push_str(&f.raw);
            text.push('\n');
        }
        if let Err(e) = std::fs::write(&out, text) {
            eprintln!("c14n_diff: {out}: {e}");
            return ExitCode::from(2);
        }
    }
    let mut stdout = std::io::stdout().lock();
    for f in failures.iter().take(show) {
        let _ = writeln!(stdout, "--- line {}\n{}\n", f.line, f.report);
    }
    if failures.len() > show {
        let _ = writeln!(stdout, "... and {} more failures", failures.len() - show);
    }
    let differences = failures.len() - refused_docs;
    let refused = if refused_docs > 0 {
        format!(", {refused_docs} documents refused by our parser")
    } else {
        String::new()
    };
    let _ = writeln!(
        stdout,
        "{documents} documents, {comparisons} comparisons, {differences} differences{refused}"
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn describe(case: &Value, lineno: usize) -> String {
    match case["name"].as_str() {
        Some(n) => format!("{n} (line {lineno})"),
        None => format!("line {lineno}"),
    }
}

fn method_name(case: &Value) -> String {
    let apex = match case["apex_index"].as_u64() {
        None => "root".to_owned(),
        Some(n) => format!("element #{n}"),
    };
    if case["exclusive"].as_bool() == Some(true) {
        match case["inclusive_prefixes"].as_array() {
            Some(list) if !list.is_empty() => format!(
                "exclusive c14n of {apex} with PrefixList {:?}",
                list.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            _ => format!("exclusive c14n of {apex}"),
        }
    } else {
        format!("inclusive c14n of {apex}")
    }
}

/// The differing middle of two byte strings (common prefix and suffix cut,
/// with a little context), escaped on one line each.
fn diff(expected: &[u8], ours: &[u8]) -> String {
    const CONTEXT: usize = 40;
    let prefix = expected
        .iter()
        .zip(ours)
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = expected.len().min(ours.len()) - prefix;
    let suffix = expected
        .iter()
        .rev()
        .zip(ours.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    // Both strings agree up to `prefix`, so `start` is a boundary in both.
    let mut start = prefix.saturating_sub(CONTEXT);
    while start > 0 && expected[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    let window = |s: &[u8]| {
        let mut end = (s.len() - suffix + CONTEXT).min(s.len());
        while end < s.len() && s[end] & 0xC0 == 0x80 {
            end += 1;
        }
        let head = if start > 0 { "…" } else { "" };
        let tail = if end < s.len() { "…" } else { "" };
        format!(
            "{head}{}{tail}",
            String::from_utf8_lossy(&s[start..end]).escape_debug()
        )
    };
    format!(
        "  first difference at byte {prefix} (expected {} bytes, ours {} bytes)\n  expected: {}\n  ours:     {}",
        expected.len(),
        ours.len(),
        window(expected),
        window(ours)
    )
}

fn show_input(input: &str) -> String {
    const MAX: usize = 600;
    if input.len() <= MAX {
        return input.escape_debug().to_string();
    }
    let mut cut = MAX;
    while !input.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… ({} bytes; rerun with --failures to get the whole case)",
        input[..cut].escape_debug(),
        input.len()
    )
}
