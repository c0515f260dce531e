//! A history as a picture: one self-contained HTML file with a timeline.
//!
//! # Why
//!
//! A counterexample is a few lines of text; what it does not show is the
//! run around it — who else was writing that key, how long each client
//! waited, which operations never came back. Porcupine, the Go checker,
//! answers with an interactive HTML timeline, and so does [`timeline`]:
//!
//! - one lane per client, each operation a bar from its invocation to its
//!   return; an operation that timed out is open-ended (it may have taken
//!   effect at any instant after its call); a failed one is hollow;
//! - each kind of operation has its colour, from one table (a kind this
//!   page does not know is drawn grey, so a new kind needs one line there);
//! - hovering a bar shows its values and times; a key filter shows one
//!   key's operations (linearizability is per key, so that is the view that
//!   explains a verdict);
//! - when the history is **not** linearizable, the counterexample's
//!   operations are outlined in red, listed beside the timeline with the
//!   checker's explanation, and the view opens on them;
//! - when it **is**, the linearization points the checker chose
//!   ([`Checker::check_with_points`](super::Checker::check_with_points)) can be
//!   shown as ticks: one order that explains every answer.
//!
//! # How
//!
//! The page is drawn on a `<canvas>` by a small script included in the file
//! (no network, no library): only the operations inside the visible window
//! are drawn, so 10,000 or 100,000 operations stay responsive, and the view
//! zooms (wheel, or the buttons) and pans (drag). The operations travel as
//! one JSON document in columns (client, key, kind, times, label), about
//! 70 bytes per operation. The file is also well-formed XML (the script and
//! style sit in `CDATA` sections), so tests can parse it.
//!
//! ```
//! use replikv::history::{Checker, History, html, random_plan, simulate};
//!
//! let history = simulate(&random_plan(1, 500, 4, 3));
//! let (verdict, points) = Checker::new().check_with_points(&history);
//! let page = html::timeline_with_points(&history, &verdict, &points)?;
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! // An empty history has nothing to draw: an error says so.
//! assert!(html::timeline(&History::default(), &verdict).is_err());
//! # Ok::<(), replikv::Error>(())
//! ```

use super::checker::{CheckResult, LinearizationPoint};
use super::op::History;
use super::show;
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The page's script: the drawing, zoom, hover and filter.
const SCRIPT: &str = include_str!("timeline.js");
/// The page's style.
const STYLE: &str = include_str!("timeline.css");

/// The operations in columns, as the script reads them.
#[derive(Serialize)]
struct Data<'a> {
    title: &'a str,
    verdict: &'static str,
    /// Client ids, one lane each, in order.
    clients: Vec<u64>,
    /// Key names (as text), in byte order of keys.
    keys: Vec<String>,
    /// Kind names (`put`, `get`, …) as the history's JSON names them.
    kinds: Vec<String>,
    /// Per operation: lane (index into `clients`).
    lane: Vec<u32>,
    /// Per operation: key (index into `keys`).
    key: Vec<u32>,
    /// Per operation: kind (index into `kinds`).
    kind: Vec<u32>,
    /// Per operation: call, ns since the earliest call.
    call: Vec<u64>,
    /// Per operation: return, ns since the earliest call, or -1 (timed out).
    ret: Vec<i64>,
    /// Per operation: 1 when it completed successfully.
    ok: Vec<u8>,
    /// Per operation: what it did, as the counterexample prints it.
    label: Vec<String>,
    /// Positions of the counterexample's operations.
    cx: Vec<usize>,
    /// The key of the counterexample, if any (index into `keys`).
    cx_key: Option<u32>,
    /// `[position, ns since the earliest call]` for each linearization point.
    points: Vec<[u64; 2]>,
    /// The earliest call, ns on the cluster clock (times above are relative).
    origin_ns: u64,
}

/// The timeline page of `history`, marked with the checker's `verdict` (its
/// counterexample highlighted). Fails with [`Error::InvalidHistory`] for an
/// empty history.
pub fn timeline(history: &History, verdict: &CheckResult) -> Result<String> {
    timeline_with_points(history, verdict, &[])
}

