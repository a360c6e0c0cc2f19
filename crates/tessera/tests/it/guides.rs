//! The documentation runs: every command of the README's quick start and
//! of each page of docs/guides/ is executed, in order, against a real
//! `tessera serve` (started by the page itself), real curl, nginx and
//! Caddy, and every answer a page shows is compared with the real one.
//!
//! How a page marks its blocks (the info string after the opening fence):
//! - ```` ```sh ````: commands, run in one `bash` per page with
//!   `set -euo pipefail`, in the page's order; a command that fails fails
//!   the test, naming the page's line.
//! - ```` ```sh no-run ````: shown but not run (installs, builds); the test
//!   lists every block it skipped, so skipping is never silent.
//! - ```` ```sh background wait=127.0.0.1:PORT ````: a long-running
//!   command (a server, a proxy); started in the background, then the
//!   next block waits until `PORT` accepts connections. Stopped at the end.
//! - ```` ```output ````: the exact output (stdout and stderr) of the
//!   `sh` block just before it. Before comparing, both sides have their
//!   random parts replaced (tokens, JWTs, ids, times, fingerprints), and a
//!   line `...` stands for any number of lines.
//! - any language with `file=NAME` (```` ```toml file=tessera.toml ````):
//!   written to `NAME` at that point, as a reader would save it.
//! - `bash`, `shell`, `console` or an unlabelled fence is refused: commands
//!   belong in `sh` blocks, where this test finds them.
//!
//! Each page runs in an empty directory (shown in outputs as
//! `/home/you/tessera-demo`) with `tessera` (the binary under test) first
//! on `PATH`. Every `127.0.0.1:PORT` a page names is mapped to
//! a free port (the same one everywhere on the page, outputs included),
//! and Tessera listens on the one `127.0.0.1:8443` maps to.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The pages under docs/guides/, each run by a test below.
const GUIDES: [&str; 5] = [
    "oauth2.md",
    "header-login.md",
    "domain-login.md",
    "envelope-login.md",
    "protect-an-api.md",
];

/// Where the pages say they run: the page's real working directory is
/// written so in the outputs it is compared in.
const DEMO_DIR: &str = "/home/you/tessera-demo";

/// Longest a whole page may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One fenced block's part in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Run { line: usize, text: String },
    Background { line: usize, text: String, wait: String },
    File { line: usize, name: String, text: String },
    Expect { line: usize, text: String },
    Skip { line: usize, text: String },
}

/// The steps of a Markdown page, or what is wrong with its fences.
fn parse(md: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut lines = md.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let line_no = i + 1;
        let mut text = String::new();
        let mut closed = false;
        for (_, body) in lines.by_ref() {
            if body.trim_start().starts_with("```") {
                closed = true;
                break;
            }
            let cut = body.len() - body.trim_start().len();
            text.push_str(&body[cut.min(indent)..]);
            text.push('\n');
        }
        if !closed {
            return Err(format!("line {line_no}: this fence is never closed"));
        }
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or("");
        let tags: Vec<&str> = words.collect();
        if let Some(name) = tags.iter().find_map(|t| t.strip_prefix("file=")) {
            steps.push(Step::File {
                line: line_no,
                name: name.to_owned(),
                text,
            });
            continue;
        }
        match lang {
            "" => return Err(format!("line {line_no}: a fenced block needs a language (sh, output, toml, ...)")),
            "bash" | "shell" | "console" | "zsh" => {
                return Err(format!(
                    "line {line_no}: commands go in ```sh blocks (or ```sh no-run), where the guide test runs them; found ```{lang}"
                ))
            }
            "sh" => steps.push(sh_step(line_no, &tags, text)?),
            "output" => {
                if !matches!(steps.last(), Some(Step::Run { .. })) {
                    return Err(format!("line {line_no}: an ```output block must follow the ```sh block it shows"));
                }
                steps.push(Step::Expect { line: line_no, text });
            }
            _ => {}
        }
    }
    Ok(steps)
}

fn sh_step(line: usize, tags: &[&str], text: String) -> Result<Step, String> {
    match tags {
        [] => Ok(Step::Run { line, text }),
        ["no-run"] => Ok(Step::Skip { line, text }),
        ["background", wait] if wait.starts_with("wait=127.0.0.1:") => Ok(Step::Background {
            line,
            text,
            wait: wait["wait=".len()..].to_owned(),
        }),
        _ => Err(format!(
            "line {line}: unknown ```sh tags {tags:?}; use none, `no-run`, or `background wait=127.0.0.1:PORT`"
        )),
    }
}

