//! LESSON.md cannot rot: every command it tells the reader to run is run here.
//!
//! # The conventions LESSON.md follows
//!
//! - Commands live in fenced code blocks marked ` ```sh `, one command per
//!   line. Only two shapes are allowed:
//!   - `cargo run --release --example NAME [-- ARGS]`: an example, run here
//!     from the debug binary that `cargo test` builds
//!     (`target/debug/examples/NAME`);
//!   - `cargo run --release -- SUBCOMMAND ARGS`: the `replikv` binary, run
//!     here as `env!("CARGO_BIN_EXE_replikv")`.
//! - A command must exit successfully, unless its line ends with the comment
//!   `# expect: fail`, which marks an *exercise*: `cargo run --release
//!   --example exercise_…` (with at most `-- --seed N --html FILE`), whose
//!   grader prints FAIL and exits non-zero until the reader has solved it. An exercise runs the reader's own answer — they
//!   solve it in place, in `examples/` — so this test does not run it: a
//!   solved exercise (or a wrong answer) must not turn `cargo test` red. It
//!   checks instead that the command names an exercise with a frozen copy of
//!   its starter in `tests/exercise_starters/`, which `tests/exercises.rs`
//!   grades and proves FAILS.
//! - A command whose line ends with `# exact output below` must print, on
//!   its standard output, exactly the ` ```text ` block that follows its
//!   ` ```sh ` block (the lesson's "You will see"), line for line, trailing
//!   spaces aside. Only a deterministic command can promise that: one on
//!   the simulator (`Runtime::Simulated`), replayed from its seed.
//!   Any other trailing `# comment` is ignored.
//! - Arguments are split on whitespace; quotes are not supported (and are
//!   rejected, so the lesson never shows a command this test runs
//!   differently).
//! - The commands of one block run in order, in one scratch directory (so a
//!   block may write `history.json` and then `replikv check history.json`);
//!   different blocks run in parallel, each in a scratch directory of its own.
//! - An exercise is a heading `### Exercise N: …`; the lesson needs at least
//!   [`MIN_EXERCISES`] of them, each with a command.
//!
//! # Running it
//!
//! `cargo test` builds the examples before it runs the integration tests, so
//! `cargo test --test lesson` after a `cargo test` or `cargo build --examples`
//! finds them. A missing example binary fails with a message saying so. (An
//! example binary is not rebuilt by `cargo test --test lesson` alone: after
//! changing an example, run `cargo build --examples` first.)

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The fewest exercises the lesson may have.
const MIN_EXERCISES: usize = 8;
/// How long one command may run before it is killed and reported.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// The marker of a command that must exit with a failure.
const EXPECT_FAIL: &str = "expect: fail";
/// The marker of a command whose output the next ```text block shows exactly.
const EXACT_OUTPUT: &str = "exact output below";
/// The front-matter fields of the seed lesson, all required.
const FRONT_MATTER_FIELDS: &[&str] = &[
    "number",
    "title",
    "slug",
    "level",
    "tags",
    "prerequisites",
    "estimated_minutes",
    "contributors",
    "diagrams",
    "examples",
    "canonical_id",
];

fn lesson() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("LESSON.md");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// What a lesson command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Program {
    /// `cargo run --release --example NAME`.
    Example(String),
    /// `cargo run --release -- …`: the replikv binary.
    Replikv,
}

#[derive(Debug, Clone)]
struct LessonCommand {
    /// The line as written in LESSON.md (without its comment).
    line: String,
    /// Line number in LESSON.md, 1-based.
    line_no: usize,
    program: Program,
    args: Vec<String>,
    expect_success: bool,
    /// Marked `# exact output below`: its standard output must be
    /// [`LessonCommand::expected_output`].
    exact: bool,
    /// The ```text block after the command's block, for an `exact` command.
    expected_output: Option<String>,
}

