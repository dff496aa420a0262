//! Decryption on the corpus's keyed captures (`keyed/`, third-party captures with their
//! session keys): what a user gets from `--keylog` — the calls inside TLS, the handshake
//! messages TLS 1.3 encrypts, and honest states when bytes are lost or the keys are wrong.
//! (The frame-by-frame comparison with TShark is in `decrypted.rs`.)

use faultline::analysis::{Analysis, Analyzer, Config};
use faultline::app::tls::{DecryptionState, KeyLog, TlsFacts};

use crate::corpus::Corpus;

const ZEEK: &str = "keyed/zeek-tls-1.2-stream-keylog";
const ILLUSTRATED: &str = "keyed/illustrated-tls13";

/// Analyses a keyed capture with `keys` (its own key file when None), leaving out the frames
/// in `skip` (as a capture that missed them would).
fn analyse(corpus: &Corpus, name: &str, keys: Option<KeyLog>, skip: &[u64]) -> Analysis {
    let keys = keys.unwrap_or_else(|| {
        let keys = KeyLog::new();
        keys.load_file(&corpus.path(&format!("{name}.keys")))
            .expect("key file");
        assert!(keys.take_warnings().is_empty());
        keys
    });
    let mut analyzer = Analyzer::new(Config {
        keys,
        ..Config::default()
    });
    let path = corpus.path(&format!("{name}.pcap"));
    let mut reader = faultline::source::open_path(path.to_str().expect("utf-8")).expect("open");
    reader.for_each_frame(|frame| {
        if !skip.contains(&frame.number) {
            analyzer.process(frame)
        }
    });
    analyzer.finish()
}

fn tls(analysis: &Analysis) -> &TlsFacts {
    analysis.connections[0].app.tls.as_ref().expect("TLS")
}

/// One exchange: request frame, method, target, and the response's frame and status.
type Call = (u64, String, String, Option<(u64, u16)>);

