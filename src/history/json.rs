//! History JSON: import and export (the format is documented in the
//! [history module docs](crate::history#history-json), where users find it).
//!
//! One serde schema, [`JsonOp`], is both what [`History::write_json`] writes
//! and what [`History::from_json`] reads: its fields, in the documented
//! order, are the format. Export streams one `JsonOp` per operation rather
//! than building a `serde_json::Value` tree of a long history. Import adds
//! `deny_unknown_fields` and required `Option`s, then [`History::validate`].

use super::op::{History, OpKind, Operation};
use crate::ids::ClientId;
use crate::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;
use std::io::Write;

/// The prefix that marks a base64-encoded key or value.
const BASE64_PREFIX: &str = "base64:";

/// One operation as it appears in the JSON array: the schema of the format,
/// for export and import alike.
///
/// `Option` fields use `deserialize_with` so that serde treats them as
/// required: by default a missing `Option` field silently becomes `None`.
/// The fields that only some kinds have (`expected` and `swapped` for a
/// compare-and-set, `output` for the others) are `Option<Option<_>>`:
/// absent (`None`, skipped on export) or present, possibly `null`; which
/// must be present is checked per kind in [`JsonOp::into_operation`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOp<'a> {
    client: u64,
    key: Cow<'a, str>,
    op: OpKind,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    expected: Option<Option<Cow<'a, str>>>,
    #[serde(deserialize_with = "required")]
    value: Option<Cow<'a, str>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    output: Option<Option<Cow<'a, str>>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    swapped: Option<Option<bool>>,
    ok: bool,
    call_ns: u64,
    #[serde(deserialize_with = "required")]
    return_ns: Option<u64>,
}

fn required<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// A field that is there, possibly `null` (serde calls this only when the
/// field is present; absent is the `default`, `None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl<'a> From<&'a Operation> for JsonOp<'a> {
    fn from(op: &'a Operation) -> Self {
        let cas = op.kind == OpKind::Cas;
        JsonOp {
            client: op.client.0,
            key: encode_bytes(&op.key),
            op: op.kind,
            expected: cas.then(|| op.expected.as_deref().map(encode_bytes)),
            value: op.value.as_deref().map(encode_bytes),
            output: (!cas).then(|| op.output.as_deref().map(encode_bytes)),
            swapped: cas.then_some(op.swapped),
            ok: op.ok,
            call_ns: op.call_ns,
            return_ns: op.return_ns,
        }
    }
}

impl JsonOp<'_> {
    /// The operation, or what is wrong with the field that is not bytes as
    /// the format writes them, or that is missing or extra for its kind.
    fn into_operation(self) -> std::result::Result<Operation, (&'static str, String)> {
        let bytes = |name, s: Option<Cow<'_, str>>| {
            s.map(|s| decode_bytes(s.into_owned()))
                .transpose()
                .map_err(|m| (name, m))
        };
        let cas = self.op == OpKind::Cas;
        let wanted =
            |name: &'static str, present: bool, for_cas: bool| match (present, for_cas == cas) {
                (false, true) => Err((
                    name,
                    format!("missing: a {} has it (null allowed)", kind_name(self.op)),
                )),
                (true, false) => Err((name, format!("unknown for a {}", kind_name(self.op)))),
                _ => Ok(()),
            };
        wanted("expected", self.expected.is_some(), true)?;
        wanted("swapped", self.swapped.is_some(), true)?;
        wanted("output", self.output.is_some(), false)?;
        Ok(Operation {
            client: ClientId(self.client),
            key: decode_bytes(self.key.into_owned()).map_err(|m| ("key", m))?,
            kind: self.op,
            value: bytes("value", self.value)?,
            expected: bytes("expected", self.expected.flatten())?,
            swapped: self.swapped.flatten(),
            output: bytes("output", self.output.flatten())?,
            ok: self.ok,
            call_ns: self.call_ns,
            return_ns: self.return_ns,
            cached: false,
        })
    }
}

