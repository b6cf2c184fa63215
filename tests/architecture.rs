//! The layer table of `docs/architecture.md`, held by a test: every `.rs` file in a layer's
//! folder is read, the paths it uses are collected (each path of every `use` declaration,
//! multi-line groups included, and every path written in the code, such as
//! `crate::engine::EngineState` or `tokio::spawn`), and each one its layer must not use is
//! reported with its file and line. Paths starting with `super::` or `self::` are resolved
//! against the file's module (and the inline `mod` blocks they are in), so a relative path
//! cannot slip past; comments and literals are skipped. It also fails on any file under `src/`
//! longer than [`MAX_LINES`] lines.
//!
//! This reads source text with std alone; it does not resolve names, so an item reached
//! through a re-export from an allowed module is not seen. The table and [`LAYERS`] say the
//! same thing: change both together.

use std::fs;
use std::path::{Path, PathBuf};

/// One row of the layer table.
struct Layer {
    /// The layer, as the table names it.
    name: &'static str,
    /// Its folder, from the crate root.
    folder: &'static str,
    /// What its files must not use: a crate, module or item path, which covers every path
    /// under it (`crate::engine` covers `crate::engine::SourceBoard`), whole segments only
    /// (`tokio` does not cover `tokio_util`).
    must_not_use: &'static [&'static str],
    /// Paths under a forbidden one that the table allows all the same.
    except: &'static [&'static str],
}

/// The layer table of `docs/architecture.md`.
const LAYERS: &[Layer] = &[
    Layer {
        name: "model",
        folder: "src/model",
        must_not_use: &[
            "tokio",
            "egui",
            "eframe",
            "egui_graphs",
            "rdkafka",
            "async_nats",
            "reqwest",
            "tonic",
            "axum",
            "std::net",
            "std::fs",
            "crate::ingest",
            "crate::engine",
            "crate::ui",
            "crate::capture",
            "crate::collector",
            "crate::demo",
            "crate::export",
            "crate::pipeline",
        ],
        except: &[],
    },
    Layer {
        name: "pipeline",
        folder: "src/pipeline",
        must_not_use: &[
            "tokio",
            "egui",
            "eframe",
            "egui_graphs",
            "rdkafka",
            "async_nats",
            "reqwest",
            "tonic",
            "axum",
            "crate::ingest",
            "crate::engine",
            "crate::ui",
            "crate::capture",
            "crate::collector",
            "crate::demo",
            "crate::export",
        ],
        except: &[],
    },
    Layer {
        name: "ingest",
        folder: "src/ingest",
        must_not_use: &["egui", "eframe", "egui_graphs", "crate::engine", "crate::ui"],
        except: &[],
    },
    Layer {
        name: "engine",
        folder: "src/engine",
        must_not_use: &[
            "egui",
            "eframe",
            "egui_graphs",
            "tokio",
            "async_nats",
            "reqwest",
            "crate::ingest",
            "crate::ui",
        ],
        except: &[],
    },
    Layer {
        name: "capture",
        folder: "src/capture",
        must_not_use: &["egui", "eframe", "egui_graphs", "crate::ui"],
        except: &[],
    },
    Layer {
        name: "export",
        folder: "src/export",
        must_not_use: &["egui", "eframe", "egui_graphs", "crate::ui"],
        except: &[],
    },
    Layer {
        name: "ui",
        folder: "src/ui",
        must_not_use: &["tokio", "async_nats", "reqwest", "crate::ingest", "crate::pipeline::queue"],
        // The message readers' handles: the Messages view sends a `BrowseRequest` (where to
        // start, `StartAt`) over a `BrowseHandle`'s bounded channel (its `BrowseKind` says
        // Kafka or NATS). Send-only: what the reader finds reaches the UI through the engine
        // and its snapshots like any record.
        except: &[
            "crate::ingest::browse::BrowseHandle",
            "crate::ingest::browse::BrowseKind",
            "crate::ingest::browse::BrowseRequest",
            "crate::ingest::browse::StartAt",
        ],
    },
    Layer {
        name: "demo",
        folder: "src/demo",
        must_not_use: &["crate::engine", "crate::model", "crate::ui"],
        except: &[],
    },
];

