//! The sequence diagram: a [`Trace`] drawn as SVG, one lane per client and
//! node, time downwards, one arrow per message.
//!
//! Hand-written SVG rather than a charting crate: a sequence diagram is
//! lanes, lines and labels, which no chart type fits, and plain SVG elements
//! with classes and `data-` attributes can be checked by a test and styled
//! or scripted by a reader. Every message is one `<g class="msg">` with a
//! `<title>` (the browser shows it on hover); a dropped copy ends in a cross,
//! a duplicated message has two arrows and a `×2` mark, a message still in
//! flight when the trace ends is dashed. Crash intervals shade the node's
//! lane; partition intervals shade the whole width, their `<title>` naming
//! the sides.

use super::{DropReason, Lane, MessageKind, Trace, TraceEvent};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// What part of a trace to draw.
///
/// ```
/// use replikv::trace::DiagramOptions;
/// let first_10ms = DiagramOptions { to_ns: Some(10_000_000), ..DiagramOptions::default() };
/// let one_key = DiagramOptions { key: Some("key-3".into()), ..DiagramOptions::default() };
/// # let _ = (first_10ms, one_key);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagramOptions {
    /// Messages sent from this instant (ns on the cluster clock; default:
    /// the start of the trace).
    pub from_ns: Option<u64>,
    /// Messages sent up to this instant (default: the last event).
    pub to_ns: Option<u64>,
    /// Only the traffic of this key: client requests for it, their
    /// responses, and (on the simulator, where causes are recorded) the
    /// peer messages they caused.
    pub key: Option<String>,
    /// The most messages drawn; later ones in the window are left out and
    /// the title says so. A diagram of more than a few thousand arrows is
    /// unreadable: narrow the window instead.
    pub max_messages: usize,
}

impl Default for DiagramOptions {
    fn default() -> Self {
        DiagramOptions {
            from_ns: None,
            to_ns: None,
            key: None,
            max_messages: 2_000,
        }
    }
}

/// Layout constants, px.
const LANE_GAP: f64 = 110.0;
const LEFT: f64 = 100.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = 30.0;
/// Vertical room per message drawn.
const PX_PER_MESSAGE: f64 = 14.0;
const MIN_HEIGHT: f64 = 300.0;
const MAX_HEIGHT: f64 = 40_000.0;

/// One message, as drawn.
struct Message<'t> {
    id: u64,
    at_ns: u64,
    from: Lane,
    to: Lane,
    bytes: u64,
    kind: &'t MessageKind,
    deliveries: Vec<u64>,
    drops: Vec<(u64, DropReason)>,
    duplicated: bool,
}