/// The ```sh blocks of the lesson, each a list of parsed commands.
fn sh_blocks(text: &str) -> Result<Vec<Vec<LessonCommand>>, String> {
    let mut blocks: Vec<Vec<LessonCommand>> = Vec::new();
    let mut current: Option<Vec<LessonCommand>> = None;
    // The ```text block being read for the last block's exact command.
    let mut expected: Option<Vec<&str>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = raw.trim();
        if let Some(lines) = expected.as_mut() {
            if trimmed != "```" {
                lines.push(raw.trim_end());
                continue;
            }
            let output = lines.join("\n");
            expected = None;
            if let Some(command) = blocks
                .last_mut()
                .and_then(|b| b.iter_mut().find(|c| c.exact))
            {
                command.expected_output = Some(output);
            }
            continue;
        }
        match current.as_mut() {
            None => {
                if trimmed == "```sh" {
                    current = Some(Vec::new());
                } else if trimmed == "```text"
                    && blocks
                        .last()
                        .is_some_and(|b| b.iter().any(|c| c.exact && c.expected_output.is_none()))
                {
                    expected = Some(Vec::new());
                }
            }
            Some(block) => {
                if trimmed.starts_with("```") {
                    blocks.push(current.take().unwrap_or_default());
                } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
                    block.push(parse_command(trimmed, line_no)?);
                }
            }
        }
    }
    if current.is_some() || expected.is_some() {
        return Err("LESSON.md ends inside a code block".to_owned());
    }
    for command in blocks.iter().flatten() {
        if command.exact && command.expected_output.is_none() {
            return Err(format!(
                "LESSON.md:{}: `{}` is marked `# {EXACT_OUTPUT}` but no ```text block follows",
                command.line_no, command.line
            ));
        }
    }
    for block in &blocks {
        if block.iter().filter(|c| c.exact).count() > 1 {
            return Err(format!(
                "LESSON.md:{}: one ```sh block may hold one `# {EXACT_OUTPUT}` command",
                block[0].line_no
            ));
        }
    }
    Ok(blocks)
}

fn parse_command(line: &str, line_no: usize) -> Result<LessonCommand, String> {
    let (command, comment) = match line.find(" #") {
        Some(at) => (line[..at].trim(), line[at + 2..].trim()),
        None => (line, ""),
    };
    if command.contains(['"', '\'', '`', '|', '>', '<', '&', ';', '$']) {
        return Err(format!(
            "LESSON.md:{line_no}: `{command}` uses shell syntax; lesson commands are plain words"
        ));
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    let (program, args) = match words.as_slice() {
        ["cargo", "run", "--release", "--example", name, rest @ ..] => {
            let args = match rest {
                [] => Vec::new(),
                ["--", args @ ..] => args.to_vec(),
                _ => {
                    return Err(format!(
                        "LESSON.md:{line_no}: arguments of an example go after `--`: `{command}`"
                    ));
                }
            };
            (Program::Example((*name).to_owned()), args)
        }
        ["cargo", "run", "--release", "--", args @ ..] if !args.is_empty() => {
            (Program::Replikv, args.to_vec())
        }
        _ => {
            return Err(format!(
                "LESSON.md:{line_no}: `{command}` is neither `cargo run --release --example NAME [-- ARGS]` \
                 nor `cargo run --release -- SUBCOMMAND ARGS`"
            ));
        }
    };
    Ok(LessonCommand {
        line: command.to_owned(),
        line_no,
        program,
        args: args.into_iter().map(str::to_owned).collect(),
        expect_success: comment != EXPECT_FAIL,
        exact: comment == EXACT_OUTPUT,
        expected_output: None,
    })
}

/// `target/debug/examples`, found from this test binary
/// (`target/debug/deps/lesson-…`).
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    profile_dir.join("examples")
}

fn executable(program: &Program) -> Result<PathBuf, String> {
    match program {
        Program::Replikv => Ok(PathBuf::from(env!("CARGO_BIN_EXE_replikv"))),
        Program::Example(name) => {
            let path = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!(
                    "example binary {} is not built: run `cargo test` (which builds the examples) \
                     or `cargo build --examples` before `cargo test --test lesson`",
                    path.display()
                ))
            }
        }
    }
}

