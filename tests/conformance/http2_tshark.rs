//! TShark's side of the HTTP/2 conformance test (`http2.rs`): its quick look at a capture, its
//! frames read from `-T json`, and those frames folded into streams as faultline reports them.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use super::{Capture, ConnView, StreamView};

pub(super) fn tshark(capture: &Capture, extra: &[String], filter: &str, format: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(&capture.path);
    if let Some(keys) = &capture.keys {
        cmd.arg("-o")
            .arg(format!("tls.keylog_file:{}", keys.display()));
    }
    cmd.args(extra).args(["-Y", filter]).args(format);
    let out = cmd
        .output()
        .expect("tshark runs (apt-get install -y tshark)");
    // A damaged or cut file: TShark gives the frames before the damage and fails, as faultline
    // reads them and warns; any other failure is the test's.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let damaged = stderr.contains("appears to be damaged or corrupt")
        || stderr.contains("cut short in the middle of a packet");
    assert!(
        out.status.success() || damaged,
        "{}: tshark failed: {stderr}",
        capture.name
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first segment bytes of the client connection preface, `PRI * HTTP/2.0`.
pub(super) const PREFACE: &str = "tcp.payload[0:14] == 50:52:49:20:2a:20:48:54:54:50:2f:32:2e:30";

/// TShark's quick look: the TCP streams it decodes as HTTP/2 by itself, and those starting
/// with a preface it does not decode (with their server port).
#[derive(Debug, Default)]
pub(super) struct Probe {
    pub(super) native: BTreeSet<u64>,
    pub(super) prefaced: BTreeMap<u64, u16>,
}

pub(super) fn probe(capture: &Capture) -> Probe {
    let text = tshark(
        capture,
        &[],
        &format!("http2 || {PREFACE}"),
        &[
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.dstport",
            "-e",
            "http2.type",
            "-e",
            "http2.magic",
        ],
    );
    let mut probe = Probe::default();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(Ok(stream)), Some(Ok(port))) = (
            cols.first().map(|c| c.parse::<u64>()),
            cols.get(1).map(|c| c.parse::<u16>()),
        ) else {
            continue;
        };
        let decoded = cols.iter().skip(2).any(|c| !c.is_empty());
        match decoded {
            true => probe.native.insert(stream),
            false => probe.prefaced.insert(stream, port).is_none(),
        };
    }
    probe
}

/// `v` itself, or each element when it is an array (TShark's JSON with `--no-duplicate-keys`
/// makes a repeated key an array).
pub(super) fn each(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

pub(super) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn number(v: &Value, key: &str) -> Option<u64> {
    let s = text(v, key)?;
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

pub(super) fn endpoint(ip: &str, port: &str) -> String {
    match ip.contains(':') {
        true => format!("[{ip}]:{port}"),
        false => format!("{ip}:{port}"),
    }
}

pub(super) fn code_name(code: u64) -> String {
    faultline::app::http2::ErrorCode(u32::try_from(code).unwrap_or(u32::MAX)).name()
}

/// One TCP connection as TShark decoded it.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    /// The preface's sender, else the SYN's.
    pub(super) client: Option<String>,
    /// An HTTP/1.1 `101` answered `Upgrade: h2c`: stream 1 is that request, sent in HTTP/1.1,
    /// so the client's side of it ended before any HTTP/2 frame (RFC 7540 section 3.2: stream 1
    /// is half-closed (local) for the client).
    pub(super) upgraded: bool,
    pub(super) frames: Vec<Frame>,
}

/// What TShark decoded, per TCP stream, for the TCP streams `keep` accepts.
pub(super) fn tshark_h2(
    capture: &Capture,
    extra: &[String],
    keep: impl Fn(u64) -> bool,
) -> BTreeMap<u64, Decoded> {
    let json = tshark(
        capture,
        extra,
        "http2 || tcp.flags.syn == 1 || http.response.code == 101",
        &[
            "-T",
            "json",
            "--no-duplicate-keys",
            "-J",
            "ip ipv6 tcp http http2",
        ],
    );
    let packets: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{}: tshark's JSON: {e}", capture.name));
    let mut out: BTreeMap<u64, Decoded> = BTreeMap::new();
    let mut upgraded = BTreeSet::new();
    let mut syn_senders: BTreeMap<u64, String> = BTreeMap::new();
    for packet in each(Some(&packets)) {
        let Some(layers) = packet.pointer("/_source/layers") else {
            continue;
        };
        let Some(tcp) = layers.get("tcp") else {
            continue;
        };
        let Some(stream) = number(tcp, "tcp.stream") else {
            continue;
        };
        if !keep(stream) {
            continue;
        }
        let ip = (layers.get("ip").and_then(|ip| text(ip, "ip.src")))
            .or_else(|| layers.get("ipv6").and_then(|ip| text(ip, "ipv6.src")))
            .unwrap_or("");
        let src = endpoint(ip, text(tcp, "tcp.srcport").unwrap_or(""));
        let flags = tcp.get("tcp.flags_tree");
        let flag = |name: &str| flags.and_then(|f| text(f, name)) == Some("1");
        if flag("tcp.flags.syn") && !flag("tcp.flags.ack") {
            syn_senders.entry(stream).or_insert_with(|| src.clone());
        }
        for http in each(layers.get("http")) {
            // The status line is a subtree named after the line itself.
            let switched = text(http, "http.response.code") == Some("101")
                || http.as_object().is_some_and(|fields| {
                    fields
                        .values()
                        .any(|v| text(v, "http.response.code") == Some("101"))
                });
            if switched && text(http, "http.upgrade") == Some("h2c") {
                upgraded.insert(stream);
            }
        }
        for layer in each(layers.get("http2")) {
            for frame in each(layer.get("http2.stream")) {
                let entry = out.entry(stream).or_default();
                if frame.get("http2.magic").is_some() {
                    entry.client.get_or_insert_with(|| src.clone());
                }
                if let Some(frame) = Frame::of(frame, &src) {
                    entry.frames.push(frame);
                }
            }
        }
    }
    for (stream, decoded) in out.iter_mut() {
        if decoded.client.is_none() {
            decoded.client = syn_senders.get(stream).cloned();
        }
        decoded.upgraded = upgraded.contains(stream);
    }
    out
}

/// One HTTP/2 frame as TShark decoded it.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) src: String,
    pub(super) kind: u64,
    pub(super) stream: u32,
    pub(super) end_stream: bool,
    /// Decoded header fields (name, value), in order.
    pub(super) headers: Vec<(String, String)>,
    pub(super) rst_error: Option<u64>,
    pub(super) goaway: Option<(u64, u32)>,
    pub(super) promised: Option<u32>,
}

