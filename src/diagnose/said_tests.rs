//! HTTP/1.x calls judged on facts the HTTP parser made from raw bytes: a redirect loop, a
//! rate limit counted down to zero, GraphQL errors under a 200, a Host that differs from the
//! SNI.

use crate::app::AppFacts;
use crate::app::http::{BodyLimit, HttpStream};
use crate::tcp::{Origin, StreamChunk};

use super::CallVerdict;
use super::script::{codes, exchanged, judge_app};

/// A connection whose client sent `requests` and whose server answered `responses`, each
/// message its own frame (requests from frame 10, responses from frame 100).
fn parsed(requests: &[&str], responses: &[&str]) -> AppFacts {
    let mut http = HttpStream::new(BodyLimit::default());
    let (mut c_off, mut s_off) = (0u64, 0u64);
    for (i, (rq, rs)) in requests.iter().zip(responses).enumerate() {
        let i = i as u64;
        let at = |frame: u64| Origin {
            frame,
            ts_ns: frame as i64 * 1_000_000,
        };
        http.on_chunk(
            true,
            at(10 + 2 * i),
            StreamChunk::Data {
                offset: c_off,
                bytes: rq.as_bytes(),
            },
        );
        c_off += rq.len() as u64;
        http.on_chunk(
            false,
            at(100 + 2 * i),
            StreamChunk::Data {
                offset: s_off,
                bytes: rs.as_bytes(),
            },
        );
        s_off += rs.len() as u64;
    }
    AppFacts {
        http: http.finish(),
        ..AppFacts::default()
    }
}

fn judge(app: &AppFacts) -> Vec<CallVerdict> {
    judge_app(&exchanged(), app)
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: api.test\r\n\r\n")
}

fn redirect(to: &str) -> String {
    format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
}

#[test]
fn redirects_that_repeat_until_the_client_stops_are_one_loop() {
    let rq = [get("/a"), get("/b"), get("/a"), get("/b")];
    let rs = [
        redirect("/b"),
        redirect("/a"),
        redirect("/b"),
        redirect("/a"),
    ];
    let rq: Vec<&str> = rq.iter().map(String::as_str).collect();
    let rs: Vec<&str> = rs.iter().map(String::as_str).collect();
    let v = judge(&parsed(&rq, &rs));
    assert_eq!(
        codes(&v),
        [None, None, None, Some("server.redirect_loop".into())]
    );
    let f = v[3].finding.as_ref().expect("finding");
    assert!(f.summary.contains("/a -> /b, /b -> /a"), "{}", f.summary);
    // Evidence: the first redirect's request and response, and the last's.
    let frames: Vec<u64> = f.evidence.iter().map(|e| e.frame).collect();
    assert_eq!(frames, [10, 16, 100, 106]);
}

#[test]
fn a_redirect_chain_that_ends_at_a_resource_is_no_loop() {
    let rq = [get("/a"), get("/b"), get("/a"), get("/c")];
    let rs = [
        redirect("/b"),
        redirect("/a"),
        redirect("/b"),
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string(),
    ];
    let rq: Vec<&str> = rq.iter().map(String::as_str).collect();
    let rs: Vec<&str> = rs.iter().map(String::as_str).collect();
    assert_eq!(codes(&judge(&parsed(&rq, &rs))), [None, None, None, None]);
    // Three distinct hops (no repeat) stopping is not called a loop either.
    let rq = [get("/a"), get("/b"), get("/c")];
    let rs = [redirect("/b"), redirect("/c"), redirect("/d")];
    let rq: Vec<&str> = rq.iter().map(String::as_str).collect();
    let rs: Vec<&str> = rs.iter().map(String::as_str).collect();
    assert_eq!(codes(&judge(&parsed(&rq, &rs))), [None, None, None]);
}

#[test]
fn a_429_after_the_allowance_counted_down_says_so() {
    let ok = |n: u32| {
        format!("HTTP/1.1 200 OK\r\nRateLimit-Remaining: {n}\r\nContent-Length: 0\r\n\r\n")
    };
    let rq = [get("/x"), get("/x"), get("/x"), get("/x")];
    let rs = [
        ok(2),
        ok(1),
        ok(0),
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n".into(),
    ];
    let rq: Vec<&str> = rq.iter().map(String::as_str).collect();
    let rs: Vec<&str> = rs.iter().map(String::as_str).collect();
    let v = judge(&parsed(&rq, &rs));
    let f = v[3].finding.as_ref().expect("429 finding");
    assert_eq!(f.code, "client.rate_limited");
    assert!(
        f.explanation.contains("RateLimit-Remaining 2, 1, 0"),
        "{}",
        f.explanation
    );
    assert!(f.summary.contains("Retry-After 1"), "{}", f.summary);
}

#[test]
fn bodies_of_healthy_answers_are_not_read() {
    let rq = [get("/x")];
    let rq: Vec<&str> = rq.iter().map(String::as_str).collect();
    let rs = [
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 36\r\n\r\n{\"errors\":[{\"message\":\"ignored\"}]}  ",
    ];
    let app = parsed(&rq, &rs);
    let r = app.http.exchanges[0].response.as_ref().expect("response");
    assert!(r.said.is_none() && r.head.failure.is_none());
}

#[test]
fn a_refused_token_sent_again_is_a_failure_and_a_challenge_answered_is_a_login_step() {
    let with_token =
        "GET /v1/me HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n";
    let refused = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"The access token expired\"\r\nContent-Length: 0\r\n\r\n";
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let v = judge(&parsed(&[with_token, with_token], &[refused, ok]));
    assert_eq!(codes(&v), [Some("client.token_expired".into()), None]);
    // curl --anyauth: asked without credentials, answered with them: one call, no failure.
    let bare = get("/v1/me");
    let basic = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"api\"\r\nContent-Length: 0\r\n\r\n";
    let with_basic =
        "GET /v1/me HTTP/1.1\r\nHost: api.test\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n";
    let app = parsed(&[&bare, with_basic], &[basic, ok]);
    assert_eq!(crate::calls::login_legs(&app.http), 1);
    assert!(codes(&judge(&app)).iter().all(Option::is_none));
}

#[test]
fn missing_authentication_token_without_credentials_keeps_both_readings() {
    let answer = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nx-amzn-ErrorType: MissingAuthenticationTokenException\r\nContent-Length: 42\r\n\r\n{\"message\":\"Missing Authentication Token\"}";
    let v = judge(&parsed(&[&get("/prod/nowhere")], &[answer]));
    let f = v[0].finding.as_ref().expect("finding");
    assert_eq!(f.code, "client.api_not_found");
    assert_eq!(f.confidence, super::Confidence::Medium);
    assert!(
        f.alternatives
            .iter()
            .any(|a| a.starts_with("client.http_403")),
        "{:?}",
        f.alternatives
    );
    assert!(
        f.summary.contains("\"Missing Authentication Token\""),
        "{}",
        f.summary
    );
}
