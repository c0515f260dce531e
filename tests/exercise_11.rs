//! Exercise 11's grader is honest: it fails the shipped starter (a checksum
//! without the key), fails a keyed MAC that does not cover the link, fails
//! a seal that refuses everything, and passes a reference solution. Kept
//! apart from `tests/exercises.rs` so exercises added in parallel do not
//! collide; the frozen starter is checked against the shipped file there.

#[allow(dead_code)]
#[path = "exercise_starters/exercise_11_tamper_proof.rs"]
mod ex11;

use replikv::NodeId;
use replikv::lab::exercises::{grade_tamper_proof, grade_tamper_proof_with_seed};

/// The reference solution: a keyed BLAKE3 tag over the link and the
/// message, compared in constant time.
fn tag(key: &[u8; 32], from: NodeId, to: NodeId, message: &[u8]) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(&from.0.to_le_bytes());
    hasher.update(&to.0.to_le_bytes());
    hasher.update(message);
    hasher.finalize()
}

fn seal(key: &[u8; 32], from: NodeId, to: NodeId, message: &[u8]) -> Vec<u8> {
    let mut sealed = message.to_vec();
    sealed.extend_from_slice(tag(key, from, to, message).as_bytes());
    sealed
}

fn open(key: &[u8; 32], from: NodeId, to: NodeId, sealed: &[u8]) -> Option<Vec<u8>> {
    let split = sealed.len().checked_sub(32)?;
    let (message, claimed) = sealed.split_at(split);
    let claimed = blake3::Hash::from_bytes(claimed.try_into().ok()?);
    (tag(key, from, to, message) == claimed).then(|| message.to_vec())
}

/// Keyed, but over the message only: a message relabelled as coming from
/// another node still opens.
fn seal_unbound(key: &[u8; 32], _: NodeId, _: NodeId, message: &[u8]) -> Vec<u8> {
    seal(key, NodeId(0), NodeId(0), message)
}

fn open_unbound(key: &[u8; 32], _: NodeId, _: NodeId, sealed: &[u8]) -> Option<Vec<u8>> {
    open(key, NodeId(0), NodeId(0), sealed)
}

fn refuse_all(_: &[u8; 32], _: NodeId, _: NodeId, _: &[u8]) -> Option<Vec<u8>> {
    None
}

fn number_before(text: &str, marker: &str) -> Option<u64> {
    let head = &text[..text.find(marker)?];
    head.rsplit(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn the_starter_checksum_fails_for_accepted_forgeries() {
    let grade = grade_tamper_proof(ex11::seal, ex11::open);
    assert!(!grade.passed, "{grade}");
    assert!(
        number_before(&grade.measured, " accepted").is_some_and(|n| n > 0),
        "{grade}"
    );
    assert!(grade.hint.contains("keyed"), "{grade}");
    assert!(grade.replay.is_some());
}

#[test]
fn a_mac_that_does_not_cover_the_link_fails_for_relabelled_messages() {
    let grade = grade_tamper_proof(seal_unbound, open_unbound);
    assert!(!grade.passed, "{grade}");
    assert!(
        number_before(&grade.measured, " accepted").is_some_and(|n| n > 0),
        "{grade}"
    );
}

#[test]
fn refusing_everything_fails_for_refused_honest_messages() {
    let grade = grade_tamper_proof(seal, refuse_all);
    assert!(!grade.passed, "{grade}");
    assert!(number_before(&grade.measured, " honest messages refused").is_some_and(|n| n > 0));
    assert!(grade.hint.contains("exactly what seal produced"), "{grade}");
}

#[test]
fn the_reference_solution_passes_on_several_seeds() {
    for seed in [11, 12, 13] {
        let grade = grade_tamper_proof_with_seed(seal, open, Some(seed));
        assert!(grade.passed, "seed {seed}: {grade}");
        assert!(number_before(&grade.measured, " forged, altered").is_some_and(|n| n > 0));
    }
}

#[test]
fn a_grade_replays_exactly_from_its_seed() {
    let a = grade_tamper_proof_with_seed(ex11::seal, ex11::open, Some(5));
    let b = grade_tamper_proof_with_seed(ex11::seal, ex11::open, Some(5));
    assert_eq!(a, b);
}

/// What LESSON.md says the shipped starter prints is exact (the grader runs
/// on the simulator): each backtick-quoted span of its "As shipped, it
/// prints" sentence in `### Exercise 11:` appears in the starter's grade.
#[test]
fn the_lesson_quotes_what_the_starter_prints_exactly() {
    let lesson =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LESSON.md")).unwrap();
    let sentence = lesson
        .split("\n### Exercise 11:")
        .nth(1)
        .and_then(|s| s.split("As shipped, it prints").nth(1))
        .and_then(|s| s.split("\n\n").next())
        .expect("LESSON.md says what exercise 11's starter prints");
    let quotes: Vec<&str> = sentence.split('`').skip(1).step_by(2).collect();
    assert!(quotes.len() >= 2, "{quotes:?}");
    let printed = grade_tamper_proof(ex11::seal, ex11::open).to_string();
    for quote in quotes {
        assert!(
            printed.contains(quote),
            "LESSON.md quotes `{quote}`; the starter printed:\n{printed}"
        );
    }
}
