//! Size limits of the library's source, so every file stays readable and
//! rustfmt can format every line: no file in src/ over 700 lines, no
//! function over 120 lines (from its `fn` line to its closing brace, test
//! functions included), no line over 100 characters.
//!
//! `cargo test --test layout -- --nocapture` also prints the largest
//! files and functions.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 700;
const MAX_FN_LINES: usize = 120;
const MAX_LINE_CHARS: usize = 100;

/// A function found by [`functions`]: its name, the line of its `fn`
/// (from 1) and its length in lines, braces included.
#[derive(Debug, PartialEq)]
struct Function {
    name: String,
    line: usize,
    lines: usize,
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Punct(char),
}

/// The identifiers and punctuation of Rust source, each with its line;
/// comments, string, byte-string, raw-string and character literals are
/// skipped, so braces inside them do not count.
fn tokens(src: &str) -> Vec<(Token, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if i >= c.len() {
                    break;
                } else if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1, &mut line);
        } else if ch == '\'' {
            i = skip_char_or_lifetime(&c, i);
        } else if ch.is_alphanumeric() || ch == '_' {
            if let Some(end) = raw_string_end(&c, i, &mut line) {
                i = end;
                continue;
            }
            if matches!(ch, 'b' | 'c') && at(i + 1) == '"' {
                i = skip_string(&c, i + 2, &mut line);
                continue;
            }
            if ch == 'b' && at(i + 1) == '\'' {
                i = skip_char_or_lifetime(&c, i + 1);
                continue;
            }
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Token::Ident(c[start..i].iter().collect()), line));
        } else {
            out.push((Token::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// Past the closing quote of a string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => {
                *line += usize::from(c.get(i + 1) == Some(&'\n'));
                i += 2;
            }
            '"' => return i + 1,
            ch => {
                *line += usize::from(ch == '\n');
                i += 1;
            }
        }
    }
    i
}

/// At a quote: past a character literal, or past the quote of a lifetime.
fn skip_char_or_lifetime(c: &[char], i: usize) -> usize {
    if c.get(i + 1) == Some(&'\\') {
        let mut j = i + 2;
        while j < c.len() && c[j] != '\'' {
            j += 1;
        }
        j + 1
    } else if c.get(i + 2) == Some(&'\'') {
        i + 3
    } else {
        i + 1
    }
}

/// If a raw string (`r"`, `r#"`, `br#"`, `cr"`) starts at `i`, the index
/// past its end.
fn raw_string_end(c: &[char], i: usize, line: &mut usize) -> Option<usize> {
    let mut j = i;
    if matches!(c[j], 'b' | 'c') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&h| h == '#').count();
    j += hashes;
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"'
            && c[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == '#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        *line += usize::from(c[j] == '\n');
        j += 1;
    }
    Some(j)
}

/// Every function with a body (nested ones too), with its length from the
/// `fn` line to the line of its closing brace.
fn functions(src: &str) -> Vec<Function> {
    let t = tokens(src);
    let mut found = Vec::new();
    for (k, (tok, line)) in t.iter().enumerate() {
        if *tok != Token::Ident("fn".into()) {
            continue;
        }
        // `fn(u8) -> u8` is a type, and `fn $name` inside a macro is not
        // checked here.
        let Some((Token::Ident(name), _)) = t.get(k + 1) else {
            continue;
        };
        let Some(end_line) = body_end(&t[k + 2..]) else {
            continue;
        };
        found.push(Function {
            name: name.clone(),
            line: *line,
            lines: end_line - line + 1,
        });
    }
    found
}

/// The line of the brace that closes the body opening after a signature,
/// or None for a declaration without a body.
fn body_end(t: &[(Token, usize)]) -> Option<usize> {
    let mut nesting = 0i32;
    let mut depth = 0usize;
    for (tok, line) in t {
        let Token::Punct(p) = tok else { continue };
        match (*p, depth) {
            ('(' | '[', 0) => nesting += 1,
            (')' | ']', 0) => nesting -= 1,
            (';', 0) if nesting == 0 => return None,
            ('{', _) if depth > 0 || nesting == 0 => depth += 1,
            ('}', d) if d > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(*line);
                }
            }
            _ => {}
        }
    }
    None
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// What the limits are checked on: (path, lines, functions, long lines).
struct Measured {
    files: Vec<(String, usize)>,
    functions: Vec<(String, Function)>,
    long_lines: Vec<(String, usize, usize)>,
}

fn measure_src() -> Measured {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    paths.sort();
    let mut m = Measured {
        files: Vec::new(),
        functions: Vec::new(),
        long_lines: Vec::new(),
    };
    for path in paths {
        let src = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root).unwrap().display().to_string();
        m.files.push((name.clone(), src.lines().count()));
        for (n, l) in src.lines().enumerate() {
            let chars = l.chars().count();
            if chars > MAX_LINE_CHARS {
                m.long_lines.push((name.clone(), n + 1, chars));
            }
        }
        for f in functions(&src) {
            m.functions.push((name.clone(), f));
        }
    }
    m
}

#[test]
fn src_files_functions_and_lines_stay_within_their_limits() {
    let mut m = measure_src();
    m.files.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    m.functions.sort_by_key(|(_, f)| std::cmp::Reverse(f.lines));
    println!("largest files:");
    for (path, n) in m.files.iter().take(5) {
        println!("  {n:>5} lines  {path}");
    }
    println!("largest functions:");
    for (path, f) in m.functions.iter().take(5) {
        println!("  {:>5} lines  {path}:{} {}", f.lines, f.line, f.name);
    }

    let mut offenders = Vec::new();
    for (path, n) in m.files.iter().filter(|(_, n)| *n > MAX_FILE_LINES) {
        offenders.push(format!("{path}: file of {n} lines (max {MAX_FILE_LINES})"));
    }
    for (path, f) in m.functions.iter().filter(|(_, f)| f.lines > MAX_FN_LINES) {
        offenders.push(format!(
            "{path}:{}: fn {} of {} lines (max {MAX_FN_LINES})",
            f.line, f.name, f.lines
        ));
    }
    for (path, line, chars) in &m.long_lines {
        offenders.push(format!(
            "{path}:{line}: line of {chars} characters (max {MAX_LINE_CHARS})"
        ));
    }
    assert!(
        offenders.is_empty(),
        "{} over the limits:\n{}",
        offenders.len(),
        offenders.join("\n")
    );
}

#[test]
fn the_scanner_ignores_braces_in_literals_and_comments() {
    let src = r####"
fn outer(a: [u8; 4]) -> usize {
    let s = "}}} \" }";
    let r = r#"{ "} "#;
    let b = b'}';
    let c = '{';
    let e = '\'';
    // }
    /* { /* nested } */ } */
    fn inner<'a>(x: &'a str) -> &'a str {
        x
    }
    0
}

trait T {
    fn declared(&self) -> u8;
    fn pointer(&self, f: fn(u8) -> u8) -> u8 { f(1) }
}
"####;
    let found = functions(src);
    let summary: Vec<(&str, usize, usize)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.line, f.lines))
        .collect();
    assert_eq!(
        summary,
        [("outer", 2, 13), ("inner", 10, 3), ("pointer", 18, 1)]
    );
}

#[test]
fn every_src_file_is_measured() {
    let m = measure_src();
    assert!(m.files.iter().any(|(p, _)| p.ends_with("lib.rs")));
    assert!(m.functions.len() > 100, "{}", m.functions.len());
}
