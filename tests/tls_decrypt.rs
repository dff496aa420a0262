//! TLS record decryption (`faultline::app::tls::decrypt`) against records OpenSSL wrote:
//! `tests/fixtures/tls12/*.txt` (made by `gen.py` there: one connection per cipher family, its
//! keys from OpenSSL's key log) and, when the corpus is present, the keyed third-party captures
//! (`keyed/` in `../shared/corpus`, checked against what tshark decrypted).

mod corpus;
mod keyed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use faultline::app::tls::decrypt::{KeyError, OpenError, RecordOpener, Suite, SuiteHash};
use keyed::{hello, key_log, tcp_streams, unhex};
use proptest::prelude::*;

/// One generated connection.
#[derive(Default)]
struct Fixture {
    name: String,
    version: u16,
    suite: u16,
    etm: bool,
    client_random: [u8; 32],
    server_random: [u8; 32],
    master_secret: Vec<u8>,
    secrets: BTreeMap<String, Vec<u8>>,
    /// Protected records per direction ('c', 's'), header included.
    records: BTreeMap<char, Vec<Vec<u8>>>,
    handshake: BTreeMap<char, Vec<u8>>,
    app: BTreeMap<char, Vec<u8>>,
    alerts: BTreeMap<char, usize>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls12");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| parse(&std::fs::read_to_string(path).unwrap()))
        .collect()
}

fn parse(text: &str) -> Fixture {
    let mut fixture = Fixture::default();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let mut words = line.split(' ');
        let key = words.next().unwrap();
        let rest: Vec<&str> = words.collect();
        let side = || rest[0].chars().next().unwrap();
        match key {
            "name" => fixture.name = rest[0].to_string(),
            "version" => fixture.version = u16::from_str_radix(rest[0], 16).unwrap(),
            "suite" => fixture.suite = u16::from_str_radix(rest[0], 16).unwrap(),
            "etm" => fixture.etm = rest[0] == "1",
            "client_random" => fixture.client_random = unhex(rest[0]).try_into().unwrap(),
            "server_random" => fixture.server_random = unhex(rest[0]).try_into().unwrap(),
            "master_secret" => fixture.master_secret = unhex(rest[0]),
            "secret" => {
                fixture.secrets.insert(rest[0].to_string(), unhex(rest[1]));
            }
            "record" => fixture
                .records
                .entry(side())
                .or_default()
                .push(unhex(rest[1])),
            "handshake" => {
                let types = rest[1].split(',').map(|t| t.parse().unwrap()).collect();
                fixture.handshake.insert(side(), types);
            }
            "app" => {
                fixture
                    .app
                    .insert(side(), unhex(rest.get(1).copied().unwrap_or("")));
            }
            "alerts" => {
                fixture.alerts.insert(side(), rest[1].parse().unwrap());
            }
            other => panic!("unknown fixture line {other}"),
        }
    }
    fixture
}

impl Fixture {
    fn suite(&self) -> Suite {
        Suite::from_id(self.suite).unwrap_or_else(|| panic!("{}: suite unknown", self.name))
    }

    fn tls12_opener(&self, from_client: bool, master_secret: &[u8]) -> RecordOpener {
        RecordOpener::tls12(
            self.suite(),
            self.version,
            master_secret,
            &self.client_random,
            &self.server_random,
            from_client,
            self.etm,
        )
        .unwrap()
    }

    fn secret(&self, label: &str) -> &[u8] {
        &self.secrets[label]
    }

    /// The reader of one direction: TLS 1.2 one opener; TLS 1.3 the handshake opener, then the
    /// application one after Finished.
    fn reader(&self, side: char) -> Reader {
        if self.version == 0x0304 {
            let (hs, app) = if side == 'c' {
                ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0")
            } else {
                ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0")
            };
            let open = |label| RecordOpener::tls13(self.suite(), self.secret(label)).unwrap();
            Reader::new(open(hs), Some(open(app)))
        } else {
            Reader::new(self.tls12_opener(side == 'c', &self.master_secret), None)
        }
    }
}

/// What one direction's protected records carried.
struct Reader {
    opener: RecordOpener,
    application: Option<RecordOpener>,
    pending: Vec<u8>,
    handshake: Vec<u8>,
    app: Vec<u8>,
    alerts: Vec<Vec<u8>>,
}

