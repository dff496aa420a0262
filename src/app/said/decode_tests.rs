use super::*;
use std::io::Write;
use std::time::{Duration, Instant};

/// An RFC 9457 example body (its section 3).
const BODY: &[u8] = br#"{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","detail":"Your current balance is 30, but that costs 50.","instance":"/account/12345/msgs/abc","balance":30}"#;
/// BODY compressed by Python's `brotli.compress(BODY, quality=11)` (brotli 1.2).
const BODY_BR: &[u8] = &[
    27, 198, 0, 0, 197, 104, 115, 169, 127, 198, 60, 53, 34, 115, 73, 187, 217, 217, 66, 206, 230,
    216, 4, 133, 96, 67, 253, 222, 191, 132, 47, 111, 183, 92, 200, 178, 33, 71, 234, 82, 191, 124,
    124, 192, 44, 43, 123, 238, 196, 249, 116, 25, 204, 251, 184, 246, 234, 230, 251, 251, 208,
    189, 163, 45, 24, 16, 36, 189, 34, 33, 239, 47, 109, 1, 237, 129, 143, 49, 5, 14, 168, 95, 231,
    9, 249, 201, 248, 210, 226, 145, 77, 150, 135, 44, 134, 21, 81, 58, 93, 50, 231, 181, 254, 184,
    84, 218, 88, 190, 222, 253, 205, 75, 85, 59, 108, 85, 22, 105, 45, 126,
];
/// BODY compressed by `zstd -19` (zstd 1.5.4; with its content checksum).
const BODY_ZSTD: &[u8] = &[
    40, 181, 47, 253, 4, 104, 181, 4, 0, 34, 10, 31, 24, 112, 111, 3, 232, 218, 148, 144, 105, 147,
    165, 73, 81, 124, 255, 223, 33, 32, 77, 159, 151, 0, 85, 231, 5, 215, 96, 36, 202, 22, 94, 232,
    192, 104, 145, 195, 40, 136, 125, 23, 157, 49, 222, 135, 174, 13, 72, 194, 135, 206, 242, 249,
    249, 252, 184, 36, 48, 24, 9, 91, 54, 115, 12, 241, 146, 239, 250, 189, 200, 242, 65, 141, 191,
    25, 5, 84, 200, 199, 137, 238, 58, 123, 226, 39, 223, 93, 58, 147, 209, 21, 232, 219, 43, 160,
    223, 152, 126, 44, 104, 60, 248, 232, 11, 23, 127, 210, 70, 206, 132, 134, 164, 136, 169, 222,
    77, 160, 244, 255, 104, 162, 45, 85, 175, 86, 8, 0, 76, 200, 64, 23, 232, 175, 0, 32, 21, 68,
    93, 133, 210, 212, 232, 151, 154, 118, 53, 80, 80, 109, 5, 30, 247,
];

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn whole(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let decoded = decode(encoding, body, 8192).unwrap();
    assert!(decoded.complete(), "{:?}", decoded.short);
    decoded.bytes.into_owned()
}

#[test]
fn identity_passes_through_borrowed_and_cut_at_the_limit() {
    let d = decode(None, BODY, 8192).unwrap();
    assert!(matches!(d.bytes, Cow::Borrowed(_)) && d.complete());
    assert_eq!(&*d.bytes, BODY);
    let d = decode(Some("identity"), BODY, 10).unwrap();
    assert_eq!(&*d.bytes, &BODY[..10]);
    assert_eq!(d.short, Some(Short::Limit));
}

#[test]
fn every_coding_is_undone() {
    assert_eq!(whole(Some("gzip"), &gzip(BODY)), BODY);
    assert_eq!(whole(Some("X-GZIP"), &gzip(BODY)), BODY);
    assert_eq!(whole(Some("deflate"), &zlib(BODY)), BODY);
    assert_eq!(whole(Some("deflate"), &raw_deflate(BODY)), BODY);
    assert_eq!(whole(Some("br"), BODY_BR), BODY);
    assert_eq!(whole(Some("zstd"), BODY_ZSTD), BODY);
}