pub(super) fn render(trace: &Trace, options: &DiagramOptions) -> Result<String> {
    let last = trace.events.last().map_or(trace.started_ns, |e| e.at_ns());
    let from = options.from_ns.unwrap_or(trace.started_ns);
    let to = options.to_ns.unwrap_or(last);
    if from > to {
        return Err(Error::InvalidTrace(format!(
            "the window starts at {} after it ends at {}",
            ms(from),
            ms(to)
        )));
    }
    let keys = message_keys(trace);
    let mut messages: Vec<Message<'_>> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut seen_in_window = 0usize;
    for event in &trace.events {
        match event {
            TraceEvent::Send {
                at_ns,
                id,
                from: f,
                to: t,
                bytes,
                message,
                ..
            } if (from..=to).contains(at_ns) => {
                if let Some(key) = &options.key
                    && keys.get(id) != Some(key)
                {
                    continue;
                }
                seen_in_window += 1;
                if messages.len() >= options.max_messages {
                    continue;
                }
                let (Some(f), Some(t)) = (Lane::parse(f), Lane::parse(t)) else {
                    continue; // `Trace::from_json` refuses these
                };
                index.insert(*id, messages.len());
                messages.push(Message {
                    id: *id,
                    at_ns: *at_ns,
                    from: f,
                    to: t,
                    bytes: *bytes,
                    kind: message,
                    deliveries: Vec::new(),
                    drops: Vec::new(),
                    duplicated: false,
                });
            }
            TraceEvent::Deliver { id, at_ns } => {
                if let Some(&i) = index.get(id) {
                    messages[i].deliveries.push(*at_ns);
                }
            }
            TraceEvent::Drop { id, at_ns, reason } => {
                if let Some(&i) = index.get(id) {
                    messages[i].drops.push((*at_ns, *reason));
                }
            }
            TraceEvent::Duplicate { id, .. } => {
                if let Some(&i) = index.get(id) {
                    messages[i].duplicated = true;
                }
            }
            _ => {}
        }
    }
    if messages.is_empty() {
        let span = format!("{} to {}", ms(trace.started_ns), ms(last));
        return Err(Error::InvalidTrace(match &options.key {
            Some(key) => {
                let known: BTreeSet<&String> = keys.values().collect();
                let sample: Vec<&str> = known.iter().take(8).map(|k| k.as_str()).collect();
                format!(
                    "no message for key {key:?} between {} and {} (the trace spans {span}; \
                     keys seen: {})",
                    ms(from),
                    ms(to),
                    if sample.is_empty() {
                        "none".to_string()
                    } else {
                        sample.join(", ")
                    }
                )
            }
            None => format!(
                "no message was sent between {} and {} (the trace spans {span})",
                ms(from),
                ms(to)
            ),
        }));
    }
    let shown_to = if seen_in_window > messages.len() {
        messages.last().map_or(to, |m| m.at_ns)
    } else {
        to
    };
    let lanes = lanes(trace, &messages);
    let x_of: HashMap<Lane, f64> = lanes
        .iter()
        .enumerate()
        .map(|(i, lane)| (*lane, LEFT + LANE_GAP * (i as f64 + 0.5)))
        .collect();
    let height = (messages.len() as f64 * PX_PER_MESSAGE).clamp(MIN_HEIGHT, MAX_HEIGHT);
    let span = (shown_to - from).max(1) as f64;
    let y = |t: u64| TOP + (t.clamp(from, shown_to) - from) as f64 / span * height;
    let width = LEFT + LANE_GAP * lanes.len() as f64 + 20.0;
    let total_height = TOP + height + BOTTOM;

    let mut svg = String::with_capacity(4096 + messages.len() * 400);
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{total_height:.0}\" \
         viewBox=\"0 0 {width:.0} {total_height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    svg.push_str(STYLE);
    // Title.
    let mut title = format!(
        "message trace ({}) from {} to {}",
        if trace.exact {
            "simulator: exact"
        } else {
            "threads: best effort, order within a few µs uncertain"
        },
        ms(from),
        ms(shown_to)
    );
    if let Some(key) = &options.key {
        let _ = write!(title, ", key {key}");
    }
    let _ = writeln!(
        svg,
        "<text class=\"title\" x=\"10\" y=\"20\">{}</text>",
        esc(&title)
    );
    let mut note = format!("{} messages", messages.len());
    if seen_in_window > messages.len() {
        let _ = write!(
            note,
            " (the first {} of {seen_in_window} in the window: narrow it to see the rest)",
            messages.len()
        );
    }
    if trace.truncated {
        note.push_str("; the recording hit its event limit and is incomplete");
    }
    let _ = writeln!(
        svg,
        "<text class=\"note\" x=\"10\" y=\"36\">{}</text>",
        esc(&note)
    );

    // Partitions: bands across the whole width.
    for (start, end, cut) in partition_intervals(trace, from, shown_to) {
        let _ = writeln!(
            svg,
            "<rect class=\"partition\" x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
             <title>partition {} to {}: {}</title></rect>",
            y(start),
            width - LEFT - 10.0,
            (y(end) - y(start)).max(1.0),
            ms(start),
            ms(end),
            esc(&describe_cut(&trace.nodes, &cut))
        );
    }
    // Crashes: a band on the node's lane.
    for (node, start, end) in down_intervals(trace, from, shown_to) {
        if let Some(x) = x_of.get(&Lane::Node(node)) {
            let _ = writeln!(
                svg,
                "<rect class=\"down\" data-node=\"{node}\" x=\"{:.1}\" y=\"{:.1}\" width=\"40\" \
                 height=\"{:.1}\"><title>n{node} down from {} to {}</title></rect>",
                x - 20.0,
                y(start),
                (y(end) - y(start)).max(1.0),
                ms(start),
                ms(end)
            );
        }
    }
    // Lanes.
    for lane in &lanes {
        let x = x_of[lane];
        let name = lane_name(*lane);
        let _ = writeln!(
            svg,
            "<g class=\"lane\" data-lane=\"{name}\"><text class=\"lane-name\" x=\"{x:.1}\" \
             y=\"{:.1}\" text-anchor=\"middle\">{name}</text><line x1=\"{x:.1}\" y1=\"{TOP:.1}\" \
             x2=\"{x:.1}\" y2=\"{:.1}\"/></g>",
            TOP - 12.0,
            TOP + height
        );
    }
    // Time axis.
    for i in 0..=10u64 {
        let t = from + ((shown_to - from) as f64 * i as f64 / 10.0) as u64;
        let _ = writeln!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 8.0,
            y(t) + 4.0,
            ms(t)
        );
    }
    // Timers.
    for event in &trace.events {
        if let TraceEvent::Timer { at_ns, node } = event
            && (from..=shown_to).contains(at_ns)
            && options.key.is_none()
            && let Some(x) = x_of.get(&Lane::Node(*node))
        {
            let _ = writeln!(
                svg,
                "<circle class=\"timer\" cx=\"{x:.1}\" cy=\"{:.1}\" r=\"2.5\">\
                 <title>n{node} timer at {}</title></circle>",
                y(*at_ns),
                ms(*at_ns)
            );
        }
    }
    // Messages.
    for m in &messages {
        draw_message(&mut svg, m, &x_of, &y);
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

fn draw_message(
    svg: &mut String,
    m: &Message<'_>,
    x_of: &HashMap<Lane, f64>,
    y: &dyn Fn(u64) -> f64,
) {
    let (x1, x2) = (x_of[&m.from], x_of[&m.to]);
    let y1 = y(m.at_ns);
    let (kind, what) = match m.kind {
        MessageKind::Peer => ("peer", format!("peer message, {} B", m.bytes)),
        MessageKind::Request { op, key, .. } => ("request", format!("{op} {key}")),
        MessageKind::Response { outcome, .. } => ("response", outcome.clone()),
    };
    let mut classes = format!("msg {kind}");
    if !m.drops.is_empty() {
        classes.push_str(" dropped");
    }
    if m.duplicated {
        classes.push_str(" duplicated");
    }
    let in_flight = m.deliveries.len() + m.drops.len() == 0;
    if in_flight {
        classes.push_str(" in-flight");
    }
    let mut fate = Vec::new();
    for &d in &m.deliveries {
        fate.push(format!("delivered at {}", ms(d)));
    }
    for &(d, reason) in &m.drops {
        fate.push(format!(
            "dropped at {} ({})",
            ms(d),
            match reason {
                DropReason::Cut => "link cut",
                DropReason::Fault => "lost",
                DropReason::ReceiverDown => "receiver down or restarted",
            }
        ));
    }
    if in_flight {
        fate.push("still in flight when the trace ends".into());
    }
    let _ = write!(
        svg,
        "<g class=\"{classes}\" data-id=\"{}\"><title>#{} {}→{} {}: sent at {}; {}</title>",
        m.id,
        m.id,
        lane_name(m.from),
        lane_name(m.to),
        esc(&what),
        ms(m.at_ns),
        esc(&fate.join("; "))
    );
    for &d in &m.deliveries {
        let _ = write!(
            svg,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{:.1}\" marker-end=\"url(#arrow)\"/>",
            y(d)
        );
    }
    for &(d, reason) in &m.drops {
        // A copy lost on its way: the line stops short, at a cross. Lost
        // when sent (cut, fault) it stops near the sender; lost on arrival
        // (receiver down) it reaches the receiver's lane.
        let (xe, ye) = match reason {
            DropReason::ReceiverDown => (x2, y(d)),
            _ => (x1 + (x2 - x1) * 0.4, y(d) + 6.0),
        };
        let _ = write!(
            svg,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{xe:.1}\" y2=\"{ye:.1}\"/>\
             <path class=\"drop-mark\" d=\"M{:.1},{:.1} l8,8 m0,-8 l-8,8\"/>",
            xe - 4.0,
            ye - 4.0
        );
    }
    if in_flight {
        let _ = write!(
            svg,
            "<line class=\"dash\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
            x1 + (x2 - x1) * 0.5,
            y1 + 10.0
        );
    }
    if m.duplicated {
        let _ = write!(
            svg,
            "<text class=\"dup-mark\" x=\"{:.1}\" y=\"{:.1}\">×2</text>",
            (x1 + x2) / 2.0,
            y1 - 2.0
        );
    }
    svg.push_str("</g>\n");
}

/// Each message's key: a request's own, a response's request's, and a peer
/// message's cause's (known on the simulator).
fn message_keys(trace: &Trace) -> HashMap<u64, String> {
    let mut keys: HashMap<u64, String> = HashMap::new();
    let mut requests: HashMap<(u64, u64), String> = HashMap::new();
    for event in &trace.events {
        if let TraceEvent::Send {
            id, message, cause, ..
        } = event
        {
            let key = match message {
                MessageKind::Request {
                    client,
                    request,
                    key,
                    ..
                } => {
                    requests.insert((*client, *request), key.clone());
                    Some(key.clone())
                }
                MessageKind::Response {
                    client, request, ..
                } => requests.get(&(*client, *request)).cloned(),
                MessageKind::Peer => cause.and_then(|c| keys.get(&c).cloned()),
            };
            if let Some(key) = key {
                keys.insert(*id, key);
            }
        }
    }
    keys
}

/// Clients (in id order) on the left, then nodes.
fn lanes(trace: &Trace, messages: &[Message<'_>]) -> Vec<Lane> {
    let mut clients = BTreeSet::new();
    let mut nodes: BTreeSet<u32> = trace.nodes.iter().copied().collect();
    for m in messages {
        for end in [m.from, m.to] {
            match end {
                Lane::Client(c) => {
                    clients.insert(c);
                }
                Lane::Node(n) => {
                    nodes.insert(n);
                }
            }
        }
    }
    clients
        .into_iter()
        .map(Lane::Client)
        .chain(nodes.into_iter().map(Lane::Node))
        .collect()
}

/// `(node, from, to)` for every interval a node was down within the window.
fn down_intervals(trace: &Trace, from: u64, to: u64) -> Vec<(u32, u64, u64)> {
    let mut down: BTreeMap<u32, u64> = trace
        .down_at_start
        .iter()
        .map(|&n| (n, trace.started_ns))
        .collect();
    let mut out = Vec::new();
    for event in &trace.events {
        match *event {
            TraceEvent::NodeDown { at_ns, node } => {
                down.entry(node).or_insert(at_ns);
            }
            TraceEvent::NodeUp { at_ns, node } => {
                if let Some(start) = down.remove(&node) {
                    out.push((node, start, at_ns));
                }
            }
            _ => {}
        }
    }
    out.extend(
        down.into_iter()
            .map(|(node, start)| (node, start, u64::MAX)),
    );
    out.into_iter()
        .filter(|&(_, start, end)| start <= to && end >= from)
        .map(|(node, start, end)| (node, start.max(from), end.min(to)))
        .collect()
}

/// `(from, to, cut links)` for every interval some link was cut.
fn partition_intervals(trace: &Trace, from: u64, to: u64) -> Vec<(u64, u64, Vec<[u32; 2]>)> {
    let mut out = Vec::new();
    let mut current: Option<(u64, Vec<[u32; 2]>)> = None;
    for event in &trace.events {
        if let TraceEvent::Partition { at_ns, cut } = event {
            if let Some((start, links)) = current.take() {
                out.push((start, *at_ns, links));
            }
            if !cut.is_empty() {
                current = Some((*at_ns, cut.clone()));
            }
        }
    }
    if let Some((start, links)) = current {
        out.push((start, u64::MAX, links));
    }
    out.into_iter()
        .filter(|&(start, end, _)| start <= to && end >= from)
        .map(|(start, end, links)| (start.max(from), end.min(to), links))
        .collect()
}

/// The sides of a partition: nodes that can still talk both ways, grouped;
/// `{n0, n1} | {n2}`. A one-way cut shows as its links.
fn describe_cut(nodes: &[u32], cut: &[[u32; 2]]) -> String {
    let cut: BTreeSet<[u32; 2]> = cut.iter().copied().collect();
    let mut members: BTreeSet<u32> = nodes.iter().copied().collect();
    members.extend(cut.iter().flatten());
    let connected = |a: u32, b: u32| !cut.contains(&[a, b]) && !cut.contains(&[b, a]);
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for &n in &members {
        match groups
            .iter_mut()
            .find(|g| g.iter().all(|&m| connected(m, n)))
        {
            Some(group) => group.push(n),
            None => groups.push(vec![n]),
        }
    }
    let one_way: Vec<String> = cut
        .iter()
        .filter(|[a, b]| !cut.contains(&[*b, *a]))
        .map(|[a, b]| format!("n{a}→n{b} cut"))
        .collect();
    let mut text = groups
        .iter()
        .map(|g| {
            let names: Vec<String> = g.iter().map(|n| format!("n{n}")).collect();
            format!("{{{}}}", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" | ");
    if !one_way.is_empty() {
        let _ = write!(text, " ({})", one_way.join(", "));
    }
    text
}

fn lane_name(lane: Lane) -> String {
    match lane {
        Lane::Node(n) => format!("n{n}"),
        Lane::Client(c) => format!("c{c}"),
    }
}

/// Nanoseconds as milliseconds: `12.345 ms`.
fn ms(ns: u64) -> String {
    format!("{}.{:03} ms", ns / 1_000_000, (ns / 1_000) % 1_000)
}

/// Escapes text for XML content and attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>
<style>
.title { font-size: 14px; font-weight: bold; }
.note, .tick { fill: #555; }
.lane line { stroke: #999; stroke-width: 1; }
.lane-name { font-weight: bold; }
.partition { fill: #f4c542; fill-opacity: 0.18; }
.down { fill: #d33; fill-opacity: 0.22; }
.timer { fill: #888; }
.msg line { stroke-width: 1.2; }
.msg.request line { stroke: #1f6fd1; }
.msg.response line { stroke: #1a9a4a; }
.msg.peer line { stroke: #666; }
.msg.dropped line { stroke-dasharray: 4 2; }
.msg line.dash { stroke-dasharray: 2 3; }
.drop-mark { stroke: #d00; stroke-width: 2; fill: none; }
.dup-mark { fill: #a0a; font-weight: bold; }
.msg:hover line { stroke-width: 3; }
</style>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_described_by_its_sides() {
        // isolate(n2) on three nodes
        let cut = [[0, 2], [1, 2], [2, 0], [2, 1]];
        assert_eq!(describe_cut(&[0, 1, 2], &cut), "{n0, n1} | {n2}");
        assert_eq!(describe_cut(&[0, 1], &[[0, 1]]), "{n0} | {n1} (n0→n1 cut)");
    }

    #[test]
    fn milliseconds_keep_microseconds() {
        assert_eq!(ms(12_345_678), "12.345 ms");
        assert_eq!(ms(0), "0.000 ms");
    }

    #[test]
    fn escaping_makes_text_safe_for_xml() {
        assert_eq!(esc("a<b&\"c\u{1}"), "a&lt;b&amp;&quot;c\u{FFFD}");
    }
}