/// The outcome of one command.
struct Ran {
    status: Option<ExitStatus>,
    elapsed: Duration,
    /// Standard output, then standard error.
    output: String,
    /// Standard output alone.
    stdout: String,
}

/// Runs `command` in `dir` with output going to files (so a chatty program
/// never blocks on a full pipe), polling for its exit until the deadline.
fn run(command: &LessonCommand, dir: &Path, index: usize) -> Result<Ran, String> {
    let exe = executable(&command.program)?;
    let out_path = dir.join(format!(".lesson-{index}.out"));
    let err_path = dir.join(format!(".lesson-{index}.err"));
    let out = File::create(&out_path).map_err(|e| e.to_string())?;
    let err = File::create(&err_path).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(&exe)
        .args(&command.args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let deadline = started + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let elapsed = started.elapsed();
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let output = format!(
        "{stdout}{}",
        fs::read_to_string(&err_path).unwrap_or_default()
    );
    Ok(Ran {
        status,
        elapsed,
        output,
        stdout,
    })
}

/// `text` with each line's trailing spaces and the trailing blank lines cut.
fn trimmed_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Checks one command's outcome; `None` when it behaved as the lesson says.
fn judge(command: &LessonCommand, ran: &Ran) -> Option<String> {
    let verdict = match ran.status {
        None => format!("timed out after {:?} and was killed", COMMAND_TIMEOUT),
        Some(status) if status.success() == command.expect_success => {
            let expected = command.expected_output.as_deref()?;
            let printed = trimmed_lines(&ran.stdout);
            if printed == expected {
                return None;
            }
            return Some(format!(
                "LESSON.md:{}: `{}` printed something else than the ```text block after it \
                 (`# {EXACT_OUTPUT}`)\n--- the lesson shows ---\n{expected}\n--- it printed \
                 ---\n{printed}\n---",
                command.line_no, command.line
            ));
        }
        Some(status) if command.expect_success => format!("failed ({status}), expected success"),
        Some(status) => format!(
            "succeeded ({status}), but the lesson marks it `# {EXPECT_FAIL}` (an exercise starter must FAIL)"
        ),
    };
    Some(format!(
        "LESSON.md:{}: `{}` {verdict}\n--- last lines of its output ---\n{}\n---",
        command.line_no,
        command.line,
        tail(&ran.output, 40)
    ))
}

#[test]
fn front_matter_has_the_seed_lessons_fields() {
    let text = lesson();
    let mut parts = text.splitn(3, "---\n");
    assert_eq!(
        parts.next(),
        Some(""),
        "LESSON.md must start with `---` front matter"
    );
    let front = parts.next().expect("front matter closed by `---`");
    let keys: BTreeSet<&str> = front
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .collect();
    for field in FRONT_MATTER_FIELDS {
        assert!(keys.contains(field), "front matter lacks `{field}:`");
    }
    let examples = front
        .lines()
        .find_map(|l| l.strip_prefix("examples:"))
        .expect("examples field");
    let examples = examples.trim();
    assert!(
        examples.starts_with('[') && examples.ends_with(']') && examples != "[]",
        "front matter `examples:` must list the lesson's examples, as the seed's one-line list"
    );
}

#[test]
fn every_command_has_a_supported_shape() {
    let blocks = sh_blocks(&lesson()).unwrap_or_else(|e| panic!("{e}"));
    let commands: usize = blocks.iter().map(Vec::len).sum();
    assert!(commands >= 10, "only {commands} commands in LESSON.md");
    assert!(
        blocks.iter().all(|b| !b.is_empty()),
        "an empty ```sh block in LESSON.md"
    );
}

#[test]
fn lesson_has_enough_exercises_each_with_a_command() {
    let text = lesson();
    let mut exercises = 0;
    let sections: Vec<&str> = text.split("\n### ").skip(1).collect();
    for section in sections {
        if !section.starts_with("Exercise ") {
            continue;
        }
        exercises += 1;
        let title = section.lines().next().unwrap_or_default();
        let section = section.split("\n## ").next().unwrap_or_default();
        assert!(
            section.contains("```sh\ncargo run --release --example exercise_"),
            "exercise `{title}` has no ```sh block running an exercise example"
        );
    }
    assert!(
        exercises >= MIN_EXERCISES,
        "LESSON.md has {exercises} exercises (headings `### Exercise …`), needs at least {MIN_EXERCISES}"
    );
}

/// Example names: top-level `examples/NAME.rs` and `examples/NAME/main.rs`.
fn example_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).expect("examples/") {
        let path = entry.expect("directory entry").path();
        let name = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        match name {
            Some(name) if path.is_file() && path.extension().is_some_and(|e| e == "rs") => {
                names.push(name)
            }
            Some(name) if path.is_dir() && path.join("main.rs").is_file() => names.push(name),
            _ => {}
        }
    }
    names.sort();
    names
}