/// Every exchange of the capture's one connection.
fn calls(analysis: &Analysis) -> Vec<Call> {
    analysis.connections[0]
        .app
        .http
        .exchanges
        .iter()
        .map(|e| {
            let r = e.request.as_ref().expect("request");
            (
                r.first.frame,
                r.head.method.clone(),
                r.head.target.clone(),
                e.response.as_ref().map(|s| (s.first.frame, s.head.status)),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs ../shared/corpus (CI runs it with --include-ignored)"]
fn tls12_keep_alive_calls_are_read_inside_tls_and_all_healthy() {
    let corpus = Corpus::locate();
    let a = analyse(&corpus, ZEEK, None, &[]);
    let t = tls(&a);
    assert_eq!(t.decryption.state, DecryptionState::Decrypted);
    let calls = calls(&a);
    assert_eq!(calls.len(), 16);
    assert!(calls.iter().all(|c| c.1 == "GET"));
    assert_eq!(calls[0].0, 14);
    assert_eq!(
        calls[0].2,
        "/assets/akwa/v24/js/akwa.js?.ltc.c61e84978682308f631c"
    );
    let statuses: Vec<u16> = calls.iter().map(|c| c.3.expect("answered").1).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 14);
    assert_eq!(statuses.iter().filter(|&&s| s == 304).count(), 2);
    // The client's close_notify is read, not guessed from a record's size.
    assert!(
        t.client
            .alerts
            .iter()
            .any(|a| a.description == 0 && a.decrypted && a.frame == 231)
    );
    assert_eq!(a.calls_total, 16);
    assert_eq!(a.calls_failed + a.calls_degraded, 0);
    assert!(a.findings.is_empty(), "{:?}", a.findings);
}

#[test]
#[ignore = "needs ../shared/corpus (CI runs it with --include-ignored)"]
fn tls13_encrypted_handshake_is_read_and_its_certificate_judged() {
    let corpus = Corpus::locate();
    let a = analyse(&corpus, ILLUSTRATED, None, &[]);
    let t = tls(&a);
    assert_eq!(t.decryption.state, DecryptionState::Decrypted);
    let decrypted: Vec<(u64, bool, u8)> = t
        .handshake_log
        .iter()
        .filter(|h| h.decrypted)
        .map(|h| (h.frame, h.from_client, h.msg_type))
        .collect();
    // EncryptedExtensions, Certificate, CertificateVerify, Finished; the client's Finished;
    // two NewSessionTickets (tls13.xargs.org, and TShark with the keys).
    assert_eq!(
        decrypted,
        [
            (7, false, 8),
            (7, false, 11),
            (7, false, 15),
            (7, false, 20),
            (9, true, 20),
            (13, false, 4),
            (15, false, 4)
        ]
    );
    assert_eq!(t.decryption.application_bytes, [4, 4], "ping and pong");
    // The certificate TLS 1.3 encrypts is checked as TLS 1.2's is: it expired in 2019 and the
    // client (a demo program) completed the handshake anyway.
    let chain = t.server_certificates.as_ref().expect("certificate read");
    assert_eq!((chain.frame, chain.count), (7, 1));
    let codes: Vec<&str> = a.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["tls.invalid_certificate_accepted"]);
    assert!(a.findings[0].summary.contains("expired"));
}

#[test]
#[ignore = "needs ../shared/corpus (CI runs it with --include-ignored)"]
fn a_lost_segment_costs_only_the_bytes_it_held() {
    let corpus = Corpus::locate();
    let whole = calls(&analyse(&corpus, ZEEK, None, &[]));
    // Frame 22 carries 1448 bytes inside the first response's body; frame 100 a whole
    // 16 KiB record of it; frame 160 the head of the fourth response.
    for (skip, missing, unanswered) in [(22, 1448, None), (100, 16384, None), (160, 0, Some(3))] {
        let a = analyse(&corpus, ZEEK, None, &[skip]);
        let t = tls(&a);
        assert_eq!(t.decryption.state, DecryptionState::Partial, "skip {skip}");
        assert_eq!(t.decryption.resynced, 1, "skip {skip}");
        let exchanges = &a.connections[0].app.http.exchanges;
        let first = exchanges[0].response.as_ref().expect("answer");
        assert_eq!(first.body_missing, missing, "skip {skip}");
        let got = calls(&a);
        for (i, (call, want)) in got.iter().zip(&whole).enumerate() {
            if Some(i) == unanswered {
                assert_eq!(call.3, None, "skip {skip}: its head was lost");
            } else {
                assert_eq!(call, want, "skip {skip}");
            }
        }
        // Bytes the capture missed are no failure of the server.
        assert!(a.findings.is_empty(), "skip {skip}: {:?}", a.findings);
    }
}

#[test]
#[ignore = "needs ../shared/corpus (CI runs it with --include-ignored)"]
fn wrong_or_missing_keys_are_said_and_nothing_is_parsed() {
    let corpus = Corpus::locate();
    let text = std::fs::read_to_string(corpus.path(&format!("{ZEEK}.keys"))).expect("keys");
    // Another session's secret under this client random.
    let wrong: String = text
        .lines()
        .map(|l| {
            let (head, secret) = l.rsplit_once(' ').expect("three words");
            format!("{head} {}\n", "5a".repeat(secret.len() / 2))
        })
        .collect();
    let keys = KeyLog::new();
    assert_eq!(keys.add_text("wrong", &wrong, 1), 1);
    let a = analyse(&corpus, ZEEK, Some(keys), &[]);
    assert_eq!(tls(&a).decryption.state, DecryptionState::KeysDidNotDecrypt);
    assert!(a.connections[0].app.http.exchanges.is_empty());
    assert!(a.findings.is_empty(), "{:?}", a.findings);
    let a = analyse(&corpus, ZEEK, Some(KeyLog::new()), &[]);
    assert_eq!(tls(&a).decryption.state, DecryptionState::NoKeys);
    assert!(a.connections[0].app.http.exchanges.is_empty());
}