impl Reader {
    fn new(opener: RecordOpener, application: Option<RecordOpener>) -> Reader {
        Reader {
            opener,
            application,
            pending: Vec::new(),
            handshake: Vec::new(),
            app: Vec::new(),
            alerts: Vec::new(),
        }
    }

    /// Opens one record (header included), switching keys after Finished (TLS 1.3) and
    /// KeyUpdate.
    fn read(&mut self, record: &[u8]) -> Result<(), OpenError> {
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let mut plain = Vec::new();
        match self.opener.open(header, &record[5..], &mut plain)? {
            22 => self.pending.extend(plain),
            23 => self.app.extend(plain),
            21 => self.alerts.push(plain),
            other => panic!("content type {other}"),
        }
        while self.pending.len() >= 4 {
            let len = u32::from_be_bytes([0, self.pending[1], self.pending[2], self.pending[3]]);
            let end = 4 + len as usize;
            if self.pending.len() < end {
                break;
            }
            let message: Vec<u8> = self.pending.drain(..end).collect();
            self.handshake.push(message[0]);
            match message[0] {
                20 => {
                    if let Some(next) = self.application.take() {
                        self.opener = next;
                    }
                }
                24 => self.opener = self.opener.key_update().unwrap(),
                _ => {}
            }
        }
        Ok(())
    }
}

#[test]
fn every_cipher_family_decrypts_openssl_records() {
    let fixtures = fixtures();
    let covered: BTreeSet<(u16, u16, bool)> = fixtures
        .iter()
        .map(|f| (f.version, f.suite, f.etm))
        .collect();
    // Each family, key exchange and version the fixtures must keep covering.
    for wanted in [
        (0x0303, 0x009c, false), // RSA AES-128-GCM
        (0x0303, 0x009d, false), // RSA AES-256-GCM (SHA-384 PRF)
        (0x0303, 0x009f, false), // DHE_RSA AES-256-GCM
        (0x0303, 0xc02b, false), // ECDHE_ECDSA AES-128-GCM
        (0x0303, 0xcca8, false), // ECDHE_RSA ChaCha20-Poly1305
        (0x0303, 0xcca9, false), // ECDHE_ECDSA ChaCha20-Poly1305
        (0x0303, 0xc013, false), // ECDHE_RSA AES-128-CBC HMAC-SHA1
        (0x0303, 0xc013, true),  // the same with encrypt_then_mac
        (0x0303, 0x003c, false), // RSA AES-128-CBC HMAC-SHA256
        (0x0303, 0x003d, true),  // RSA AES-256-CBC HMAC-SHA256, encrypt_then_mac
        (0x0303, 0xc028, false), // ECDHE_RSA AES-256-CBC HMAC-SHA384 (SHA-384 PRF)
        (0x0303, 0xc024, true),  // ECDHE_ECDSA AES-256-CBC HMAC-SHA384, encrypt_then_mac
        (0x0303, 0x0039, false), // DHE_RSA AES-256-CBC HMAC-SHA1
        (0x0303, 0xc09c, false), // RSA AES-128-CCM
        (0x0303, 0xc0af, false), // ECDHE_ECDSA AES-256-CCM_8
        (0x0302, 0x0035, false), // TLS 1.1 explicit IV, MD5+SHA-1 PRF
        (0x0301, 0xc013, false), // TLS 1.0 chained IV (with OpenSSL's empty records)
        (0x0301, 0xc013, true),  // TLS 1.0 chained IV with encrypt_then_mac
        (0x0304, 0x1301, false), // TLS 1.3, with a KeyUpdate both ways
        (0x0304, 0x1302, false),
        (0x0304, 0x1303, false),
        (0x0304, 0x1304, false),
        (0x0304, 0x1305, false),
    ] {
        assert!(covered.contains(&wanted), "no fixture for {wanted:04x?}");
    }
    for fixture in &fixtures {
        for side in ['c', 's'] {
            let mut reader = fixture.reader(side);
            let records = &fixture.records[&side];
            for (i, record) in records.iter().enumerate() {
                let read = reader.read(record);
                assert_eq!(read, Ok(()), "{} {side} record {i}", fixture.name);
            }
            let what = format!("{} {side}", fixture.name);
            assert_eq!(
                reader.handshake, fixture.handshake[&side],
                "{what}: handshake"
            );
            assert_eq!(reader.app, fixture.app[&side], "{what}: application data");
            assert_eq!(reader.alerts, vec![vec![1, 0]], "{what}: close_notify");
            assert_eq!(reader.alerts.len(), fixture.alerts[&side]);
            assert!(
                reader.pending.is_empty(),
                "{what}: a handshake message was cut"
            );
        }
        let request = &fixture.app[&'c'];
        assert!(request.starts_with(b"GET /api/items?page=2 HTTP/1.1\r\n"));
    }
}

