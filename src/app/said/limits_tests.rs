//! Tests of [`super::rate_limit`], [`super::window`] and [`super::window_words`].

use super::*;

use crate::app::said::rate_headers as headers;

#[test]
fn retry_after_is_seconds_or_a_date() {
    let mut h = headers(&[]);
    h.retry_after = Some("120".into());
    assert_eq!(rate_limit(&h, None).retry_after_secs, Some(120));
    // 1994-11-06 08:49:37 UTC = 784111777.
    h.retry_after = Some("Sun, 06 Nov 1994 08:49:37 GMT".into());
    assert_eq!(
        rate_limit(&h, Some(784_111_777 - 90)).retry_after_secs,
        Some(90)
    );
    assert_eq!(
        rate_limit(&h, Some(784_111_777 + 5)).retry_after_secs,
        Some(0)
    );
    // A date cannot be made seconds without the response's time.
    assert_eq!(rate_limit(&h, None).retry_after_secs, None);
    // RFC 850 and asctime forms are HTTP-dates too.
    h.retry_after = Some("Sunday, 06-Nov-94 08:49:37 GMT".into());
    assert_eq!(rate_limit(&h, Some(784_111_777)).retry_after_secs, Some(0));
    for junk in ["soon", "-5", "", "1e9", "99999999999999999999999"] {
        h.retry_after = Some(junk.into());
        assert_eq!(rate_limit(&h, Some(1)).retry_after_secs, None, "{junk}");
    }
}

#[test]
fn separate_ietf_fields_and_their_policy() {
    let h = headers(&[
        ("RateLimit-Limit", "10"),
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Reset", "7"),
        ("RateLimit-Policy", "10, 10;w=1, 1000;w=3600"),
    ]);
    let r = rate_limit(&h, None);
    assert_eq!(
        (r.limit, r.remaining, r.reset_secs, r.window_secs),
        (Some(10), Some(0), Some(7), Some(1))
    );
    let w = window(&h).unwrap();
    assert_eq!(w.quote, "RateLimit-Policy: 10, 10;w=1, 1000;w=3600");
}

#[test]
fn draft_07_structured_field() {
    let h = headers(&[
        ("RateLimit", "limit=1000, remaining=0, reset=3000"),
        ("RateLimit-Policy", "1000;w=86400"),
    ]);
    let r = rate_limit(&h, None);
    assert_eq!(
        (r.limit, r.remaining, r.reset_secs, r.window_secs),
        (Some(1000), Some(0), Some(3000), Some(86_400))
    );
}

#[test]
fn draft_08_names_its_policy() {
    let h = headers(&[
        (
            "RateLimit-Policy",
            "\"burst\";q=100;w=60, \"daily\";q=1000;w=86400",
        ),
        ("RateLimit", "\"daily\";r=0;t=500"),
    ]);
    let r = rate_limit(&h, None);
    assert_eq!(
        (r.limit, r.remaining, r.reset_secs, r.window_secs),
        (Some(1000), Some(0), Some(500), Some(86_400))
    );
}

#[test]
fn x_ratelimit_reset_may_be_epoch_or_delta() {
    let now = 1_700_000_000;
    let h = headers(&[
        ("X-RateLimit-Limit", "60"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "1700000042"),
    ]);
    let r = rate_limit(&h, Some(now));
    assert_eq!(
        (r.limit, r.remaining, r.reset_secs),
        (Some(60), Some(0), Some(42))
    );
    assert_eq!(rate_limit(&h, None).reset_secs, None);
    let ms = headers(&[("X-RateLimit-Reset", "1700000042000")]);
    assert_eq!(rate_limit(&ms, Some(now)).reset_secs, Some(42));
    let delta = headers(&[("X-RateLimit-Reset", "30")]);
    assert_eq!(rate_limit(&delta, Some(now)).reset_secs, Some(30));
    let past = headers(&[("X-RateLimit-Reset", "1600000000")]);
    assert_eq!(rate_limit(&past, Some(now)).reset_secs, Some(0));
    // Discord's fractional epoch.
    let frac = headers(&[("X-RateLimit-Reset", "1700000041.2")]);
    assert_eq!(rate_limit(&frac, Some(now)).reset_secs, Some(42));
}