/// [`timeline`], with the linearization points of a linearizable history
/// (from [`Checker::check_with_points`](super::Checker::check_with_points))
/// ready to be shown. Points naming no operation of `history` are an
/// [`Error::InvalidHistory`].
pub fn timeline_with_points(
    history: &History,
    verdict: &CheckResult,
    points: &[LinearizationPoint],
) -> Result<String> {
    if history.is_empty() {
        return Err(Error::InvalidHistory(
            "the history is empty: there is no operation to draw".into(),
        ));
    }
    let data = columns(history, verdict, points)?;
    let json = serde_json::to_string(&data).map_err(|e| Error::Encode(e.to_string()))?;
    let mut page = String::with_capacity(json.len() + SCRIPT.len() + STYLE.len() + 4096);
    page.push_str("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n");
    let _ = writeln!(
        page,
        "<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>/*<![CDATA[*/\n{STYLE}\n/*]]>*/</style>\n</head>",
        esc(data.title)
    );
    page.push_str("<body>\n");
    let _ = writeln!(
        page,
        "<header><h1>{}</h1><p id=\"verdict\" class=\"verdict {}\">{}</p></header>",
        esc(data.title),
        data.verdict.replace(' ', "-"),
        esc(&summary(history, verdict))
    );
    page.push_str(
        "<div id=\"controls\">\
         <label>key <select id=\"key\"><option value=\"-1\">all keys</option></select></label> \
         <button id=\"zoom-in\" type=\"button\">zoom in</button> \
         <button id=\"zoom-out\" type=\"button\">zoom out</button> \
         <button id=\"zoom-reset\" type=\"button\">whole run</button> \
         <label><input id=\"points\" type=\"checkbox\"/> linearization points</label> \
         <span id=\"legend\"></span> <span id=\"window\"></span></div>\n",
    );
    page.push_str(
        "<main><div id=\"plot\"><canvas id=\"canvas\" width=\"1000\" height=\"200\"></canvas>\
         <div id=\"tip\" hidden=\"hidden\"></div></div>\n",
    );
    page.push_str(&side_panel(history, verdict));
    page.push_str("</main>\n");
    // JSON inside <script>: `<`, `>` and `&` escaped as \u003c… so that
    // neither an HTML nor an XML parser sees markup in it.
    let _ = writeln!(
        page,
        "<script type=\"application/json\" id=\"data\">{}</script>",
        json.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    );
    let _ = writeln!(page, "<script>//<![CDATA[\n{SCRIPT}\n//]]></script>");
    page.push_str("</body>\n</html>\n");
    Ok(page)
}

fn columns<'a>(
    history: &'a History,
    verdict: &CheckResult,
    points: &[LinearizationPoint],
) -> Result<Data<'a>> {
    let origin = history.ops.iter().map(|o| o.call_ns).min().unwrap_or(0);
    let mut clients: Vec<u64> = history.ops.iter().map(|o| o.client.0).collect();
    clients.sort_unstable();
    clients.dedup();
    let lane_of: BTreeMap<u64, u32> = (clients.iter().enumerate())
        .map(|(i, c)| (*c, i as u32))
        .collect();
    let mut keys: BTreeMap<&[u8], u32> = history.ops.iter().map(|o| (&o.key[..], 0)).collect();
    for (i, slot) in keys.values_mut().enumerate() {
        *slot = i as u32;
    }
    let mut kinds: Vec<String> = Vec::new();
    let mut data = Data {
        title: "replikv history",
        verdict: match verdict {
            CheckResult::Linearizable => "linearizable",
            CheckResult::NotLinearizable(_) => "not linearizable",
            CheckResult::Unknown { .. } => "unknown",
        },
        clients: Vec::new(),
        keys: keys
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect(),
        kinds: Vec::new(),
        lane: Vec::with_capacity(history.len()),
        key: Vec::with_capacity(history.len()),
        kind: Vec::with_capacity(history.len()),
        call: Vec::with_capacity(history.len()),
        ret: Vec::with_capacity(history.len()),
        ok: Vec::with_capacity(history.len()),
        label: Vec::with_capacity(history.len()),
        cx: Vec::new(),
        cx_key: None,
        points: Vec::with_capacity(points.len()),
        origin_ns: origin,
    };
    for op in &history.ops {
        let kind = kind_name(op.kind);
        let kind_index = match kinds.iter().position(|k| *k == kind) {
            Some(i) => i,
            None => {
                kinds.push(kind);
                kinds.len() - 1
            }
        };
        data.lane
            .push(lane_of.get(&op.client.0).copied().unwrap_or(0));
        data.key.push(keys.get(&op.key[..]).copied().unwrap_or(0));
        data.kind.push(kind_index as u32);
        data.call.push(op.call_ns - origin);
        data.ret.push(match op.return_ns {
            Some(r) => i64::try_from(r.max(op.call_ns) - origin).unwrap_or(i64::MAX),
            None => -1,
        });
        data.ok.push(u8::from(op.ok));
        data.label.push(show::action(op));
    }
    if let CheckResult::NotLinearizable(cx) = verdict {
        data.cx = cx.ops.iter().map(|(i, _)| *i).collect();
        data.cx_key = keys.get(&cx.key[..]).copied();
    }
    for p in points {
        if p.index >= history.len() {
            return Err(Error::InvalidHistory(format!(
                "a linearization point names operation {} of a history of {}",
                p.index,
                history.len()
            )));
        }
        data.points
            .push([p.index as u64, p.at_ns.saturating_sub(origin)]);
    }
    data.clients = clients;
    data.kinds = kinds;
    Ok(data)
}