#[test]
fn wrong_keys_do_not_authenticate() {
    for fixture in fixtures() {
        let first = &fixture.records[&'c'][0];
        let header: [u8; 5] = first[..5].try_into().unwrap();
        let body = &first[5..];
        let mut wrong = Vec::new();
        if fixture.version == 0x0304 {
            let mut secret = fixture.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET").to_vec();
            secret[7] ^= 1;
            wrong.push(RecordOpener::tls13(fixture.suite(), &secret).unwrap());
            let other = fixture.secret("SERVER_HANDSHAKE_TRAFFIC_SECRET");
            wrong.push(RecordOpener::tls13(fixture.suite(), other).unwrap());
            let right = fixture.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET");
            let right = RecordOpener::tls13(fixture.suite(), right).unwrap();
            wrong.push(right.key_update().unwrap());
        } else {
            let mut master = fixture.master_secret.clone();
            master[47] ^= 0x80;
            wrong.push(fixture.tls12_opener(true, &master));
            wrong.push(fixture.tls12_opener(false, &fixture.master_secret));
            let mut swapped = fixture.tls12_opener(true, &fixture.master_secret);
            swapped.set_seq(1);
            wrong.push(swapped);
        }
        for mut opener in wrong {
            let seq = opener.seq();
            let mut out = b"before".to_vec();
            let opened = opener.open(header, body, &mut out);
            assert_eq!(opened, Err(OpenError::Authentication), "{}", fixture.name);
            assert_eq!((out.as_slice(), opener.seq()), (&b"before"[..], seq));
        }
    }
}

#[test]
fn truncated_and_damaged_records_fail_and_change_nothing() {
    for fixture in fixtures() {
        for side in ['c', 's'] {
            let mut reader = fixture.reader(side);
            for record in &fixture.records[&side] {
                let header: [u8; 5] = record[..5].try_into().unwrap();
                let body = &record[5..];
                let seq = reader.opener.seq();
                let mut out = vec![9];
                for len in 0..body.len() {
                    let opened = reader.opener.open(header, &body[..len], &mut out);
                    let what = format!("{} {side} seq {seq} cut to {len}", fixture.name);
                    assert!(opened.is_err(), "{what}");
                    if len < 9 {
                        assert_eq!(opened, Err(OpenError::Malformed), "{what}");
                    }
                }
                let mut damaged = body.to_vec();
                for at in [0, body.len() / 2, body.len() - 1] {
                    damaged[at] ^= 0x01;
                    let opened = reader.opener.open(header, &damaged, &mut out);
                    damaged[at] ^= 0x01;
                    let what = format!("{} {side} seq {seq} byte {at}", fixture.name);
                    assert_eq!(opened, Err(OpenError::Authentication), "{what}");
                }
                let mut changed = header;
                changed[0] ^= 0x02;
                let opened = reader.opener.open(changed, body, &mut out);
                assert_eq!(opened, Err(OpenError::Authentication), "{}", fixture.name);
                assert_eq!((out.as_slice(), reader.opener.seq()), (&[9u8][..], seq));
                // The record still opens where it is.
                reader.read(record).unwrap();
            }
        }
    }
}

