//! `faultline analyze --format html`: one self-contained page with a ladder diagram per failed
//! call, rendered in headless Chromium and checked in the screenshot.
//!
//! The rendering test needs the Debian package `chromium` (CI installs it); without it, it says
//! so and passes. The static checks run everywhere.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use faultline::analysis::{self, Config};
use faultline::diagnose::Category;
use faultline::evidence;
use faultline::report::{
    self, ARROW_COLOUR, AnalyzeReport, DEGRADED_COLOUR, FAULT_COLOUR, OK_COLOUR, category_colour,
};

fn capture(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    ["pcap", "pcapng"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("captures/{name}.pcap[ng] exists"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn html_of(capture: &Path) -> String {
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .arg("analyze")
        .arg(capture)
        .args(["--format", "html"])
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn findings_of(capture: &Path) -> usize {
    analysis::analyze_path(capture.to_str().unwrap(), Config::default())
        .expect("analysis")
        .findings
        .len()
}

/// The values of every `name="..."` attribute in `html`.
fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let key = format!("{name}=\"");
    html.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// Fails if the page would fetch anything: remote `src`/`href`, `@import`, `url(` other than a
/// reference inside the page, scripts, stylesheets or images.
fn assert_self_contained(html: &str, what: &str) {
    for attr in ["src", "href", "xlink:href", "action", "poster", "data"] {
        for value in attribute_values(html, attr) {
            assert!(
                value.starts_with('#'),
                "{what}: {attr}=\"{value}\" is not a reference inside the page"
            );
        }
    }
    let lower = html.to_ascii_lowercase();
    for forbidden in [
        "@import", "<script", "<link", "<img", "<iframe", "<object", "<embed",
    ] {
        assert!(!lower.contains(forbidden), "{what}: contains {forbidden}");
    }
    for (i, _) in lower.match_indices("url(") {
        assert!(
            lower[i + 4..].starts_with('#'),
            "{what}: url( that is not a page reference"
        );
    }
    // No remote address in the markup: any tag, or the style sheet. (Text may quote one: a
    // server's problem-type URL is words on the page, escaped, never fetched.)
    let style = lower.find("<style>").map_or("", |i| {
        let rest = &lower[i..];
        &rest[..rest.find("</style>").unwrap_or(rest.len())]
    });
    let tags = lower
        .split('<')
        .skip(1)
        .map(|t| &t[..t.find('>').unwrap_or(t.len())]);
    for markup in tags.chain([style]) {
        assert!(
            !markup.contains("http://") && !markup.contains("https://"),
            "{what}: names a remote address in <{markup}>"
        );
    }
}

const PAGES: [&str; 5] = [
    "syn-drop",
    "host-unreachable",
    "tls-bad-certificate",
    "dns-rcodes",
    "http-gateway",
];

#[test]
fn pages_are_self_contained_with_one_ladder_per_finding() {
    for name in PAGES {
        let capture = capture(name);
        let html = html_of(&capture);
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(html.trim_end().ends_with("</html>"), "{name}");
        assert_self_contained(&html, name);
        let findings = findings_of(&capture);
        assert!(findings > 0, "{name} has findings");
        assert_eq!(
            html.matches("<svg class=\"ladder\"").count(),
            findings,
            "{name}"
        );
        assert_eq!(html.matches("<section class=\"finding").count(), findings);
    }
}

#[test]
fn an_icmp_error_gets_a_lane_of_its_own_with_the_fault_marked() {
    // host-unreachable F1: the SYN to 198.18.1.99 and the router 198.18.0.1's ICMP 3/1 back
    // (tshark: frame 5 is from 198.18.0.1 to 198.18.0.2).
    let html = html_of(&capture("host-unreachable"));
    let first = html.split("<section").nth(1).expect("the first finding");
    let ladder = &first[first.find("<svg").unwrap()..first.find("</svg>").unwrap()];
    assert!(ladder.contains(">client<") && ladder.contains(">server<"));
    assert!(ladder.contains(">other host<") && ladder.contains(">198.18.0.1<"));
    assert_eq!(ladder.matches("<g class=\"arrow fault\">").count(), 1);
    let fault = ladder.split("<g class=\"arrow fault\">").nth(1).unwrap();
    assert!(fault.contains("frame 5 at") && fault.contains("198.18.0.1 to 198.18.0.2"));
}

#[test]
fn unanswered_syns_end_in_an_x() {
    let html = html_of(&capture("syn-drop"));
    // Four SYNs per connection, none answered.
    assert_eq!(html.matches("l14,14 M").count(), 8);
}

#[test]
fn text_from_the_wire_is_escaped_everywhere() {
    let path = capture("tls-bad-certificate");
    let path = path.to_str().unwrap();
    let mut a = analysis::analyze_path(path, Config::default()).expect("analysis");
    let hostile = "\"><script>alert(1)</script><img src=x onerror=alert(2)>'&";
    for f in &mut a.findings {
        f.names.sni = Some(hostile.into());
        f.summary.push_str(hostile);
        for e in &mut f.evidence {
            e.note.push_str(hostile);
        }
    }
    // An endpoint row named and routed from the wire: the timeline and latency labels.
    let server = a.findings[0].server;
    let key = faultline::analysis::EndpointKey {
        server,
        transport: faultline::diagnose::Transport::Tcp,
        route: Some(faultline::calls::Route {
            method: "GET".into(),
            template: format!("/{hostile}"),
        }),
    };
    let mut sample = faultline::analysis::CallSample::new(
        faultline::calls::Outcome::Ok,
        a.capture.first_ts_ns.unwrap_or(0),
    );
    sample.measures.total_ns = Some(1_000_000);
    a.endpoints.record_named(key, Some(hostile), sample);
    let files = vec![path.to_string()];
    let per_file = [a.findings.as_slice()];
    let passes = evidence::run(&files, &per_file, None).expect("evidence pass");
    let analyses = [a];
    let report = AnalyzeReport::new(&files, &analyses, &report::FindingFilter::default(), 0);
    let mut out = Vec::new();
    report::write_analyze_html(&mut out, &report, &passes).expect("written");
    let html = String::from_utf8(out).unwrap();
    assert!(!html.contains("<script") && !html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let timeline = between(&html, "<svg class=\"timeline\"", "</svg>");
    assert!(
        timeline.contains("&quot;&gt;&lt;script&gt;alert(1)"),
        "{timeline}"
    );
    let latency = between(&html, "<table class=\"latency\"", "</table>");
    assert!(latency.contains("&quot;&gt;&lt;script&gt;alert(1)"));
    assert_self_contained(&html, "hostile notes");
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Process::new(b).arg("--version").output().is_ok())
}

/// Pixels of exactly `rgb` in a decoded RGB(A) image.
fn count_colour(pixels: &[u8], channels: usize, rgb: [u8; 3]) -> usize {
    pixels
        .chunks_exact(channels)
        .filter(|p| p[..3] == rgb)
        .count()
}

fn hex(colour: &str) -> [u8; 3] {
    let v = u32::from_str_radix(colour.trim_start_matches('#'), 16).expect("#rrggbb");
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// A screenshot of `page`, `height` pixels tall: its pixels and channels per pixel.
fn screenshot(browser: &str, page: &Path, name: &str, height: usize) -> (Vec<u8>, usize) {
    let shot = scratch(&format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let status = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch(&format!("profile-{name}")).display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("--window-size=1400,{height}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(shot.exists(), "{name}: no screenshot ({status:?})");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("png frame");
    pixels.truncate(info.buffer_size());
    (pixels, info.color_type.samples())
}

#[test]
fn ladders_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium); CI installs it and \
             runs this test"
        );
        return;
    };
    for name in PAGES {
        let page = scratch(&format!("{name}.html"));
        std::fs::write(&page, html_of(&capture(name))).expect("page written");
        let height = 1400 + 900 * findings_of(&capture(name));
        let (pixels, channels) = screenshot(browser, &page, name, height);
        let pixels = &pixels[..];
        let total = pixels.len() / channels;
        let white = count_colour(pixels, channels, [255, 255, 255]);
        assert!(
            white < total * 97 / 100,
            "{name}: the page rendered blank ({white} of {total} pixels white)"
        );
        let red = count_colour(pixels, channels, hex(FAULT_COLOUR));
        let blue = count_colour(pixels, channels, hex(ARROW_COLOUR));
        // Every finding marks its fault in red; every call but a silent one has ordinary
        // arrows too (syn-drop's SYNs are all unanswered: red only).
        assert!(red > 200, "{name}: {red} fault-coloured pixels");
        if name != "syn-drop" {
            assert!(blue > 200, "{name}: {blue} arrow-coloured pixels");
        }
        eprintln!("{name}: {red} red and {blue} blue pixels of {total}");
    }
}

#[test]
fn a_reference_frame_from_another_flow_is_drawn_apart_and_never_as_the_fault() {
    // refused F1: frame 10 is the server's packet on another connection (stream 0, port 80)
    // whose TTL the finding compares with the RST's; frame 12, the RST/ACK, is the fault.
    let html = html_of(&capture("refused"));
    let first = html.split("<section").nth(1).expect("the first finding");
    let ladder = &first[first.find("<svg").unwrap()..first.find("</svg>").unwrap()];
    assert_eq!(ladder.matches("(another flow)").count(), 1);
    let fault = ladder.split("<g class=\"arrow fault\">").nth(1).unwrap();
    assert!(fault.starts_with("<title>frame 12 at"), "{fault}");
}

/// The JSON report of `capture`: the counts the page is checked against.
fn json_of(capture: &Path) -> serde_json::Value {
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .arg("analyze")
        .arg(capture)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("JSON report")
}

/// Loads `page` in headless Chromium: the DOM it built, and every console message it logged
/// (a page without scripts logs none; an error in the page would be one).
fn load(browser: &str, page: &Path, name: &str) -> (String, Vec<String>) {
    let out = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch(&format!("profile-dom-{name}")).display()
        ))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// The part of `html` from `start` to the end of the element it opens (`end`).
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} in the page"));
    let to = html[from..].find(end).expect("closed") + from;
    &html[from..to]
}