/// The `op` string of a kind, for messages.
fn kind_name(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Put => "put",
        OpKind::Get => "get",
        OpKind::Delete => "delete",
        OpKind::Cas => "cas",
    }
}

/// Encodes bytes for JSON (see the module docs).
fn encode_bytes(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.starts_with(BASE64_PREFIX) => Cow::Borrowed(s),
        _ => Cow::Owned(format!("{BASE64_PREFIX}{}", STANDARD.encode(bytes))),
    }
}

/// Decodes a JSON string into bytes (see the module docs).
fn decode_bytes(s: String) -> std::result::Result<Vec<u8>, String> {
    match s.strip_prefix(BASE64_PREFIX) {
        Some(encoded) => STANDARD.decode(encoded).map_err(|e| {
            format!("{s:?} starts with {BASE64_PREFIX:?} but is not valid base64: {e}")
        }),
        None => Ok(s.into_bytes()),
    }
}

/// Writes one operation as a single-line JSON object.
fn write_op(w: &mut impl Write, op: &Operation) -> Result<()> {
    serde_json::to_writer(w, &JsonOp::from(op)).map_err(|e| match e.io_error_kind() {
        Some(kind) => Error::Io(std::io::Error::new(kind, e)),
        None => Error::Encode(e.to_string()),
    })
}

/// One operation as the single-line JSON object of the history format.
pub(crate) fn op_json(op: &Operation) -> String {
    serde_json::to_string(&JsonOp::from(op)).unwrap_or_else(|e| format!("{op:?} ({e})"))
}