#[test]
fn every_example_is_in_the_lesson() {
    let text = lesson();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let missing: Vec<String> = example_names()
        .into_iter()
        .filter(|name| {
            !text.match_indices(name.as_str()).any(|(at, _)| {
                let before = text[..at].chars().next_back().is_none_or(|c| !is_word(c));
                let after = text[at + name.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !is_word(c));
                before && after
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "examples not mentioned in LESSON.md: {missing:?}"
    );
}

#[test]
fn every_command_in_the_lesson_runs_as_the_lesson_says() {
    // Exercises run the reader's answer: see
    // `every_exercise_command_has_a_frozen_starter`.
    let blocks: Vec<Vec<LessonCommand>> = sh_blocks(&lesson())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|block| {
            block
                .into_iter()
                .filter(|c| c.expect_success)
                .collect::<Vec<_>>()
        })
        .filter(|block| !block.is_empty())
        .collect();
    // Fail fast, before running anything, if an example is not built.
    let missing: BTreeSet<String> = blocks
        .iter()
        .flatten()
        .filter_map(|c| executable(&c.program).err())
        .collect();
    assert!(
        missing.is_empty(),
        "{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );

    let scratch = tempfile::tempdir().expect("scratch directory");
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 3);
    let queue = Mutex::new(blocks.iter().enumerate());
    let failures = Mutex::new(Vec::new());
    let timings = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let Some((b, block)) = queue.lock().unwrap().next() else {
                        return;
                    };
                    let dir = scratch.path().join(format!("block-{b}"));
                    fs::create_dir_all(&dir).expect("block directory");
                    for (i, command) in block.iter().enumerate() {
                        match run(command, &dir, i) {
                            Ok(ran) => {
                                timings.lock().unwrap().push((
                                    command.line_no,
                                    command.line.clone(),
                                    ran.elapsed,
                                ));
                                if let Some(failure) = judge(command, &ran) {
                                    failures.lock().unwrap().push(failure);
                                }
                            }
                            Err(e) => failures.lock().unwrap().push(format!(
                                "LESSON.md:{}: `{}`: {e}",
                                command.line_no, command.line
                            )),
                        }
                    }
                }
            });
        }
    });
    let mut timings = timings.into_inner().unwrap();
    timings.sort();
    for (line_no, line, elapsed) in &timings {
        eprintln!(
            "{:>7.2} s  LESSON.md:{line_no}  {line}",
            elapsed.as_secs_f64()
        );
    }
    eprintln!(
        "{} commands in {:.1} s with {workers} workers",
        timings.len(),
        started.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} lesson command(s) misbehaved:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every `# expect: fail` command is an exercise whose starter, frozen in