#[test]
fn a_list_of_codings_is_undone_last_first() {
    // br applied to the gzip'd body: "gzip, br".
    let gz = gzip(BODY);
    let both = zlib(&gz);
    assert_eq!(whole(Some("gzip, deflate"), &both), BODY);
    assert_eq!(whole(Some("identity, gzip,identity"), &gz), BODY);
}

#[test]
fn unknown_codings_are_named() {
    let err = decode(Some("gzip, compress"), BODY, 8192).unwrap_err();
    assert_eq!(err, DecodeError::Unknown("compress".to_string()));
    assert_eq!(err.to_string(), "unknown content encoding \"compress\"");
    let long = format!("x\r\n{}", "y".repeat(100));
    let DecodeError::Unknown(name) = decode(Some(&long), BODY, 8192).unwrap_err() else {
        panic!("unknown");
    };
    assert_eq!(name.len(), 43, "{name}");
    assert!(!name.contains('\r'));
    let many = ["gzip"; 5].join(", ");
    assert!(matches!(
        decode(Some(&many), BODY, 8192),
        Err(DecodeError::Unknown(_))
    ));
}

#[test]
fn data_not_in_its_coding_is_an_error_saying_which() {
    for coding in ["gzip", "deflate", "br", "zstd"] {
        let err = decode(Some(coding), b"{\"message\":\"plain\"}", 8192).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Corrupt { encoding, .. } if *encoding == coding),
            "{coding}: {err:?}"
        );
    }
}

#[test]
fn a_cut_gzip_body_gives_what_came_before_the_cut() {
    let text: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i} of a long error page\n").into_bytes())
        .collect();
    let gz = gzip(&text);
    let cut = &gz[..gz.len() / 2];
    let d = decode(Some("gzip"), cut, 1 << 20).unwrap();
    assert!(d.bytes.len() > 1000, "{}", d.bytes.len());
    assert_eq!(&*d.bytes, &text[..d.bytes.len()]);
    assert!(matches!(&d.short, Some(Short::Broken(why)) if why.starts_with("gzip data cut")));
    // Cut inside the header: nothing came out.
    assert!(decode(Some("gzip"), &gz[..5], 8192).is_err());
}

#[test]
fn a_cut_raw_deflate_body_gives_its_prefix() {
    let text: Vec<u8> = (0..2000)
        .flat_map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    let raw = raw_deflate(&text);
    let d = decode(Some("deflate"), &raw[..raw.len() * 2 / 3], 1 << 20).unwrap();
    assert!(!d.bytes.is_empty() && !d.complete());
    assert_eq!(&*d.bytes, &text[..d.bytes.len()]);
}

#[test]
fn a_cut_brotli_body_gives_its_prefix() {
    // brotli streams out what it decoded before the cut (and calls the cut invalid data).
    let d = decode(Some("br"), &BODY_BR[..60], 8192).unwrap();
    assert!(d.bytes.len() > 20, "{}", d.bytes.len());
    assert_eq!(&*d.bytes, &BODY[..d.bytes.len()]);
    assert!(matches!(&d.short, Some(Short::Broken(why)) if why.starts_with("br data")));
}

/// A zstd frame of raw blocks (RFC 8878 3.1.1.2.2), window 128 KiB, no checksum.
fn zstd_raw_blocks(blocks: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    for (i, block) in blocks.iter().enumerate() {
        let last = u32::from(i + 1 == blocks.len());
        let header = (block.len() as u32) << 3 | last;
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(block);
    }
    out
}