#[test]
fn suites_and_key_errors() {
    for id in [
        0x0000, 0x0004, 0x0005, 0x000a, 0x002c, 0x00a8, 0xc011, 0x1306, 0xffff,
    ] {
        assert_eq!(
            Suite::from_id(id),
            None,
            "0x{id:04x} (NULL, RC4, 3DES, PSK...)"
        );
    }
    let suite = |id| Suite::from_id(id).unwrap();
    assert!((0x1301..=0x1305).all(|id| suite(id).is_tls13()));
    assert_eq!(Suite::all().filter(Suite::is_tls13).count(), 5);
    assert_eq!(suite(0xc030).hash(), SuiteHash::Sha384);
    assert_eq!(suite(0xc014).hash(), SuiteHash::Sha256);
    assert_eq!(suite(0x1302).hash(), SuiteHash::Sha384);
    assert_eq!(suite(0xc02f).id(), 0xc02f);

    let random = [7u8; 32];
    let tls12 = |id, version, secret: &[u8]| {
        RecordOpener::tls12(suite(id), version, secret, &random, &random, true, false).map(drop)
    };
    assert_eq!(
        tls12(0xc02f, 0x0303, &[1; 47]),
        Err(KeyError::WrongSecretLength)
    );
    assert_eq!(
        tls12(0x1301, 0x0303, &[1; 48]),
        Err(KeyError::UnsupportedSuite)
    );
    assert_eq!(
        tls12(0xc02f, 0x0300, &[1; 48]),
        Err(KeyError::UnsupportedVersion)
    );
    assert_eq!(
        tls12(0xc02f, 0x0304, &[1; 48]),
        Err(KeyError::UnsupportedVersion)
    );
    assert_eq!(
        tls12(0xc02f, 0x0302, &[1; 48]),
        Err(KeyError::UnsupportedVersion)
    );
    assert_eq!(tls12(0xc013, 0x0301, &[1; 48]), Ok(()));
    let tls13 = |id, secret: &[u8]| RecordOpener::tls13(suite(id), secret).map(drop);
    assert_eq!(tls13(0x1302, &[1; 32]), Err(KeyError::WrongSecretLength));
    assert_eq!(tls13(0xc02f, &[1; 32]), Err(KeyError::UnsupportedSuite));
    let opener = RecordOpener::tls12(
        suite(0xc02f),
        0x0303,
        &[1; 48],
        &random,
        &random,
        true,
        false,
    );
    assert_eq!(
        opener.unwrap().key_update().map(drop),
        Err(KeyError::UnsupportedSuite)
    );
}

