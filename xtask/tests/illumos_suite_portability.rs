// SPDX-License-Identifier: MPL-2.0
//! The suite runs on illumos' own tools, not GNU's: `grep` takes only the
//! options of `usr/src/cmd/grep/grep.c` (getopt string
//! "vwchHilnrbse:f:qxEFIRA:B:C:", no long options, `-w` not with `-E` or
//! `-F`) and compiles basic regular expressions with `regcomp`, where
//! GNU's `\|`, `\+` and `\?` are plain characters: `grep 'a\|b'` matches
//! the text "a|b", so a check written that way silently never matches
//! (the bug `addr_count` had).  `sed` is the BSD-derived one of
//! `usr/src/cmd/sed` (no GNU `-i`/`-r`/`-z`, no `\s`/`\w`), `awk` is the
//! one true awk (no gawk functions).  This check rejects the GNU-only
//! spellings in every suite script, naming the rule; each rule is shown
//! to bite on a planted line.

mod suite_common;

use std::fs;
use std::path::Path;

use suite_common::{suite_scripts, Scratch};

/// The option letters illumos grep accepts (grep.c's getopt string).
const ILLUMOS_GREP_OPTIONS: &str = "vwchHilnrbsefqxEFIRABC";
/// The sed options used portably (POSIX -n -e -f, and -E which illumos'
/// sed has).
const PORTABLE_SED_OPTIONS: &str = "nefE";

/// Substrings that are GNU-only wherever they appear in code, with the
/// rule each breaks.
const GNU_ONLY: &[(&str, &str)] = &[
    ("\\|", "GNU BRE alternation \\| (illumos regcomp reads a literal '|'; use grep -E 'a|b' or awk)"),
    ("\\+", "GNU BRE \\+ (illumos regcomp reads a literal '+'; write xx* or use -E)"),
    ("\\?", "GNU BRE \\? (illumos regcomp reads a literal '?'; use -E)"),
    ("\\s", "GNU regex \\s (use [[:space:]])"),
    ("\\w", "GNU regex \\w (use [[:alnum:]_])"),
    ("\\d", "GNU regex \\d (use [0-9])"),
    ("readlink -f", "GNU readlink -f (illumos readlink has no -f)"),
    ("stat -c", "GNU stat -c (illumos has no stat(1) with -c)"),
    ("-printf", "GNU find -printf (illumos find has none)"),
    ("xargs -r", "GNU xargs -r"),
    ("sort -V", "GNU sort -V"),
    ("head -c", "GNU head -c"),
    ("echo -e", "echo -e (not POSIX; use printf)"),
    ("gensub(", "gawk gensub()"),
    ("strftime(", "gawk strftime()"),
    ("systime(", "gawk systime()"),
    ("asort(", "gawk asort()"),
];

/// The code part of a line: empty for a comment line, else the line
/// without a trailing `# ...` comment that follows a blank.
fn code_of(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') {
        return "";
    }
    match line.find(" # ") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Each word after COMMAND on the line that is an option cluster (stops
/// at the first word that is not an option, or `--`).
fn options_after<'a>(code: &'a str, command: &str) -> Vec<Vec<&'a str>> {
    let words: Vec<&str> = code.split(|c: char| c.is_whitespace() || c == '(' || c == '|' || c == ';').collect();
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let name = word.trim_matches(|c| c == '"' || c == '\'');
        if name != command && !name.ends_with(&format!("/{command}")) {
            continue;
        }
        let mut opts = Vec::new();
        for w in &words[i + 1..] {
            if w.is_empty() {
                continue;
            }
            if *w == "--" || !w.starts_with('-') {
                break;
            }
            opts.push(*w);
        }
        found.push(opts);
    }
    found
}