/// Calls the timeline's columns account for: the numbers in every column's title
/// (`...: 2 failed (client), 5 ok`).
fn calls_in_timeline(timeline: &str) -> u64 {
    timeline
        .split("<g class=\"bucket\"><title>")
        .skip(1)
        .map(|column| {
            let title = &column[..column.find("</title>").expect("title closed")];
            let counts = &title[title.rfind(": ").expect("counts") + 2..];
            counts
                .split(", ")
                .map(|c| c.split(' ').next().unwrap().parse::<u64>().expect("count"))
                .sum::<u64>()
        })
        .sum()
}

/// A flood (one group of five listen-queue findings), a mixed incident (23 groups of client
/// and server failures) and a healthy capture (no group; the timeline still draws its calls).
const INCIDENTS: [&str; 3] = ["listen-queue-full", "gateway-errors", "healthy-api"];

#[test]
fn incident_pages_open_with_the_headline_and_groups_and_draw_every_call() {
    for name in INCIDENTS {
        let capture = capture(name);
        let html = html_of(&capture);
        let doc = json_of(&capture);
        assert_self_contained(&html, name);
        let groups = doc["groups"].as_array().expect("groups");
        // The order a reader meets: headline, groups, timeline, latency, details.
        let at = |needle: &str| html.find(needle);
        let headline = at("<div class=\"headline\"").expect("headline");
        let timeline = at("<svg class=\"timeline\"").expect("timeline");
        assert!(headline < timeline, "{name}");
        if groups.is_empty() {
            assert!(html.contains("No failed calls found."), "{name}");
            assert!(at("<table class=\"groups\"").is_none(), "{name}");
        } else {
            let table = at("<table class=\"groups\"").expect("group table");
            let details = at("<section class=\"finding").expect("details");
            assert!(
                headline < table && table < timeline && timeline < details,
                "{name}"
            );
            // Every group has a row and a heading the headline and table link to.
            for g in groups {
                let id = g["id"].as_str().unwrap();
                assert!(
                    html.contains(&format!("<a href=\"#{id}\">{id}</a>")),
                    "{name} {id}"
                );
                assert!(html.contains(&format!("id=\"{id}\"")), "{name} {id}");
            }
        }
        // Each group's first three findings in full, the rest counted.
        let shown: usize = groups
            .iter()
            .map(|g| g["findings"].as_array().unwrap().len().min(3))
            .sum();
        assert_eq!(
            html.matches("<svg class=\"ladder\"").count(),
            shown,
            "{name}"
        );
        let cut = groups
            .iter()
            .filter(|g| g["findings"].as_array().unwrap().len() > 3)
            .count();
        assert_eq!(
            html.matches("more finding(s) in this group not shown")
                .count(),
            cut,
            "{name}"
        );
        // Every call of the capture is in one column of the timeline.
        let drawn = calls_in_timeline(between(&html, "<svg class=\"timeline\"", "</svg>"));
        assert_eq!(drawn, doc["calls"]["total"].as_u64().unwrap(), "{name}");
    }
    // The flood: 5 of 10 calls, 3 findings shown, 2 left out.
    let flood = html_of(&capture("listen-queue-full"));
    assert!(flood.contains("5 of 10 calls to 198.18.1.2:8080"));
    assert!(flood.contains("2 more finding(s) in this group not shown"));
    // Times: absolute and as an offset; evidence from the call's own first packet.
    assert!(flood.contains("2026-12-03T02:52:16.578455Z (+0.180109s into the capture)"));
    assert!(flood.contains("from the call&#39;s first packet"));
}

