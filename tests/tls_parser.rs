//! The TLS parser on every TLS stream of the lab's captures, cut at every byte boundary.

mod tls_streams;

#[test]
fn lab_tls_streams_read_the_same_at_every_cut() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
    let mut streams = 0;
    let mut cuts = 0;
    for entry in std::fs::read_dir(dir).expect("captures/") {
        let path = entry.expect("entry").path();
        let name = path.display().to_string();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        for (stream, bytes) in tls_streams::tls_streams(&name) {
            streams += 1;
            cuts += tls_streams::check_every_cut(&name, stream, &bytes);
        }
    }
    assert!(
        streams >= 20,
        "only {streams} TLS streams in the lab captures"
    );
    assert!(cuts > 10_000);
}