fn any_opener() -> impl Strategy<Value = RecordOpener> {
    let suites: Vec<Suite> = Suite::all().collect();
    (
        proptest::sample::select(suites),
        prop::array::uniform32(any::<u8>()),
        0x0301u16..=0x0303,
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_filter_map(
            "suite needs TLS 1.2",
            |(suite, bytes, version, client, etm, seq)| {
                let mut opener = if suite.is_tls13() {
                    let secret = [bytes.as_slice(), &bytes[..16]].concat();
                    RecordOpener::tls13(suite, &secret[..suite.hash().output_len()]).ok()?
                } else {
                    let master = [bytes.as_slice(), &bytes[..16]].concat();
                    RecordOpener::tls12(suite, version, &master, &bytes, &bytes, client, etm)
                        .ok()?
                };
                opener.set_seq(seq);
                Some(opener)
            },
        )
}

proptest! {
    #[test]
    fn hostile_bodies_never_open_or_panic(
        mut opener in any_opener(),
        header in prop::array::uniform5(any::<u8>()),
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let seq = opener.seq();
        let mut out = vec![0xaa];
        prop_assert!(opener.open(header, &body, &mut out).is_err());
        prop_assert_eq!(out, vec![0xaa]);
        prop_assert_eq!(opener.seq(), seq);
    }
}

#[test]
#[ignore = "needs ../shared/corpus: cargo test --test tls_decrypt -- --include-ignored"]
fn illustrated_tls13_decrypts_as_tshark_does() {
    let corpus = corpus::Corpus::locate();
    let keys = key_log(&corpus.path("keyed/illustrated-tls13.keys"));
    let streams = tcp_streams(&corpus.path("keyed/illustrated-tls13.pcap"), 8400);
    let (_, suite) = hello(streams[1].records()[0].1);
    let suite = Suite::from_id(suite).unwrap();
    assert!(suite.is_tls13());
    let open = |label: &str| RecordOpener::tls13(suite, &keys[label].1).unwrap();
    // Per frame: handshake types, content types (inner when protected), application data.
    let mut frames: BTreeMap<u64, (Vec<String>, Vec<String>, String)> = BTreeMap::new();
    for (dir, (hs, app)) in [
        ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"),
        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut reader = Reader::new(open(hs), Some(open(app)));
        for (frame, record) in streams[dir].records() {
            let entry = frames.entry(frame).or_default();
            let (handshakes, apps) = (reader.handshake.len(), reader.app.len());
            if record[0] == 23 {
                reader.read(record).unwrap();
                let inner = if reader.app.len() > apps { 23 } else { 22 };
                entry.1.push(inner.to_string());
            } else {
                entry.1.push(record[0].to_string());
                if record[0] == 22 {
                    entry.0.push(record[5].to_string());
                }
            }
            entry
                .0
                .extend(reader.handshake[handshakes..].iter().map(u8::to_string));
            entry.2 += &reader.app[apps..]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>();
        }
    }
    let ours: Vec<String> = frames
        .iter()
        .map(|(frame, (hs, types, app))| {
            format!("{frame}\t{}\t{}\t{app}", hs.join(","), types.join(","))
        })
        .collect();
    let expected =
        std::fs::read_to_string(corpus.path("keyed/illustrated-tls13.tshark-decrypted.txt"))
            .unwrap();
    let theirs: Vec<&str> = expected
        .lines()
        .filter(|line| line.split('\t').nth(2) != Some(""))
        .collect();
    assert_eq!(ours, theirs);
    assert!(ours.iter().any(|line| line.ends_with("70696e67")), "ping");
    assert!(ours.iter().any(|line| line.ends_with("706f6e67")), "pong");
}

#[test]
#[ignore = "needs ../shared/corpus: cargo test --test tls_decrypt -- --include-ignored"]
fn zeek_tls12_keep_alive_decrypts_to_tsharks_requests_and_statuses() {
    let corpus = corpus::Corpus::locate();
    let keys = key_log(&corpus.path("keyed/zeek-tls-1.2-stream-keylog.keys"));
    let streams = tcp_streams(&corpus.path("keyed/zeek-tls-1.2-stream-keylog.pcap"), 443);
    let (client_random, _) = hello(streams[0].records()[0].1);
    let (server_random, suite) = hello(streams[1].records()[0].1);
    let (random, master) = &keys["CLIENT_RANDOM"];
    assert_eq!(random.as_slice(), client_random);
    let suite = Suite::from_id(suite).unwrap();
    let mut plain = [Vec::new(), Vec::new()];
    for dir in 0..2 {
        let opener = RecordOpener::tls12(
            suite,
            0x0303,
            master,
            &client_random,
            &server_random,
            dir == 0,
            false,
        );
        let mut reader = Reader::new(opener.unwrap(), None);
        let records = streams[dir].records();
        let ccs = records.iter().position(|(_, r)| r[0] == 20).unwrap();
        for (_, record) in &records[ccs + 1..] {
            reader.read(record).unwrap();
        }
        assert_eq!(reader.handshake, [20], "each side's Finished");
        plain[dir] = reader.app;
    }
    let heads = |text: &[u8], start: &[u8]| -> Vec<String> {
        let text = String::from_utf8_lossy(text);
        text.split("\r\n")
            .filter(|line| line.as_bytes().starts_with(start))
            .map(str::to_string)
            .collect()
    };
    let requests: Vec<String> = heads(&plain[0], b"GET ")
        .iter()
        .map(|line| line.trim_end_matches(" HTTP/1.1").replacen(' ', "\t", 1))
        .collect();
    // A response follows the previous body directly, not always after a line break.
    let statuses: Vec<String> = plain[1]
        .windows(13)
        .filter(|w| w.starts_with(b"HTTP/1.1 ") && w[9..12].iter().all(u8::is_ascii_digit))
        .map(|w| String::from_utf8_lossy(&w[9..12]).into_owned())
        .collect();
    let expected = std::fs::read_to_string(
        corpus.path("keyed/zeek-tls-1.2-stream-keylog.tshark-decrypted.txt"),
    )
    .unwrap();
    let columns: Vec<Vec<&str>> = expected.lines().map(|l| l.split('\t').collect()).collect();
    let their_requests: Vec<String> = columns
        .iter()
        .filter(|c| !c[1].is_empty())
        .map(|c| format!("{}\t{}", c[1], c[2]))
        .collect();
    let their_statuses: Vec<&str> = columns
        .iter()
        .filter(|c| !c[3].is_empty())
        .map(|c| c[3])
        .collect();
    assert_eq!(requests.len(), 16);
    assert_eq!(requests, their_requests);
    assert_eq!(statuses, their_statuses);
}