/// Every `127.0.0.1:PORT` the steps name, mapped to a free port.
fn port_map(steps: &[Step]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    map.insert("127.0.0.1:8443".to_owned(), free_addr());
    for step in steps {
        let text = match step {
            Step::Run { text, .. } | Step::File { text, .. } | Step::Expect { text, .. } => text.as_str(),
            Step::Background { text, wait, .. } => {
                map.entry(wait.clone()).or_insert_with(free_addr);
                text.as_str()
            }
            Step::Skip { .. } => continue,
        };
        let mut rest = text;
        while let Some(at) = rest.find("127.0.0.1:") {
            let after = &rest[at + "127.0.0.1:".len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                map.entry(format!("127.0.0.1:{digits}")).or_insert_with(free_addr);
            }
            rest = after;
        }
    }
    map
}

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Rewrites every address of `map` in `text`, whole port numbers only.
fn remap(text: &str, map: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let after = &rest[at + "127.0.0.1:".len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let from = format!("127.0.0.1:{digits}");
        out.push_str(&rest[..at]);
        out.push_str(map.get(&from).map_or(from.as_str(), String::as_str));
        rest = &after[digits.len()..];
    }
    out.push_str(rest);
    out
}

/// The bash script that runs the steps; `dir` holds its bookkeeping
/// (`current`: the step running; `out.N`: each step's output).
fn script(steps: &[Step], dir: &Path) -> String {
    let d = dir.display();
    let mut s = format!(
        r#"set -euo pipefail
set -m
__G='{d}'
__bg=()
__stop() {{
  for p in "${{__bg[@]}}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for p in "${{__bg[@]}}"; do wait "$p" 2>/dev/null || true; done
}}
trap __stop EXIT
__wait_port() {{
  local pid=$1 host=${{2%:*}} port=${{2##*:}} out=$3
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "the background command ended before $2 answered:" >&2; cat "$out" >&2; return 1; fi
    sleep 0.05
  done
  echo "nothing answered on $2 within 30 s:" >&2; cat "$out" >&2; return 1
}}
"#
    );
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Run { text, .. } => {
                let _ = write!(
                    s,
                    "echo {i} > \"$__G/current\"\n{{\n{text}}} > \"$__G/out.{i}\" 2>&1\n"
                );
            }
            Step::Background { text, wait, .. } => {
                let _ = write!(
                    s,
                    "echo {i} > \"$__G/current\"\n( {text}) > \"$__G/out.{i}\" 2>&1 &\n__bg+=($!)\necho $! >> \"$__G/pgids\"\n__wait_port $! {wait} \"$__G/out.{i}\"\n"
                );
            }
            Step::File { name, text, .. } => {
                let _ = write!(
                    s,
                    "echo {i} > \"$__G/current\"\ncat > '{name}' <<'__GUIDE_FILE_END__'\n{text}__GUIDE_FILE_END__\n"
                );
            }
            Step::Expect { .. } | Step::Skip { .. } => {}
        }
    }
    s.push_str("echo done > \"$__G/current\"\n");
    s
}

/// The random parts of an answer, as `sed -E` expressions: both the page's
/// output and the real one pass through them before comparing.
const NORMALISE: [&str; 13] = [
    r"s/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/<jwt>/g",
    r"s/(ts[apr]_)[A-Za-z0-9_-]{43,}/\1<random>/g",
    r"s/[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT/<http-date>/g",
    r"s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})/<time>/g",
    r"s/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}-[0-9]{2}-[0-9]{2} [+-][0-9]{4}/<date>/g",
    r"s/([0-9A-F]{2}:){31}[0-9A-F]{2}/<sha256>/g",
    r"s/\b[0-9a-f]{64}\b/<sha256>/g",
    r"s/\b[0-9a-f]{32}\b/<id>/g",
    r"s/\b1[0-9]{12}\b/<ms>/g",
    r"s/\b1[0-9]{9}\b/<seconds>/g",
    r"s#sha256//[A-Za-z0-9+/]{43}=#sha256//<pin>#g",
    r"s/\([0-9]+ days left\)/(<n> days left)/g",
    r"s/[ \t]+$//",
];