/// Uses the table forbids that are still there, each to be removed (issue 16): (file, path).
/// The test fails when one of them is gone, so this list only shrinks.
const NOT_YET_FIXED: &[(&str, &str)] = &[];

/// No file under `src/` may be longer than this (its `#[cfg(test)]` modules count too).
const MAX_LINES: usize = 600;

/// Files over [`MAX_LINES`] that are being split right now (issue 16). The test fails once
/// one of them is no longer over: then remove it from here.
const LONG_FILES_BEING_SPLIT: &[&str] = &[];

#[test]
fn each_layer_uses_only_what_the_table_allows() {
    let root = crate_root();
    let mut problems = Vec::new();
    let mut still_there = vec![false; NOT_YET_FIXED.len()];
    for layer in LAYERS {
        let files = rust_files(&root.join(layer.folder));
        assert!(!files.is_empty(), "no .rs files in {}: is the table out of date?", layer.folder);
        for file in files {
            let name = relative(&file);
            for used in used_paths(&tokenize(&read(&file)), &module_of(&name)) {
                let Some(forbidden) = layer.must_not_use.iter().find(|f| is_under(&used.path, f)) else { continue };
                if layer.except.iter().any(|e| is_under(&used.path, e)) {
                    continue;
                }
                if let Some(k) = NOT_YET_FIXED.iter().position(|(f, p)| *f == name && is_under(&used.path, p)) {
                    still_there[k] = true;
                    continue;
                }
                let path = used.path.join("::");
                problems.push(format!(
                    "{name}:{}: uses `{path}`, but the {} layer must not use `{forbidden}`",
                    used.line, layer.name
                ));
            }
        }
    }
    for ((file, path), there) in NOT_YET_FIXED.iter().zip(&still_there) {
        if !*there {
            problems
                .push(format!("{file} no longer uses `{path}`: remove it from NOT_YET_FIXED in tests/architecture.rs"));
        }
    }
    assert!(
        problems.is_empty(),
        "imports the layer table (docs/architecture.md) forbids:\n  {}\n",
        problems.join("\n  ")
    );
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let mut problems = Vec::new();
    let mut still_long = vec![false; LONG_FILES_BEING_SPLIT.len()];
    for file in rust_files(&crate_root().join("src")) {
        let name = relative(&file);
        let lines = read(&file).lines().count();
        match LONG_FILES_BEING_SPLIT.iter().position(|f| *f == name) {
            Some(k) => still_long[k] = lines > MAX_LINES,
            None if lines > MAX_LINES => {
                problems.push(format!("{name}: {lines} lines, more than {MAX_LINES}: split it along its seams"));
            }
            None => {}
        }
    }
    for (file, long) in LONG_FILES_BEING_SPLIT.iter().zip(&still_long) {
        if !*long {
            problems.push(format!(
                "{file} is no longer over {MAX_LINES} lines: remove it from LONG_FILES_BEING_SPLIT in tests/architecture.rs"
            ));
        }
    }
    assert!(problems.is_empty(), "source files too long:\n  {}\n", problems.join("\n  "));
}