/// `tests/exercise_starters/`, `tests/exercises.rs` grades: the lesson's
/// "as shipped, it FAILS" is checked there, on a copy the reader never edits.
#[test]
fn every_exercise_command_has_a_frozen_starter() {
    let blocks = sh_blocks(&lesson()).unwrap_or_else(|e| panic!("{e}"));
    let exercises: Vec<&LessonCommand> = blocks
        .iter()
        .flatten()
        .filter(|c| !c.expect_success)
        .collect();
    assert!(
        exercises.len() >= MIN_EXERCISES,
        "only {} commands are marked `# {EXPECT_FAIL}`",
        exercises.len()
    );
    let starters = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/exercise_starters");
    for command in exercises {
        let Program::Example(name) = &command.program else {
            panic!(
                "LESSON.md:{}: `{}` is marked `# {EXPECT_FAIL}` but is not an example",
                command.line_no, command.line
            );
        };
        assert!(
            name.starts_with("exercise_"),
            "LESSON.md:{}: only an exercise (`--example exercise_…`) may be marked `# {EXPECT_FAIL}`",
            command.line_no
        );
        if let Err(e) = replikv::lab::exercises::ExerciseArgs::parse(command.args.clone()) {
            panic!(
                "LESSON.md:{}: `{}`: the exercise would refuse its arguments: {e}",
                command.line_no, command.line
            );
        }
        let starter = starters.join(format!("{name}.rs"));
        assert!(
            starter.is_file(),
            "LESSON.md:{}: exercise {name} has no frozen starter {}",
            command.line_no,
            starter.display()
        );
    }
}

#[test]
fn the_parser_reads_both_command_shapes_and_the_fail_marker() {
    let text = "intro\n```sh\ncargo run --release --example quickstart\n\
                cargo run --release --example exercise_01_x -- --fast   # expect: fail\n\
                # a comment line\ncargo run --release -- run --ops 5  # a note\n```\n\
                ```text\nnot a command\n```\n";
    let blocks = sh_blocks(text).unwrap();
    assert_eq!(blocks.len(), 1);
    let [a, b, c] = blocks[0].as_slice() else {
        panic!("three commands expected: {blocks:?}")
    };
    assert_eq!(a.program, Program::Example("quickstart".into()));
    assert!(a.args.is_empty() && a.expect_success);
    assert_eq!(b.program, Program::Example("exercise_01_x".into()));
    assert_eq!(b.args, ["--fast"]);
    assert!(!b.expect_success);
    assert_eq!(c.program, Program::Replikv);
    assert_eq!(c.args, ["run", "--ops", "5"]);
    assert!(c.expect_success);
    assert!(sh_blocks("```sh\ncargo build\n```\n").is_err());
    assert!(sh_blocks("```sh\ncargo run --release -- run > out\n```\n").is_err());
    assert!(sh_blocks("```sh\ncargo run --release --example x --flag\n```\n").is_err());
}

/// A `# exact output below` command takes the ```text block after its
/// block as what it must print, and a command that prints anything else
/// fails the lesson.
#[test]
fn an_exact_output_command_must_print_the_text_block_after_it() {
    let text = "```sh\ncargo run --release --example replay   # exact output below\n```\n\n\
                You will see:\n\n```text\nseed 7: 3 ops  \nsame\n```\n\
                ```text\nanother block\n```\n";
    let blocks = sh_blocks(text).unwrap();
    let command = &blocks[0][0];
    assert!(command.exact && command.expect_success);
    assert_eq!(
        command.expected_output.as_deref(),
        Some("seed 7: 3 ops\nsame")
    );
    assert!(
        sh_blocks("```sh\ncargo run --release --example replay  # exact output below\n```\n")
            .is_err(),
        "an exact command with no text block after it"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let ran = |stdout: &str| Ran {
            status: Some(ExitStatus::from_raw(0)),
            elapsed: Duration::ZERO,
            output: stdout.to_owned(),
            stdout: stdout.to_owned(),
        };
        assert_eq!(judge(command, &ran("seed 7: 3 ops   \nsame\n\n")), None);
        let failure = judge(command, &ran("seed 7: 4 ops\nsame\n")).expect("a mismatch fails");
        assert!(failure.contains("seed 7: 4 ops"), "{failure}");
    }
}