fn normalise(text: &str) -> String {
    use std::io::Write;
    let mut cmd = std::process::Command::new("sed");
    for e in NORMALISE {
        cmd.args(["-E", "-e", e]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sed runs");
    // curl -D prints header lines ending in CR LF.
    let text = text.replace('\r', "");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sed failed");
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Whether `actual` matches `expected`, where an expected line `...`
/// stands for any number of lines.
fn matches(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"...", rest)) => (0..=actual.len()).any(|skip| matches(rest, &actual[skip..])),
        Some((want, rest)) => actual
            .split_first()
            .is_some_and(|(got, more)| got == want && matches(rest, more)),
    }
}

/// Runs a page; `Err` says which block failed and why.
async fn run_page(name: &str, md: &str) -> Result<String, String> {
    let steps = parse(md).map_err(|e| format!("{name}: {e}"))?;
    if !steps.iter().any(|s| matches!(s, Step::Run { .. })) {
        return Err(format!("{name}: no ```sh block to run"));
    }
    let map = port_map(&steps);
    let steps: Vec<Step> = steps
        .into_iter()
        .map(|s| match s {
            Step::Run { line, text } => Step::Run {
                line,
                text: remap(&text, &map),
            },
            Step::Background { line, text, wait } => Step::Background {
                line,
                text: remap(&text, &map),
                wait: map[&wait].clone(),
            },
            Step::File { line, name, text } => Step::File {
                line,
                name,
                text: remap(&text, &map),
            },
            Step::Expect { line, text } => Step::Expect {
                line,
                text: remap(&text, &map),
            },
            skip => skip,
        })
        .collect();
    let root = tempfile::tempdir().unwrap();
    let (work, book, home) = (
        root.path().join("work"),
        root.path().join("run"),
        root.path().join("home"),
    );
    for d in [&work, &book, &home] {
        std::fs::create_dir(d).unwrap();
    }
    // nginx started by root hands its workers to `nobody`: let them in.
    for d in [root.path(), work.as_path()] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let script_path = book.join("page.sh");
    std::fs::write(&script_path, script(&steps, &book)).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tessera"))
        .parent()
        .unwrap()
        .to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(bin_dir)
            .chain(std::env::split_paths(&path))
            .chain(["/usr/sbin", "/sbin"].map(PathBuf::from)),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(&script_path)
        .current_dir(&work)
        .env("PATH", path)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("TESSERA_SERVER__LISTEN", &map["127.0.0.1:8443"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("TESSERA_") || var == "RUST_LOG" || var == "CURL_CA_BUNDLE" {
            cmd.env_remove(var);
        }
    }
    let child = cmd.spawn().expect("bash runs");
    let outcome = tokio::time::timeout(PAGE_TIMEOUT, child.wait_with_output()).await;
    // Whatever happened, no background command outlives the page.
    if let Ok(pgids) = std::fs::read_to_string(book.join("pgids")) {
        for pgid in pgids.split_whitespace() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
    let current = std::fs::read_to_string(book.join("current")).unwrap_or_default();
    let output_of = |i: usize| std::fs::read_to_string(book.join(format!("out.{i}"))).unwrap_or_default();
    let mut report = String::new();
    let mut failed = false;
    match outcome {
        Err(_) => {
            failed = true;
            let _ = writeln!(report, "{name}: did not finish within {PAGE_TIMEOUT:?}");
        }
        Ok(out) => {
            let out = out.unwrap();
            if !out.status.success() {
                failed = true;
                let _ = writeln!(
                    report,
                    "{name}: bash exited with {}; stderr:\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    if failed {
        if let Ok(i) = current.trim().parse::<usize>() {
            let (line, text) = match &steps[i] {
                Step::Run { line, text }
                | Step::Background { line, text, .. }
                | Step::File { line, text, .. } => (*line, text.as_str()),
                _ => (0, ""),
            };
            let _ = writeln!(
                report,
                "the block at {name}:{line} failed:\n{text}--- its output:\n{}",
                output_of(i)
            );
        }
    }
    let mut skipped = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Expect { line, text } => {
                let ran = i - 1;
                if !book.join(format!("out.{ran}")).exists() {
                    continue;
                }
                let printed = output_of(ran).replace(&work.display().to_string(), DEMO_DIR);
                let (want, got) = (normalise(text), normalise(&printed));
                let (want_lines, got_lines): (Vec<&str>, Vec<&str>) =
                    (want.lines().collect(), got.lines().collect());
                if !matches(&want_lines, &got_lines) {
                    failed = true;
                    let _ = writeln!(
                        report,
                        "the output at {name}:{line} is not what the command printed\n--- the page shows (normalised):\n{want}\n--- the command printed (normalised):\n{got}\n--- the command printed:\n{}",
                        output_of(ran)
                    );
                }
            }
            Step::Skip { line, text } => skipped.push(format!("{name}:{line}: {}", text.trim())),
            Step::Background { line, .. } if failed => {
                let _ = writeln!(
                    report,
                    "--- output of the background block at {name}:{line}:\n{}",
                    output_of(i)
                );
            }
            _ => {}
        }
    }
    if failed {
        return Err(report);
    }
    Ok(format!(
        "{name}: every block ran; not run (```sh no-run): {}",
        if skipped.is_empty() {
            "none".to_owned()
        } else {
            format!("\n  {}", skipped.join("\n  "))
        }
    ))
}

/// Fails, saying what to install, when a tool the pages use is missing.
fn require_tools(page: &str, tools: &[&str]) {
    for tool in tools {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("PATH=\"$PATH:/usr/sbin:/sbin\" command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "{page} runs `{tool}`, which is not installed: apt-get install -y curl jq python3 nginx-light caddy \
             (.ci/run installs them)"
        );
    }
}

async fn run_file(relative: &str) {
    require_tools(relative, &["bash", "curl", "jq", "sed", "python3"]);
    if relative.ends_with("protect-an-api.md") {
        require_tools(relative, &["nginx", "caddy"]);
    }
    let md =
        std::fs::read_to_string(repo_root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    match run_page(relative, &md).await {
        Ok(summary) => eprintln!("{summary}"),
        Err(report) => panic!("{report}"),
    }
}

#[tokio::test]
async fn readme_quick_start_runs() {
    run_file("README.md").await;
}

#[tokio::test]
async fn oauth2_guide_runs() {
    run_file("docs/guides/oauth2.md").await;
}

#[tokio::test]
async fn header_login_guide_runs() {
    run_file("docs/guides/header-login.md").await;
}

#[tokio::test]
async fn domain_login_guide_runs() {
    run_file("docs/guides/domain-login.md").await;
}

#[tokio::test]
async fn envelope_login_guide_runs() {
    run_file("docs/guides/envelope-login.md").await;
}

#[tokio::test]
async fn protect_an_api_guide_runs() {
    run_file("docs/guides/protect-an-api.md").await;
}

/// A page added to docs/guides/ without a test above would never run.
#[test]
fn every_guide_has_its_test() {
    let mut found: Vec<String> = std::fs::read_dir(repo_root().join("docs/guides"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    found.sort();
    let mut listed: Vec<String> = GUIDES.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "docs/guides/ and GUIDES in tests/it/guides.rs differ"
    );
}

/// The runner itself can fail: a wrong command, a wrong answer, a typo in
/// a tag, a command hidden in a bash block.
#[tokio::test]
async fn a_wrong_page_fails() {
    let failing_command = "```sh\necho before\nfalse\necho after\n```\n";
    let report = run_page("t.md", failing_command).await.unwrap_err();
    assert!(report.contains("the block at t.md:1 failed"), "{report}");

    let wrong_answer = "```sh\necho 'token tsa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'\necho 200\n```\n```output\ntoken tsa_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n401\n```\n";
    let report = run_page("t.md", wrong_answer).await.unwrap_err();
    assert!(report.contains("the output at t.md:5 is not what"), "{report}");

    let right_answer = "```sh\necho 'token tsa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'\necho one; echo two; echo 200\n```\n```output\ntoken tsa_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n...\n200\n```\n";
    run_page("t.md", right_answer).await.unwrap();

    let typo = "```sh norun\ntrue\n```\n";
    assert!(run_page("t.md", typo)
        .await
        .unwrap_err()
        .contains("unknown ```sh tags"));
    let hidden = "```bash\ncurl https://example.invalid\n```\n";
    assert!(run_page("t.md", hidden)
        .await
        .unwrap_err()
        .contains("commands go in ```sh"));

    let dead_server = "```sh background wait=127.0.0.1:8443\nexit 3\n```\n```sh\ntrue\n```\n";
    let report = run_page("t.md", dead_server).await.unwrap_err();
    assert!(report.contains("ended before"), "{report}");
}