#[test]
fn kong_names_the_window_that_refused() {
    let h = headers(&[
        ("X-RateLimit-Limit-Minute", "5"),
        ("X-RateLimit-Remaining-Minute", "3"),
        ("X-RateLimit-Limit-Day", "100"),
        ("X-RateLimit-Remaining-Day", "0"),
    ]);
    let r = rate_limit(&h, None);
    assert_eq!(
        (r.limit, r.remaining, r.window_secs),
        (Some(100), Some(0), Some(86_400))
    );
    assert_eq!(window(&h).unwrap().quote, "X-RateLimit-Remaining-Day: 0");
    let minute = headers(&[
        ("X-RateLimit-Limit-Minute", "5"),
        ("X-RateLimit-Remaining-Minute", "0"),
        ("X-RateLimit-Limit-Hour", "100"),
        ("X-RateLimit-Remaining-Hour", "40"),
    ]);
    assert_eq!(rate_limit(&minute, None).window_secs, Some(60));
    // Nothing exhausted: the shortest window is the one that binds first.
    let none = headers(&[
        ("X-RateLimit-Limit-Hour", "100"),
        ("X-RateLimit-Limit-Second", "2"),
    ]);
    assert_eq!(rate_limit(&none, None).window_secs, Some(1));
}

#[test]
fn window_headers_and_parameters() {
    let h = headers(&[("X-RateLimit-Limit", "10, 10;w=60")]);
    let r = rate_limit(&h, None);
    assert_eq!((r.limit, r.window_secs), (Some(10), Some(60)));
    for (v, secs) in [("3600", 3600), ("1h", 3600), ("1 day", 86_400), ("90s", 90)] {
        let h = headers(&[("X-RateLimit-Window", v)]);
        assert_eq!(rate_limit(&h, None).window_secs, Some(secs), "{v}");
    }
    let twitter = headers(&[("x-rate-limit-remaining", "0")]);
    assert_eq!(rate_limit(&twitter, None).remaining, Some(0));
}

#[test]
fn garbage_is_ignored_without_panic_or_overflow() {
    let h = headers(&[
        ("X-RateLimit-Limit", "lots"),
        ("X-RateLimit-Remaining", "-1"),
        ("X-RateLimit-Reset", "18446744073709551616"),
        ("X-RateLimit-Window", "18446744073709551615d"),
        ("RateLimit-Policy", ";;,,;w=;q=\"\",\"\""),
        ("RateLimit", "\"\";r=x;t=1.5.5, limit"),
        ("X-RateLimit-Limit-Fortnight", "3"),
        ("X-RateLimit-Remaining-Minute", "18446744073709551615.5"),
    ]);
    let r = rate_limit(&h, Some(u64::MAX));
    assert_eq!(r.limit, None);
    assert_eq!(r.remaining, None);
    assert_eq!(r.reset_secs, None);
    assert_eq!(
        rate_limit(&FailureHeaders::default(), None),
        RateLimit::default()
    );
}

#[test]
fn windows_named_in_words() {
    assert_eq!(window_words("100 requests per minute"), Some(60));
    assert_eq!(window_words("Daily limit exceeded"), Some(86_400));
    assert_eq!(window_words("monthly quota used up"), Some(2_592_000));
    assert_eq!(window_words("limit 'Queries per day'"), Some(86_400));
    assert_eq!(
        window_words("GenerateRequestsPerDayPerProjectPerModel"),
        Some(86_400)
    );
    assert_eq!(
        window_words("policy user over ratelimit,limit:10,time:1 minute"),
        Some(60)
    );
    assert_eq!(window_words("at most 5 per 10 seconds"), Some(10));
    assert_eq!(window_words("rate limit exceeded"), None);
    // "per" that is not about time.
    assert_eq!(window_words("limit per user exceeded"), None);
    assert_eq!(window_words("time:0 minute"), None);
    assert_eq!(window_words("per 99999999999999999999 days"), None);
    assert_eq!(window_words(""), None);
}

proptest::proptest! {
    /// Any header values and any text: no panic, no overflow.
    #[test]
    fn any_values_are_read_without_panic(
        values in proptest::collection::vec("\\PC{0,40}", 0..8),
        retry in "\\PC{0,40}",
        now in proptest::option::of(proptest::num::u64::ANY),
    ) {
        let names = [
            "RateLimit", "RateLimit-Policy", "RateLimit-Reset", "X-RateLimit-Reset",
            "X-RateLimit-Limit", "X-RateLimit-Remaining-Day", "X-RateLimit-Window",
            "X-RateLimit-Limit-Minute",
        ];
        let pairs: Vec<(&str, &str)> =
            names.iter().copied().zip(values.iter().map(String::as_str)).collect();
        let mut h = headers(&pairs);
        h.retry_after = Some(retry.clone());
        let _ = rate_limit(&h, now);
        let _ = window_words(&retry);
    }
}