#[test]
fn the_console_check_sees_a_deliberate_error() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed");
        return;
    };
    let page = scratch("deliberate-error.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>throw new Error('deliberate')</script>\
         </body></html>",
    )
    .expect("page written");
    let (dom, console) = load(browser, &page, "deliberate-error");
    assert!(dom.contains("<p>x</p>"), "the DOM was dumped");
    assert!(
        console
            .iter()
            .any(|l| l.contains("Uncaught Error: deliberate")),
        "{console:?}"
    );
}

#[test]
fn incident_pages_load_without_console_errors_and_the_timeline_draws() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium); CI installs it and \
             runs this test"
        );
        return;
    };
    for name in INCIDENTS {
        let capture = capture(name);
        let html = html_of(&capture);
        let doc = json_of(&capture);
        let page = scratch(&format!("incident-{name}.html"));
        std::fs::write(&page, &html).expect("page written");
        let (dom, console) = load(browser, &page, name);
        assert!(console.is_empty(), "{name}: console messages {console:?}");
        // Chromium built the timeline as written: the same coloured columns.
        let columns = |page: &str| {
            between(page, "<svg class=\"timeline\"", "</svg>")
                .matches("<rect x=")
                .count()
        };
        assert!(columns(&html) > 0, "{name}");
        assert_eq!(columns(&dom), columns(&html), "{name}");
        // The pixels: without the legend (whose swatches share the colours), only the
        // timeline paints in them. Failed calls in their category's colour, degraded ones in
        // theirs, calls that went through in the neutral one.
        let legend = between(&html, "<ul class=\"legend\">", "</ul>");
        let unlabelled = html.replace(legend, "");
        let shot_page = scratch(&format!("incident-{name}-shot.html"));
        std::fs::write(&shot_page, unlabelled).expect("page written");
        let groups = doc["groups"].as_array().unwrap();
        let (pixels, channels) = screenshot(
            browser,
            &shot_page,
            &format!("incident-{name}"),
            2200 + 90 * groups.len(),
        );
        let painted = |colour: &str| count_colour(&pixels, channels, hex(colour));
        let calls = &doc["calls"];
        let mut expected = vec![(
            "ok",
            OK_COLOUR,
            calls["total"].as_u64() > calls["failed"].as_u64(),
        )];
        expected.push((
            "degraded",
            DEGRADED_COLOUR,
            calls["degraded"].as_u64() > Some(0),
        ));
        for c in Category::ALL {
            let failed = groups
                .iter()
                .any(|g| g["category"] == c.as_str() && g["severity"] == "failed");
            expected.push((c.as_str(), category_colour(c), failed));
        }
        for (what, colour, present) in expected {
            let n = painted(colour);
            if present {
                assert!(n >= 8, "{name}: {what} calls drew {n} pixels of {colour}");
            } else {
                assert_eq!(n, 0, "{name}: {what} pixels of {colour} with no such call");
            }
            eprintln!("{name}: {what} {n} pixels");
        }
    }
}