/// The name the history's JSON gives a kind (`put`, `get`, …).
fn kind_name(kind: super::op::OpKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{kind:?}").to_lowercase(),
    }
}

/// One line under the title.
fn summary(history: &History, verdict: &CheckResult) -> String {
    let clients = {
        let mut c: Vec<u64> = history.ops.iter().map(|o| o.client.0).collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    let timed_out = history.ops.iter().filter(|o| o.is_indeterminate()).count();
    let what = match verdict {
        CheckResult::Linearizable => "linearizable".to_string(),
        CheckResult::NotLinearizable(cx) => format!(
            "NOT linearizable: key {} (the {} operations outlined in red)",
            show::bytes(&cx.key),
            cx.ops.len()
        ),
        CheckResult::Unknown { reason } => format!("not decided: {reason}"),
    };
    format!(
        "{} operations by {clients} clients, {timed_out} timed out — {what}",
        history.len()
    )
}

/// The counterexample beside the timeline: one row per operation, and the
/// checker's explanation.
fn side_panel(history: &History, verdict: &CheckResult) -> String {
    let mut out = String::from("<aside id=\"side\">");
    match verdict {
        CheckResult::NotLinearizable(cx) => {
            out.push_str("<h2>Counterexample</h2><table id=\"cx\"><tr><th>#</th><th>client</th><th>operation</th><th>µs</th></tr>");
            for (i, op) in &cx.ops {
                let _ = write!(
                    out,
                    "<tr class=\"cx-op\" data-index=\"{i}\"><td>{i}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    op.client,
                    esc(&show::action(op)),
                    esc(&show::interval(op))
                );
            }
            out.push_str("</table><p class=\"hint\">Click a row to zoom to it.</p>");
            let _ = write!(
                out,
                "<h2>Why</h2><pre id=\"explanation\">{}</pre>",
                esc(&cx.to_string())
            );
        }
        CheckResult::Linearizable => {
            out.push_str(
                "<h2>Linearizable</h2><p>Some order of the operations, each at one instant \
                 inside its bar, explains every answer. Tick <em>linearization points</em> to \
                 see the one the checker found.</p>",
            );
        }
        CheckResult::Unknown { reason } => {
            let _ = write!(
                out,
                "<h2>Not decided</h2><pre id=\"explanation\">{}</pre>",
                esc(reason)
            );
        }
    }
    let _ = writeln!(
        out,
        "<h2>Reading it</h2><p>One lane per client; time runs right. A bar spans an \
         operation from its call to its return; an open end fading out is a timeout (it may \
         have taken effect at any instant after its call); a hollow bar failed without \
         effect. Hover for values. Wheel or buttons zoom, drag pans. {} operations.</p></aside>",
        history.len()
    );
    out
}

/// Escapes text for XML content and attributes.
fn esc(text: &str) -> String {
    crate::trace::escape_xml(text)
}