/// The portability problems in one script: "FILE:LINE: RULE: CODE".
fn problems_in(path: &Path) -> Vec<String> {
    let body = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.display();
    let mut problems = Vec::new();
    for (n, line) in body.lines().enumerate() {
        let code = code_of(line);
        if code.trim().is_empty() {
            continue;
        }
        let at = |rule: &str| format!("{name}:{}: {rule}: {}", n + 1, line.trim());
        for (needle, rule) in GNU_ONLY {
            if code.contains(needle) {
                problems.push(at(rule));
            }
        }
        for opts in options_after(code, "grep") {
            let mut letters = String::new();
            for opt in &opts {
                if opt.starts_with("--") {
                    problems.push(at(&format!("grep long option {opt} (illumos grep has none)")));
                    continue;
                }
                letters.push_str(&opt[1..]);
            }
            for c in letters.chars() {
                if !ILLUMOS_GREP_OPTIONS.contains(c) {
                    problems.push(at(&format!("grep -{c} (not an option of illumos grep: grep.c getopt \"vwchHilnrbse:f:qxEFIRA:B:C:\")")));
                }
            }
            if letters.contains('w') && (letters.contains('E') || letters.contains('F')) {
                problems.push(at("grep -w with -E or -F (illumos grep refuses the combination)"));
            }
        }
        for opts in options_after(code, "sed") {
            for opt in opts {
                if opt.starts_with("--") || opt[1..].chars().any(|c| !PORTABLE_SED_OPTIONS.contains(c)) {
                    problems.push(at(&format!("sed {opt} (GNU-only or not portable; illumos sed has no GNU -i/-r/-z)")));
                }
            }
        }
    }
    problems
}

#[test]
fn no_suite_script_uses_gnu_only_regex_or_options() {
    let scripts = suite_scripts();
    assert!(scripts.len() >= 20, "{scripts:?}");
    let problems: Vec<String> = scripts.iter().flat_map(|s| problems_in(s)).collect();
    assert!(problems.is_empty(), "GNU-only spellings in the illumos suite:\n{}", problems.join("\n"));
}

#[test]
fn each_portability_rule_bites() {
    let scratch = Scratch::new("portability");
    let cases: &[(&str, &str)] = &[
        ("ipadm show-addr -p -o addr | grep -c \"^$p\\([^0-9]\\|\\$\\)\"", "GNU BRE alternation"),
        ("printf '%s' \"$x\" | grep -q 'ab\\+c'", "GNU BRE \\+"),
        ("sed -n 's/a\\?b//p'", "GNU BRE \\?"),
        ("grep -q '\\sfoo'", "GNU regex \\s"),
        ("grep -o 'x[0-9]*' file", "grep -o (not an option of illumos grep"),
        ("out=$(dladm show-link | grep -P 'x\\d')", "grep -P (not an option of illumos grep"),
        ("grep --quiet x file", "grep long option --quiet"),
        ("grep -wE 'a|b' file", "grep -w with -E or -F"),
        ("sed -i 's/a/b/' file", "sed -i"),
        ("sed -r 's/(a)/b/' file", "sed -r"),
        ("dir=$(readlink -f \"$0\")", "GNU readlink -f"),
        ("find . -printf '%p'", "GNU find -printf"),
        ("awk '{ print gensub(/a/, \"b\", \"g\") }'", "gawk gensub()"),
        ("echo -e 'a\\tb'", "echo -e"),
    ];
    for (code, rule) in cases {
        let file = scratch.write("01-x.sh", &format!("# shellcheck shell=sh\n# a comment may say \\| freely\nt_main() {{\n\t{code}\n}}\n"));
        let problems = problems_in(&file).join("\n");
        assert!(problems.contains(rule), "'{code}' was not reported as '{rule}'; got:\n{problems}");
        assert!(problems.contains(":4:"), "the line number is named: {problems}");
    }
    // What the suite does use passes: POSIX classes, -E alternation,
    // illumos grep's options, comments mentioning the forbidden forms.
    let file = scratch.write(
        "02-ok.sh",
        "# shellcheck shell=sh\n# never \\| or \\+ here\nt_main() {\n\tgrep -qxF \"$l\" f\n\tgrep -c . f\n\tgrep -E 'a|b' f\n\tsed -n 's/[[:space:]]*x/y/p' f\n\tpgrep -u nobody -f x\n}\n",
    );
    let problems = problems_in(&file);
    assert!(problems.is_empty(), "{problems:?}");
}