impl History {
    /// The history as [JSON](crate::history#history-json): one array, one
    /// object per line.
    ///
    /// ```
    /// use replikv::ClientId;
    /// use replikv::history::{History, OpKind, Operation};
    ///
    /// let put = Operation {
    ///     client: ClientId(1),
    ///     key: b"x".to_vec(),
    ///     kind: OpKind::Put,
    ///     value: Some(b"a".to_vec()),
    ///     output: None,
    ///     expected: None,
    ///     swapped: None,
    ///     ok: true,
    ///     call_ns: 0,
    ///     return_ns: Some(1_500),
    ///     cached: false,
    /// };
    /// let json = History::new(vec![put]).to_json();
    /// assert_eq!(
    ///     json,
    ///     "[\n  {\"client\":1,\"key\":\"x\",\"op\":\"put\",\"value\":\"a\",\"output\":null,\
    ///      \"ok\":true,\"call_ns\":0,\"return_ns\":1500}\n]"
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(2 + 130 * self.ops.len());
        // Writing into a Vec cannot fail, and serde_json writes UTF-8.
        match self.write_json(&mut out) {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(e) => unreachable!("writing JSON into memory failed: {e}"),
        }
    }

    /// Writes [`History::to_json`]'s text to `w`, one operation at a time,
    /// so a long history is never held in memory twice.
    ///
    /// Fails with [`Error::Io`] when `w` does.
    ///
    /// ```
    /// use replikv::history::History;
    ///
    /// let mut buf = Vec::new();
    /// History::default().write_json(&mut buf)?;
    /// assert_eq!(buf, b"[]");
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn write_json(&self, mut w: impl Write) -> Result<()> {
        w.write_all(b"[")?;
        for (i, op) in self.ops.iter().enumerate() {
            w.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
            write_op(&mut w, op)?;
        }
        w.write_all(if self.ops.is_empty() { b"]" } else { b"\n]" })?;
        w.flush()?;
        Ok(())
    }

    /// Parses a history written by [`History::to_json`] or by another tool
    /// following the [format](crate::history#history-json).
    ///
    /// The result is also checked with [`History::validate`]. Any problem is
    /// an [`Error::InvalidHistory`] naming the operation and the field;
    /// nothing in the input can make this panic.
    ///
    /// ```
    /// use replikv::history::{History, OpKind};
    ///
    /// let json = r#"[{"client":7,"key":"x","op":"get","value":null,"output":"base64:/w==",
    ///                 "ok":true,"call_ns":10,"return_ns":null}]"#;
    /// let history = History::from_json(json)?;
    /// let get = &history.ops[0];
    /// assert_eq!(get.kind, OpKind::Get);
    /// assert_eq!(get.output, Some(vec![0xff]));
    /// assert!(get.is_indeterminate());
    ///
    /// // A missing field is an error, not a silent default.
    /// assert!(History::from_json(r#"[{"client":7}]"#).is_err());
    /// // A message trace is not a history, and the error says where it goes.
    /// let trace = r#"{"version":1,"exact":true,"events":[]}"#;
    /// let err = History::from_json(trace).unwrap_err().to_string();
    /// assert!(err.contains("replikv diagram"), "{err}");
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn from_json(json: &str) -> Result<History> {
        let raw: Vec<JsonOp> = serde_json::from_str(json).map_err(|e| {
            let trace = serde_json::from_str::<serde_json::Value>(json)
                .is_ok_and(|v| v.get("events").is_some() && v.get("version").is_some());
            let hint = if trace {
                " (this is a message trace: it goes to `replikv diagram`, not `replikv check`)"
            } else {
                ""
            };
            Error::InvalidHistory(format!("not a history JSON array: {e}{hint}"))
        })?;
        let ops = raw
            .into_iter()
            .enumerate()
            .map(|(i, op)| {
                op.into_operation().map_err(|(name, msg)| {
                    Error::InvalidHistory(format!("operation {i}: field `{name}`: {msg}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let history = History::new(ops);
        history.validate()?;
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: u64, kind: OpKind, value: Option<&[u8]>, output: Option<&[u8]>) -> Operation {
        Operation {
            client: ClientId(client),
            key: b"k".to_vec(),
            kind,
            value: value.map(<[u8]>::to_vec),
            output: output.map(<[u8]>::to_vec),
            expected: None,
            swapped: None,
            ok: true,
            call_ns: 10 * client,
            return_ns: Some(10 * client + 5),
            cached: false,
        }
    }

    #[test]
    fn round_trip_keeps_every_field_but_cached() {
        let mut timed_out = op(3, OpKind::Delete, None, None);
        timed_out.return_ns = None;
        timed_out.ok = false;
        let mut failed = op(4, OpKind::Put, Some(b"z"), None);
        failed.ok = false;
        let mut non_utf8_key = op(5, OpKind::Get, None, Some(&[0xff, 0xfe, 0x00]));
        non_utf8_key.key = vec![0x80, 0x81];
        let history = History::new(vec![
            op(1, OpKind::Put, Some("é\"\n".as_bytes()), None),
            op(2, OpKind::Get, None, None),
            timed_out,
            failed,
            non_utf8_key,
            op(6, OpKind::Put, Some(b"base64:looks encoded"), None),
            op(7, OpKind::Put, Some(b""), None),
        ]);
        let back = History::from_json(&history.to_json()).unwrap();
        assert_eq!(back, history);

        let mut cached = history.clone();
        cached.ops[1].cached = true;
        assert_eq!(History::from_json(&cached.to_json()).unwrap(), history);
    }

    #[test]
    fn write_json_matches_to_json() {
        let history = History::new(vec![op(1, OpKind::Put, Some(b"a"), None)]);
        let mut buf = Vec::new();
        history.write_json(&mut buf).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), history.to_json());
    }

    #[test]
    fn field_names_match_the_documented_format() {
        let hand_written = r#"[
  {"client":1,"key":"x","op":"put","value":"a","output":null,"ok":true,"call_ns":0,"return_ns":1500},
  {"client":2,"key":"x","op":"get","value":null,"output":"a","ok":true,"call_ns":900,"return_ns":2000},
  {"client":3,"key":"x","op":"delete","value":null,"output":null,"ok":false,"call_ns":2100,"return_ns":null},
  {"client":4,"key":"base64:gA==","op":"get","value":null,"output":"base64:YmFzZTY0Og==","ok":true,"call_ns":2200,"return_ns":2300}
]"#;
        let history = History::from_json(hand_written).unwrap();
        assert_eq!(history.ops[0].value.as_deref(), Some(&b"a"[..]));
        assert_eq!(history.ops[1].output.as_deref(), Some(&b"a"[..]));
        assert_eq!(history.ops[2].kind, OpKind::Delete);
        assert_eq!(history.ops[2].return_ns, None);
        assert_eq!(history.ops[3].key, vec![0x80]);
        assert_eq!(history.ops[3].output.as_deref(), Some(&b"base64:"[..]));
        // And we write exactly what we read.
        assert_eq!(history.to_json(), hand_written);
    }

    /// The schema of DESIGN.md and of the module docs, field by field:
    /// `{"client":u64,"key":string,"op":"put"|"get"|"delete","value":string|null,
    /// "output":string|null,"ok":bool,"call_ns":u64,"return_ns":u64|null}`.
    #[test]
    fn every_exported_object_follows_the_documented_schema() {
        use serde_json::Value;
        type Check = fn(&Value) -> bool;
        let string_or_null: Check = |v| v.is_string() || v.is_null();
        let schema: [(&str, Check); 8] = [
            ("client", Value::is_u64),
            ("key", Value::is_string),
            ("op", |v| {
                ["put", "get", "delete"].contains(&v.as_str().unwrap_or(""))
            }),
            ("value", string_or_null),
            ("output", string_or_null),
            ("ok", Value::is_boolean),
            ("call_ns", Value::is_u64),
            ("return_ns", |v| v.is_u64() || v.is_null()),
        ];
        let mut timed_out = op(3, OpKind::Delete, None, None);
        timed_out.return_ns = None;
        let mut binary = op(4, OpKind::Get, None, Some(&[0xff]));
        binary.key = vec![0x80];
        let history = History::new(vec![
            op(1, OpKind::Put, Some(b"a"), None),
            op(2, OpKind::Get, None, Some(b"a")),
            timed_out,
            binary,
        ]);
        let text = history.to_json();
        for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
            let object: Value = serde_json::from_str(line.trim().trim_end_matches(',')).unwrap();
            let fields = object.as_object().unwrap();
            assert_eq!(fields.len(), schema.len(), "{line}");
            let mut at = 0;
            for (name, check) in schema {
                assert!(
                    check(&fields[name]),
                    "`{name}` has the wrong type in {line}"
                );
                // Fields appear in the documented order.
                let found = line[at..].find(&format!("\"{name}\":"));
                at += found.unwrap_or_else(|| panic!("`{name}` out of order in {line}"));
            }
        }
        assert!(text.contains(r#""key":"base64:gA==""#), "{text}");
    }

    /// The example in the module docs is a history this code reads and
    /// writes back unchanged.
    #[test]
    fn the_documented_example_round_trips() {
        let docs = include_str!("mod.rs");
        let start = docs
            .find("//! ```json\n")
            .expect("the docs have a JSON example");
        let example: String = docs[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .map(|l| {
                if l.starts_with('{') {
                    format!("  {l}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let history = History::from_json(&example).unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(history.to_json(), example);
    }

    #[test]
    fn empty_history_is_an_empty_array() {
        assert_eq!(History::default().to_json(), "[]");
        assert!(History::from_json(" [ ] ").unwrap().is_empty());
    }

    fn err(json: &str) -> String {
        match History::from_json(json) {
            Err(Error::InvalidHistory(msg)) => msg,
            other => panic!("expected InvalidHistory, got {other:?}"),
        }
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        const GOOD: &str =
            r#""client":1,"key":"x","op":"get","value":null,"output":null,"ok":true,"call_ns":1"#;
        assert!(err("").contains("not a history JSON array"));
        assert!(err("{}").contains("not a history JSON array"));
        assert!(err("[1]").contains("not a history JSON array"));
        assert!(err(&format!("[{{{GOOD}}}]")).contains("return_ns"));
        assert!(err(&format!("[{{{GOOD},\"return_ns\":2,\"extra\":0}}]")).contains("extra"));
        assert!(err(&format!("[{{{GOOD},\"retrun_ns\":2}}]")).contains("retrun_ns"));
        let bad_kind = GOOD.replace("\"get\"", "\"cas\"");
        assert!(err(&format!("[{{{bad_kind},\"return_ns\":2}}]")).contains("cas"));
        let negative = GOOD.replace("\"call_ns\":1", "\"call_ns\":-1");
        assert!(err(&format!("[{{{negative},\"return_ns\":2}}]")).contains("not a history"));
        let bad_b64 = GOOD.replace("\"output\":null", "\"output\":\"base64:!!\"");
        let msg = err(&format!("[{{{bad_b64},\"return_ns\":2}}]"));
        assert!(
            msg.contains("operation 0") && msg.contains("`output`"),
            "{msg}"
        );
        let backwards = GOOD.replace("\"call_ns\":1", "\"call_ns\":9");
        let msg = err(&format!("[{{{backwards},\"return_ns\":2}}]"));
        assert!(
            msg.contains("operation 0") && msg.contains("before"),
            "{msg}"
        );
        let unterminated = &format!("[{{{GOOD},\"return_ns\":2}}")[..40];
        assert!(err(unterminated).contains("not a history"));
    }

    /// The issue's schema for a compare-and-set, exactly:
    /// `{"client":u64,"key":string,"op":"cas","expected":string|null,
    /// "value":string|null,"swapped":bool|null,"ok":bool,"call_ns":u64,
    /// "return_ns":u64|null}`.
    #[test]
    fn compare_and_set_follows_its_documented_schema() {
        let written = r#"[
  {"client":1,"key":"x","op":"cas","expected":null,"value":"a","swapped":true,"ok":true,"call_ns":0,"return_ns":10},
  {"client":2,"key":"x","op":"cas","expected":"b","value":null,"swapped":false,"ok":true,"call_ns":20,"return_ns":30},
  {"client":3,"key":"x","op":"cas","expected":"a","value":"c","swapped":null,"ok":false,"call_ns":40,"return_ns":null},
  {"client":4,"key":"x","op":"get","value":null,"output":"a","ok":true,"call_ns":50,"return_ns":60}
]"#;
        let history = History::from_json(written).unwrap();
        let ops = &history.ops;
        assert_eq!(ops[0].kind, OpKind::Cas);
        assert_eq!(
            (ops[0].expected.as_deref(), ops[0].swapped),
            (None, Some(true))
        );
        assert_eq!(ops[1].expected.as_deref(), Some(&b"b"[..]));
        assert_eq!(
            (ops[1].value.as_deref(), ops[1].swapped),
            (None, Some(false))
        );
        assert_eq!((ops[2].swapped, ops[2].return_ns), (None, None));
        assert_eq!(history.to_json(), written, "written back exactly");
        assert!(
            crate::history::Checker::new()
                .check(&history)
                .is_linearizable()
        );
    }

    #[test]
    fn compare_and_set_fields_are_required_and_only_for_it() {
        let base = r#""client":1,"key":"x","ok":true,"call_ns":0,"return_ns":10"#;
        let bad = [
            // a cas without `swapped`, or `expected`, or with an `output`
            r#""op":"cas","expected":null,"value":"a""#,
            r#""op":"cas","value":"a","swapped":true"#,
            r#""op":"cas","expected":null,"value":"a","swapped":true,"output":null"#,
            // a put with cas fields
            r#""op":"put","expected":null,"value":"a","output":null"#,
            r#""op":"put","value":"a","output":null,"swapped":null"#,
            // a get without `output`
            r#""op":"get","value":null"#,
            // a completed cas must say whether it swapped
            r#""op":"cas","expected":null,"value":"a","swapped":null"#,
        ];
        for fields in bad {
            let json = format!("[{{{fields},{base}}}]");
            let err = History::from_json(&json).unwrap_err().to_string();
            assert!(err.contains("operation 0"), "{json}: {err}");
        }
    }
}