impl Frame {
    fn of(v: &Value, src: &str) -> Option<Frame> {
        let kind = number(v, "http2.type")?;
        let stream = u32::try_from(number(v, "http2.streamid")?).ok()?;
        let end_stream = v
            .get("http2.flags_tree")
            .and_then(|f| text(f, "http2.flags.end_stream"))
            == Some("1");
        let headers = each(v.get("http2.header"))
            .into_iter()
            .filter_map(|h| {
                Some((
                    text(h, "http2.header.name")?.to_string(),
                    text(h, "http2.header.value").unwrap_or("").to_string(),
                ))
            })
            .collect();
        let goaway = match (
            number(v, "http2.goaway.error"),
            number(v, "http2.goaway.last_stream_id"),
        ) {
            (Some(code), Some(last)) => Some((code, u32::try_from(last).ok()?)),
            _ => None,
        };
        Some(Frame {
            src: src.to_string(),
            kind,
            stream,
            end_stream,
            headers,
            rst_error: number(v, "http2.rst_stream.error"),
            goaway,
            promised: number(v, "http2.push_promise.promised_stream_id")
                .and_then(|p| u32::try_from(p).ok()),
        })
    }
}

pub(super) const DATA: u64 = 0;
pub(super) const HEADERS: u64 = 1;
pub(super) const RST_STREAM: u64 = 3;
pub(super) const PUSH_PROMISE: u64 = 5;
pub(super) const GOAWAY: u64 = 7;
pub(super) const CONTINUATION: u64 = 9;

/// TShark's frames of one TCP connection folded into streams. A stream is opened by HEADERS,
/// DATA, RST_STREAM or a PUSH_PROMISE naming it; PRIORITY alone opens nothing (nghttp2 sends
/// PRIORITY for idle streams it uses as dependency-tree anchors).
pub(super) fn fold(client: &str, decoded: &Decoded) -> ConnView {
    #[derive(Default)]
    struct Open {
        view: StreamView,
        client_end: bool,
        server_end: bool,
        pushed: bool,
    }
    let mut streams: BTreeMap<u32, Open> = BTreeMap::new();
    let mut conn = ConnView::default();
    let sender = |f: &Frame| if f.src == client { "client" } else { "server" };
    if decoded.upgraded {
        streams.entry(1).or_default().client_end = true;
    }
    for f in &decoded.frames {
        if let Some(promised) = f.promised.filter(|_| f.kind == PUSH_PROMISE) {
            streams.entry(promised).or_default().pushed = true;
        }
        if f.kind == GOAWAY
            && let Some((code, last)) = f.goaway
        {
            conn.goaways.push((code_name(code), sender(f), last));
        }
        if f.stream == 0 || ![DATA, HEADERS, RST_STREAM, CONTINUATION].contains(&f.kind) {
            continue;
        }
        let s = streams.entry(f.stream).or_default();
        let from_client = sender(f) == "client";
        if f.end_stream && matches!(f.kind, DATA | HEADERS) {
            match from_client {
                true => s.client_end = true,
                false => s.server_end = true,
            }
        }
        if f.kind == RST_STREAM
            && let Some(code) = f.rst_error
        {
            s.view
                .reset
                .get_or_insert_with(|| (code_name(code), sender(f)));
        }
        if !from_client {
            for (name, value) in &f.headers {
                match name.as_str() {
                    ":status" => match value.parse::<u16>() {
                        Ok(code) if !(100..200).contains(&code) => s.view.status = Some(code),
                        _ => {}
                    },
                    "grpc-status" => s.view.grpc_status = value.parse().ok(),
                    _ => {}
                }
            }
        }
    }
    conn.count = streams.len() as u64;
    conn.streams = streams
        .into_iter()
        .map(|(id, mut s)| {
            s.view.closed = s.view.reset.is_some() || (s.server_end && (s.client_end || s.pushed));
            (id, s.view)
        })
        .collect();
    conn
}
