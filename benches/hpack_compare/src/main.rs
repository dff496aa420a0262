use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

type H = Vec<(Vec<u8>, Vec<u8>)>;
fn hx(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
fn h(v: &[(&str, &str)]) -> H { v.iter().map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec())).collect() }

trait Dec { fn name(&self) -> &'static str; fn fresh(&self, table: usize) -> Box<dyn FnMut(&[u8]) -> Result<H, String>>; }
struct Hc; impl Dec for Hc { fn name(&self) -> &'static str { "hpack_codec 0.1.1" } fn fresh(&self, t: usize) -> Box<dyn FnMut(&[u8]) -> Result<H, String>> { let mut d = hpack_codec::Decoder::new(t as u16); Box::new(move |b| { let mut blk = d.enter_header_block(b).map_err(|e| format!("{e:?}"))?; let mut out = Vec::new(); while let Some(f) = blk.decode_field().map_err(|e| format!("{e:?}"))? { out.push((f.name().to_vec(), f.value().to_vec())); } Ok(out) }) } }
struct Hp; struct Lo; struct Fl; struct Ht;
impl Dec for Hp { fn name(&self) -> &'static str { "hpack 0.3.0" } fn fresh(&self, t: usize) -> Box<dyn FnMut(&[u8]) -> Result<H, String>> { let mut d = hpack::Decoder::new(); d.set_max_table_size(t); Box::new(move |b| d.decode(b).map_err(|e| format!("{e:?}"))) } }
impl Dec for Lo { fn name(&self) -> &'static str { "loona-hpack 0.4.3" } fn fresh(&self, t: usize) -> Box<dyn FnMut(&[u8]) -> Result<H, String>> { let mut d = loona_hpack::Decoder::new(); d.set_max_table_size(t); Box::new(move |b| d.decode(b).map_err(|e| format!("{e:?}"))) } }
impl Dec for Fl { fn name(&self) -> &'static str { "fluke-hpack 0.3.1" } fn fresh(&self, t: usize) -> Box<dyn FnMut(&[u8]) -> Result<H, String>> { let mut d = fluke_hpack::Decoder::new(); d.set_max_table_size(t); Box::new(move |b| d.decode(b).map_err(|e| format!("{e:?}"))) } }
impl Dec for Ht { fn name(&self) -> &'static str { "httlib-hpack 0.1.3" } fn fresh(&self, t: usize) -> Box<dyn FnMut(&[u8]) -> Result<H, String>> { let mut d = httlib_hpack::Decoder::with_dynamic_size(t as u32); Box::new(move |b| { let mut buf = b.to_vec(); let mut dst = Vec::new(); d.decode(&mut buf, &mut dst).map_err(|e| format!("{e:?}"))?; Ok(dst.into_iter().map(|(n, v, _)| (n, v)).collect()) }) } }

fn main() {
    let auth = ("host", "www.example.com");
    let req1 = h(&[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", auth.1)]);
    let mut req2 = req1.clone(); req2.push((b"cache-control".to_vec(), b"no-cache".to_vec()));
    let req3 = h(&[(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", auth.1), ("custom-key", "custom-value")]);
    let r1 = h(&[(":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")]);
    let r2 = h(&[(":status", "307"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")]);
    let r3 = h(&[(":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("location", "https://www.example.com"), ("content-encoding", "gzip"), ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")]);
    let c3 = vec![hx("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), hx("8286 84be 5808 6e6f 2d63 6163 6865"), hx("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65")];
    let c4 = vec![hx("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"), hx("8286 84be 5886 a8eb 1064 9cbf"), hx("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")];
    let c5 = vec![hx("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), hx("4803 3330 37c1 c0bf"), hx("88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31")];
    let c6 = vec![hx("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"), hx("4883 640e ffc1 c0bf"), hx("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07")];
    // extra: size update to 0 then reference to evicted dynamic entry must fail; size update above max must fail
    let decs: Vec<Box<dyn Dec>> = vec![Box::new(Hp), Box::new(Lo), Box::new(Fl), Box::new(Ht), Box::new(Hc)];
    let cases: Vec<(&str, usize, &Vec<Vec<u8>>, Vec<&H>)> = vec![("C.3", 4096, &c3, vec![&req1, &req2, &req3]), ("C.4", 4096, &c4, vec![&req1, &req2, &req3]), ("C.5", 256, &c5, vec![&r1, &r2, &r3]), ("C.6", 256, &c6, vec![&r1, &r2, &r3])];
    for d in &decs {
        let mut line = format!("{:20}", d.name());
        for (name, t, blocks, want) in &cases {
            let mut f = d.fresh(*t);
            let ok = blocks.iter().zip(want).all(|(b, w)| match catch_unwind(AssertUnwindSafe(|| f(b))) { Ok(Ok(got)) => &got == *w, Ok(Err(e)) => { eprintln!("{} {name}: {e}", d.name()); false } Err(_) => false });
            line += &format!(" {name}:{}", if ok { "ok" } else { "FAIL" });
        }
        // unknown dynamic index on a fresh table must be an error
        let mut f = d.fresh(4096);
        let r = catch_unwind(AssertUnwindSafe(|| f(&[0xbe])));
        line += &format!(" unknown-idx:{}", match r { Ok(Err(_)) => "err", Ok(Ok(_)) => "ACCEPTED", Err(_) => "PANIC" });
        // garbage loop
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut rnd = || { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; seed };
        let mut panics = 0; let mut errs = 0;
        let prev = std::panic::take_hook(); std::panic::set_hook(Box::new(|_| {}));
        for _ in 0..200_000 {
            let len = (rnd() % 40) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            if rnd() % 4 == 0 { b.insert(0, 0x3f); }
            let mut f = d.fresh(4096);
            match catch_unwind(AssertUnwindSafe(|| f(&b))) { Err(_) => panics += 1, Ok(Err(_)) => errs += 1, _ => {} }
        }
        // mutated RFC blocks on a persistent decoder (state carried across blocks)
        let all: Vec<Vec<u8>> = c3.iter().chain(&c4).chain(&c5).chain(&c6).cloned().collect();
        let mut f = d.fresh(4096);
        for i in 0..1_000_000u64 {
            let mut b = all[(rnd() % all.len() as u64) as usize].clone();
            for _ in 0..(rnd() % 4) { let p = (rnd() % b.len() as u64) as usize; b[p] ^= 1 << (rnd() % 8); }
            if rnd() % 3 == 0 { let cut = (rnd() % (b.len() as u64 + 1)) as usize; b.truncate(cut); }
            if rnd() % 5 == 0 { b.extend((0..rnd() % 8).map(|_| rnd() as u8)); }
            match catch_unwind(AssertUnwindSafe(|| f(&b))) { Err(_) => { panics += 1; f = d.fresh(4096); } Ok(Err(_)) => { errs += 1; f = d.fresh(4096); } _ => {} }
            let _ = i;
        }
        std::panic::set_hook(prev);
        line += &format!(" garbage: {panics} panics/{errs} errors of 1.2M");
        // speed: one decoder, a block that inserts nothing (static indexes + Huffman literals without indexing)
        let blk = hx("8286 8401 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff0f 2886 a8eb 1064 9cbf 0088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
        let n = 1_000_000; let mut f = d.fresh(4096); let t0 = Instant::now();
        for _ in 0..n { let _ = std::hint::black_box(f(std::hint::black_box(&blk))); }
        let el = t0.elapsed();
        let t1 = Instant::now(); for _ in 0..10_000 { std::hint::black_box(d.fresh(4096)); } let ct = t1.elapsed();
        line += &format!(" speed: {:.0} ns/block ({} B, 5 fields), {:.0} MB/s; new decoder {:.0} ns", el.as_nanos() as f64 / n as f64, blk.len(), (blk.len()*n) as f64 / el.as_secs_f64() / 1e6, ct.as_nanos() as f64/10_000.0);
        println!("{line}");
    }
}