#[test]
fn a_cut_zstd_frame_gives_its_whole_blocks() {
    let frame = zstd_raw_blocks(&[b"{\"message\":", b"\"first two blocks\"", b",\"x\":1}"]);
    assert_eq!(
        whole(Some("zstd"), &frame),
        b"{\"message\":\"first two blocks\",\"x\":1}"
    );
    // Cut inside the third block.
    let d = decode(Some("zstd"), &frame[..frame.len() - 3], 8192).unwrap();
    assert_eq!(&*d.bytes, b"{\"message\":\"first two blocks\"");
    assert_eq!(
        d.short,
        Some(Short::Broken("zstd data cut before its end".to_string()))
    );
    // zstd's own frame (one compressed block, checksum) cut inside its block: nothing.
    let err = decode(Some("zstd"), &BODY_ZSTD[..100], 8192).unwrap_err();
    assert!(
        err.to_string().contains("cut before its first block ended"),
        "{err}"
    );
    // Only the checksum is cut: every byte is there.
    let d = decode(Some("zstd"), &BODY_ZSTD[..BODY_ZSTD.len() - 2], 8192).unwrap();
    assert_eq!(&*d.bytes, BODY);
    // A skippable frame before it is passed over.
    let mut skip = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
    skip.extend_from_slice(BODY_ZSTD);
    assert_eq!(whole(Some("zstd"), &skip), BODY);
}

/// A gzip member whose deflate stream is one fixed-Huffman block: a literal 0, then copies of
/// 258 bytes at distance 1, `total` bytes of zeros in all. Built bit by bit (compressing a
/// GiB would take the test longer than reading it). The trailer's CRC is not that of the data:
/// a bounded reader never reaches it.
fn gzip_zeros(total: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `len` bits of `value`, least significant first.
        fn put(&mut self, value: u64, len: u32) {
            self.acc |= value << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let reversed = code.reverse_bits() >> (64 - len);
            self.put(reversed, len);
        }
    }
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // literal 0
    for _ in 0..(total - 1) / 258 {
        bits.code(0xc5, 8); // length 258 (code 285)
        bits.code(0, 5); // distance 1 (code 0)
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7);
    bits.out.extend_from_slice(&[0, 0, 0, 0]);
    bits.out.extend_from_slice(&(total as u32).to_le_bytes());
    bits.out
}

#[test]
fn a_gzip_bomb_costs_the_limit_not_its_size() {
    let bomb = gzip_zeros(1 << 30);
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let start = Instant::now();
    let d = decode(Some("gzip"), &bomb, 8192).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(d.bytes.len(), 8192);
    assert!(d.bytes.iter().all(|&b| b == 0));
    assert_eq!(d.short, Some(Short::Limit));
    assert!(d.bytes.len() <= 8192);
}

#[test]
fn a_zstd_bomb_costs_the_limit_not_its_size() {
    // 8192 RLE blocks of 128 KiB zeros: 1 GiB.
    let mut bomb = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    for i in 0..8192u32 {
        let header = (128u32 << 10) << 3 | 1 << 1 | u32::from(i == 8191);
        bomb.extend_from_slice(&header.to_le_bytes()[..3]);
        bomb.push(0);
    }
    let start = Instant::now();
    let d = decode(Some("zstd"), &bomb, 8192).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(d.bytes.len(), 8192);
    assert_eq!(d.short, Some(Short::Limit));
    // A frame asking for a window beyond 8 MiB is refused before any allocation.
    let mut wide = bomb.clone();
    wide[5] = 0x78; // window 2^25
    assert!(decode(Some("zstd"), &wide, 8192).is_err());
}

#[test]
fn stacked_bombs_stay_bounded() {
    let inner = gzip_zeros(64 << 20);
    let outer = gzip(&inner);
    let d = decode(Some("gzip, gzip"), &outer, 4096).unwrap();
    assert_eq!(d.bytes.len(), 4096);
    assert!(!d.complete());
}

#[test]
fn empty_bodies_are_empty() {
    for coding in [None, Some("gzip"), Some("br"), Some("zstd")] {
        let d = decode(coding, b"", 8192).unwrap();
        assert!(d.bytes.is_empty() && d.complete());
    }
}