/// The reader itself: groups over several lines, `self` in a group, renames, relative paths
/// and inline modules are seen; comments, strings and character literals are not.
#[test]
fn the_reader_sees_every_path_and_nothing_in_comments_or_literals() {
    let source = r##"
        use crate::{
            engine::{self, snapshot::Snapshot},
            model::*,
        };
        use super::super::ui as view;
        // use crate::ingest::Hidden;
        /* crate::ingest::AlsoHidden /* nested */ crate::ingest::StillHidden */
        const S: &str = "crate::ingest::InAString \" crate::ingest::AfterAnEscape";
        const R: &str = r#"crate::ingest::InARawString "quoted""#;
        const Q: char = '"';
        const E: char = '\'';
        fn f<'a>(x: &'a str) -> u64 { tokio::spawn(x); base64::engine::general_purpose::STANDARD }
        mod tests {
            use super::Thing;
        }
        use self::inner::Item;
    "##;
    let module = ["model".to_owned(), "journey".to_owned()];
    let used: Vec<(String, usize)> =
        used_paths(&tokenize(source), &module).into_iter().map(|u| (u.path.join("::"), u.line)).collect();
    let expected = [
        ("crate::engine", 2),
        ("crate::engine::snapshot::Snapshot", 2),
        ("crate::model::*", 2),
        ("crate::ui", 6),
        ("tokio::spawn", 13),
        ("base64::engine::general_purpose::STANDARD", 13),
        ("crate::model::journey::Thing", 15),
        ("crate::model::journey::inner::Item", 17),
    ];
    let expected: Vec<(String, usize)> = expected.iter().map(|(p, l)| ((*p).to_owned(), *l)).collect();
    assert_eq!(used, expected);

    let path = |p: &str| p.split("::").map(str::to_owned).collect::<Vec<_>>();
    assert!(is_under(&path("crate::engine::snapshot::Snapshot"), "crate::engine"));
    assert!(is_under(&path("tokio"), "tokio"));
    assert!(!is_under(&path("tokio_util::sync::CancellationToken"), "tokio"));
    assert!(!is_under(&path("base64::engine::general_purpose"), "crate::engine"));
    assert!(!is_under(&path("crate"), "crate::engine"));
    assert_eq!(module_of("src/model/journey/store/assembly.rs"), ["model", "journey", "store", "assembly"]);
    assert_eq!(module_of("src/model/flow_graph/mod.rs"), ["model", "flow_graph"]);
}

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(file: &Path) -> String {
    fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `file` from the crate root, `/` between its parts, as the table and the lists write it.
fn relative(file: &Path) -> String {
    let root = crate_root();
    let within = file.strip_prefix(&root).unwrap_or(file);
    within.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// The module of a file under `src/`: `src/model/journey/store/assembly.rs` is
/// `model::journey::store::assembly`; a `mod.rs` is its folder's module.
fn module_of(relative: &str) -> Vec<String> {
    let mut parts: Vec<String> = relative.trim_end_matches(".rs").split('/').skip(1).map(str::to_owned).collect();
    if parts.last().is_some_and(|p| matches!(p.as_str(), "mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// Whether `path` is `prefix` or a path under it, comparing whole segments.
fn is_under(path: &[String], prefix: &str) -> bool {
    let mut segments = path.iter();
    prefix.split("::").all(|wanted| segments.next().is_some_and(|s| s.as_str() == wanted))
}

/// An identifier or keyword, `::`, or one punctuation character, with its line.
struct Token {
    text: String,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ident(text: &str) -> bool {
    text.chars().next().is_some_and(is_ident_start)
}

/// The token text at `pos`, or "" past the end.
fn text(tokens: &[Token], pos: usize) -> &str {
    tokens.get(pos).map_or("", |t| t.text.as_str())
}

/// The identifiers, keywords and punctuation of Rust `source`, without whitespace, comments,
/// string and character literals, or numbers.
fn tokenize(source: &str) -> Vec<Token> {
    let cs: Vec<char> = source.chars().collect();
    let n = cs.len();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < n {
        let c = cs[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && cs.get(i + 1) == Some(&'/') {
            while i < n && cs[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && cs.get(i + 1) == Some(&'*') {
            let mut depth = 1;
            i += 2;
            while i < n && depth > 0 {
                if cs[i] == '/' && cs.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if cs[i] == '*' && cs.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                } else {
                    if cs[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            let (end, lines) = string_end(&cs, i);
            i = end;
            line += lines;
        } else if c == '\'' {
            match char_literal_end(&cs, i) {
                Some(end) => i = end,
                None => {
                    // A lifetime or a label.
                    tokens.push(Token { text: "'".to_owned(), line });
                    i += 1;
                }
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < n && is_ident_char(cs[i]) {
                i += 1;
            }
            let word: String = cs[start..i].iter().collect();
            let next = cs.get(i).copied();
            let raw_string = match (word.as_str(), next) {
                ("r" | "br" | "cr", Some('"' | '#')) => raw_string_end(&cs, i),
                _ => None,
            };
            if let Some((end, lines)) = raw_string {
                i = end;
                line += lines;
            } else if matches!(word.as_str(), "b" | "c") && next == Some('"') {
                let (end, lines) = string_end(&cs, i);
                i = end;
                line += lines;
            } else if word == "b" && next == Some('\'') {
                i = char_literal_end(&cs, i).unwrap_or(i + 1);
            } else if word == "r" && next == Some('#') && cs.get(i + 1).is_some_and(|c| is_ident_start(*c)) {
                // A raw identifier, `r#type`.
                let start = i + 1;
                i = start;
                while i < n && is_ident_char(cs[i]) {
                    i += 1;
                }
                tokens.push(Token { text: cs[start..i].iter().collect(), line });
            } else {
                tokens.push(Token { text: word, line });
            }
        } else if c.is_ascii_digit() {
            while i < n && (is_ident_char(cs[i]) || (cs[i] == '.' && cs.get(i + 1).is_some_and(char::is_ascii_digit))) {
                i += 1;
            }
        } else if c == ':' && cs.get(i + 1) == Some(&':') {
            tokens.push(Token { text: "::".to_owned(), line });
            i += 2;
        } else {
            tokens.push(Token { text: c.to_string(), line });
            i += 1;
        }
    }
    tokens
}

/// Where the string literal whose opening quote is at `at` ends, and how many lines it spans.
fn string_end(cs: &[char], at: usize) -> (usize, usize) {
    let mut lines = 0;
    let mut i = at + 1;
    while i < cs.len() {
        match cs[i] {
            '\\' => {
                if cs.get(i + 1) == Some(&'\n') {
                    lines += 1;
                }
                i += 2;
            }
            '"' => return (i + 1, lines),
            c => {
                if c == '\n' {
                    lines += 1;
                }
                i += 1;
            }
        }
    }
    (i, lines)
}

/// Where the raw string literal whose `#`s or quote start at `at` (just after its `r`, `br`
/// or `cr`) ends, and how many lines it spans; `None` when no quote follows the `#`s.
fn raw_string_end(cs: &[char], at: usize) -> Option<(usize, usize)> {
    let mut i = at;
    let mut hashes = 0;
    while cs.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if cs.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    let mut lines = 0;
    while i < cs.len() {
        if cs[i] == '"' && (1..=hashes).all(|k| cs.get(i + k) == Some(&'#')) {
            return Some((i + 1 + hashes, lines));
        }
        if cs[i] == '\n' {
            lines += 1;
        }
        i += 1;
    }
    Some((i, lines))
}

/// Where the character literal whose opening quote is at `at` ends; `None` when the quote
/// starts a lifetime or a label instead.
fn char_literal_end(cs: &[char], at: usize) -> Option<usize> {
    if cs.get(at + 1) == Some(&'\\') {
        // `'\n'`, `'\''`, `'\\'`, `'\u{1F600}'`: the escaped character, then up to the quote.
        let mut i = at + 3;
        while i < cs.len() && cs[i] != '\'' {
            i += 1;
        }
        Some(i + 1)
    } else if cs.get(at + 2) == Some(&'\'') {
        Some(at + 3)
    } else {
        None
    }
}

/// A path a file uses, from the crate root when it was relative, and the line it is on.
struct Use {
    path: Vec<String>,
    line: usize,
}

/// Every path `tokens` use: each path of each `use` declaration and every path written in
/// the code, `super::` and `self::` resolved against `module` (the file's module) and the
/// inline `mod` blocks they are in.
fn used_paths(tokens: &[Token], module: &[String]) -> Vec<Use> {
    let mut uses = Vec::new();
    // The inline `mod name { .. }` blocks the walk is in, with the brace depth inside each.
    let mut inline_mods: Vec<(String, usize)> = Vec::new();
    let mut opening_mod: Option<String> = None;
    let mut depth = 0_usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = text(tokens, i);
        let line = tokens[i].line;
        if t == "mod" && is_ident(text(tokens, i + 1)) && text(tokens, i + 2) == "{" {
            opening_mod = Some(text(tokens, i + 1).to_owned());
            i += 2;
        } else if t == "{" {
            depth += 1;
            if let Some(name) = opening_mod.take() {
                inline_mods.push((name, depth));
            }
            i += 1;
        } else if t == "}" {
            if inline_mods.last().is_some_and(|(_, d)| *d == depth) {
                inline_mods.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
        } else if t == "use" && text(tokens, i + 1) != "<" {
            // (`use<'a>` is precise capturing in a type, not an import.)
            let here = current_module(module, &inline_mods);
            let mut paths = Vec::new();
            let end = parse_use_tree(tokens, i + 1, &[], &mut paths);
            uses.extend(paths.into_iter().map(|path| Use { path: resolve(path, &here), line }));
            i = end.max(i + 1);
        } else if is_ident(t)
            && text(tokens, i + 1) == "::"
            && is_ident(text(tokens, i + 2))
            && !continues_a_path(tokens, i)
        {
            let mut path = vec![t.to_owned()];
            let mut j = i + 1;
            while text(tokens, j) == "::" && is_ident(text(tokens, j + 1)) {
                path.push(text(tokens, j + 1).to_owned());
                j += 2;
            }
            uses.push(Use { path: resolve(path, &current_module(module, &inline_mods)), line });
            i = j;
        } else {
            i += 1;
        }
    }
    uses
}

/// Whether the token at `i` continues a path or an expression (`a::b`, `x.b`) rather than
/// starting a path.
fn continues_a_path(tokens: &[Token], i: usize) -> bool {
    i > 0 && matches!(text(tokens, i - 1), "::" | ".")
}

/// The module the walk is in: the file's, then its inline modules.
fn current_module(module: &[String], inline_mods: &[(String, usize)]) -> Vec<String> {
    module.iter().cloned().chain(inline_mods.iter().map(|(name, _)| name.clone())).collect()
}

/// Reads the use tree at `pos` (just after `use`, or an item of a `{ .. }` group) under
/// `prefix`, pushes each path it names to `out`, and returns the position after it.
fn parse_use_tree(tokens: &[Token], mut pos: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    if text(tokens, pos) == "::" {
        pos += 1;
    }
    loop {
        let t = text(tokens, pos);
        if t == "{" {
            pos += 1;
            while pos < tokens.len() && text(tokens, pos) != "}" {
                let before = pos;
                pos = parse_use_tree(tokens, pos, &path, out);
                if text(tokens, pos) == "," {
                    pos += 1;
                }
                if pos == before {
                    pos += 1;
                }
            }
            return pos + 1;
        }
        if t == "*" {
            path.push("*".to_owned());
            out.push(path);
            return pos + 1;
        }
        if !is_ident(t) {
            return pos;
        }
        path.push(t.to_owned());
        pos += 1;
        if text(tokens, pos) == "::" {
            pos += 1;
            continue;
        }
        if text(tokens, pos) == "as" {
            pos += 2;
        }
        // `use a::{self, ..}` names `a` itself.
        if path.last().is_some_and(|s| s.as_str() == "self") {
            path.pop();
        }
        out.push(path);
        return pos;
    }
}

/// `path` from the crate root when it starts with `super` or `self`, resolved against
/// `module`; as written otherwise (`crate::..`, or a crate's name).
fn resolve(path: Vec<String>, module: &[String]) -> Vec<String> {
    let supers = path.iter().take_while(|s| s.as_str() == "super").count();
    let (kept, skipped) = if supers > 0 {
        (module.len().saturating_sub(supers), supers)
    } else if path.first().is_some_and(|s| s.as_str() == "self") {
        (module.len(), 1)
    } else {
        return path;
    };
    std::iter::once("crate".to_owned())
        .chain(module[..kept].iter().cloned())
        .chain(path[skipped..].iter().cloned())
        .collect()
}
