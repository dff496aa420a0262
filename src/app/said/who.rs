//! Who answered a failed request: a proxy or gateway, or the application behind it, as far as
//! the response's headers and body tell ([`Answerer`]).
//!
//! In order of weight:
//! 1. a proxy's own default error page (the proxy wrote the body);
//! 2. a header saying the upstream answered through the proxy (Envoy's
//!    `x-envoy-upstream-service-time`, Kong's `X-Kong-Upstream-Latency`, APIG's
//!    `X-Apig-Upstream-Latency`): the application answered, whatever else names the proxy;
//! 3. vendor headers of gateways, CDNs and caches, `Via`, and `Server` software that is only
//!    ever a proxy, load balancer or gateway: a gateway answered;
//! 4. `Server` software that often fronts an application but may serve it itself (nginx,
//!    Apache, Caddy, OpenResty): maybe a gateway.

use super::{Answerer, DefaultPage, Role, ServerSaid};
use crate::app::http::FailureHeaders;

/// `Server` (or `Via`) software that is only ever a proxy, load balancer, CDN or gateway:
/// (lowercase needle, product).
const GATEWAYS: &[(&str, &str)] = &[
    ("envoy", "Envoy"),
    ("istio", "Istio"),
    ("haproxy", "HAProxy"),
    ("awselb", "AWS ELB"),
    ("elb", "AWS ELB"),
    ("cloudfront", "CloudFront"),
    ("cloudflare", "Cloudflare"),
    ("kong", "Kong"),
    ("apigateway", "API Gateway"),
    ("api gateway", "API Gateway"),
    ("traefik", "Traefik"),
    ("varnish", "Varnish"),
    ("akamai", "Akamai"),
    ("gfe", "Google Front End"),
];
/// Web servers that often run as reverse proxies in front of an application but may serve the
/// resource themselves.
const WEB_SERVERS: &[(&str, &str)] = &[
    ("openresty", "OpenResty"),
    ("nginx", "nginx"),
    ("apache", "Apache"),
    ("caddy", "Caddy"),
];

/// Who answered, from the response's headers and what was read of its body.
pub fn who_answered(headers: Option<&FailureHeaders>, said: Option<&ServerSaid>) -> Answerer {
    let mut out = Answerer {
        role: Role::Application,
        product: None,
        because: Vec::new(),
    };
    let page = said.and_then(|s| s.page.as_ref());
    if let Some(page) = page {
        let (role, product) = page_product(page);
        gateway(
            &mut out,
            role,
            Some(product),
            format!("{product} default error page"),
        );
    }
    let Some(h) = headers else {
        return out;
    };
    let vendor = |name: &str| {
        h.vendor
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let has_prefix = |prefix: &str| {
        h.vendor.iter().find(|(n, _)| {
            n.len() >= prefix.len()
                && n.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        })
    };
    // The upstream answered through the proxy.
    let through = [
        ("x-envoy-upstream-service-time", "Envoy"),
        ("x-kong-upstream-latency", "Kong"),
        ("x-apig-upstream-latency", "APIG"),
    ]
    .into_iter()
    .find_map(|(name, product)| vendor(name).map(|v| (name, v, product)));
    if let Some((name, v, product)) = through {
        out.product = out.product.or(Some(product));
        out.because.push(format!(
            "{name}: {v} (the upstream answered, through {product})"
        ));
    }

    if let Some(kind) = h.amzn_error_type.as_deref() {
        let product = match vendor("x-amz-apigw-id") {
            Some(_) => "AWS API Gateway",
            None => "AWS",
        };
        gateway(
            &mut out,
            Role::Gateway,
            Some(product),
            format!("x-amzn-ErrorType: {kind}"),
        );
    }
    if let Some(id) = vendor("x-amz-apigw-id") {
        gateway(
            &mut out,
            Role::Gateway,
            Some("AWS API Gateway"),
            format!("x-amz-apigw-id: {id}"),
        );
    }
    let signs: [(&str, Option<&'static str>); 7] = [
        ("x-envoy-", Some("Envoy")),
        ("x-kong-", Some("Kong")),
        ("x-apig-", Some("APIG")),
        ("cf-ray", Some("Cloudflare")),
        ("x-amz-cf-", Some("CloudFront")),
        ("x-azure-ref", Some("Azure Front Door")),
        ("x-akamai-", Some("Akamai")),
    ];
    for (prefix, product) in signs {
        if through.is_some_and(|(_, _, p)| Some(p) == product) {
            continue;
        }
        if let Some((n, v)) = has_prefix(prefix) {
            gateway(&mut out, Role::Gateway, product, format!("{n}: {v}"));
        }
    }
    if let Some((n, v)) = has_prefix("x-cache") {
        let product = v
            .to_ascii_lowercase()
            .contains("cloudfront")
            .then_some("CloudFront");
        gateway(
            &mut out,
            Role::Gateway,
            product,
            format!("{n}: {v} (a cache or CDN)"),
        );
    }
    if let Some(v) = vendor("x-served-by").filter(|v| v.starts_with("cache-")) {
        gateway(
            &mut out,
            Role::Gateway,
            Some("Fastly"),
            format!("X-Served-By: {v}"),
        );
    }
    if let Some(via) = h.via.as_deref() {
        let product = named(via, GATEWAYS).or_else(|| named(via, WEB_SERVERS));
        gateway(&mut out, Role::Gateway, product, format!("Via: {via}"));
    }
    if let Some(server) = h.server.as_deref() {
        if let Some(p) = named(server, GATEWAYS) {
            gateway(
                &mut out,
                Role::Gateway,
                Some(p),
                format!("Server: {server}"),
            );
        } else if let Some(p) = named(server, WEB_SERVERS) {
            gateway(
                &mut out,
                Role::MaybeGateway,
                Some(p),
                format!("Server: {server}"),
            );
        }
    }
    // The upstream's own answer outweighs the headers that only say a proxy was on the way,
    // not the proxy's own page.
    let proxy_page = page.is_some_and(|p| page_product(p).0 == Role::Gateway);
    if through.is_some() && !proxy_page {
        out.role = Role::Application;
    }
    out
}

/// [`who_answered`] for a response of status `status`: a 502 or 504 written by a web server
/// (its own default page: nginx, Apache) is a proxy's answer by definition (RFC 9110 15.6.3,
/// 15.6.5): it is a gateway, not maybe one.
pub fn who_answered_at(
    status: u16,
    headers: Option<&FailureHeaders>,
    said: Option<&ServerSaid>,
) -> Answerer {
    let mut out = who_answered(headers, said);
    let own_page = said
        .and_then(|s| s.page.as_ref())
        .is_some_and(|p| matches!(p, DefaultPage::Nginx | DefaultPage::Apache));
    if out.role == Role::MaybeGateway && own_page && matches!(status, 502 | 504) {
        out.role = Role::Gateway;
        out.because
            .push(format!("a {status} on its own page is a proxy's answer"));
    }
    out
}

/// The role and product a default page says.
fn page_product(page: &DefaultPage) -> (Role, &'static str) {
    match page {
        DefaultPage::Nginx => (Role::MaybeGateway, "nginx"),
        DefaultPage::Apache => (Role::MaybeGateway, "Apache"),
        DefaultPage::Haproxy => (Role::Gateway, "HAProxy"),
        DefaultPage::Envoy { .. } => (Role::Gateway, "Envoy"),
        DefaultPage::Cloudflare { .. } => (Role::Gateway, "Cloudflare"),
        DefaultPage::Other(name) => (Role::Gateway, name),
    }
}

/// Records one sign of a proxy: the stronger role wins, the first product named stays.
fn gateway(out: &mut Answerer, role: Role, product: Option<&'static str>, why: String) {
    if role_rank(role) > role_rank(out.role) {
        out.role = role;
    }
    if out.product.is_none() {
        out.product = product;
    }
    out.because.push(why);
}

fn role_rank(role: Role) -> u8 {
    match role {
        Role::Gateway => 2,
        Role::MaybeGateway => 1,
        _ => 0,
    }
}

/// The product a `Server` or `Via` value names from `list`.
fn named(value: &str, list: &[(&str, &'static str)]) -> Option<&'static str> {
    let lower = value.to_ascii_lowercase();
    list.iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|(_, product)| *product)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::said::Shape;

    fn headers(server: Option<&str>, vendor: &[(&str, &str)]) -> FailureHeaders {
        FailureHeaders {
            server: server.map(str::to_string),
            vendor: vendor
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..FailureHeaders::default()
        }
    }

    fn page(p: DefaultPage) -> ServerSaid {
        let mut s = ServerSaid::new(Shape::Html);
        s.page = Some(p);
        s
    }

    #[test]
    fn nothing_said_is_the_application() {
        let a = who_answered(None, None);
        assert_eq!((a.role, a.product), (Role::Application, None));
        assert!(a.because.is_empty());
        let a = who_answered(
            Some(&headers(Some("gunicorn"), &[("x-request-id", "1")])),
            None,
        );
        assert_eq!(a.role, Role::Application);
    }

    #[test]
    fn server_names_keep_the_old_lists() {
        for (server, role, product) in [
            ("envoy", Role::Gateway, "Envoy"),
            ("awselb/2.0", Role::Gateway, "AWS ELB"),
            ("cloudflare", Role::Gateway, "Cloudflare"),
            ("AmazonS3 API Gateway", Role::Gateway, "API Gateway"),
            ("nginx/1.25.3", Role::MaybeGateway, "nginx"),
            ("openresty", Role::MaybeGateway, "OpenResty"),
            ("Apache/2.4.58 (Debian)", Role::MaybeGateway, "Apache"),
        ] {
            let a = who_answered(Some(&headers(Some(server), &[])), None);
            assert_eq!((a.role, a.product), (role, Some(product)), "{server}");
            assert_eq!(a.because, vec![format!("Server: {server}")]);
        }
    }

    #[test]
    fn via_says_a_proxy() {
        let mut h = headers(Some("gunicorn"), &[]);
        h.via = Some("1.1 varnish (Varnish/7.4)".into());
        let a = who_answered(Some(&h), None);
        assert_eq!((a.role, a.product), (Role::Gateway, Some("Varnish")));
    }

    #[test]
    fn default_pages() {
        let a = who_answered(None, Some(&page(DefaultPage::Envoy { reason: None })));
        assert_eq!((a.role, a.product), (Role::Gateway, Some("Envoy")));
        assert_eq!(a.because, vec!["Envoy default error page".to_string()]);
        let nginx = page(DefaultPage::Nginx);
        assert_eq!(who_answered(None, Some(&nginx)).role, Role::MaybeGateway);
        // nginx's own 502/504 page: nginx was a proxy whose upstream failed.
        let a = who_answered_at(502, None, Some(&nginx));
        assert_eq!((a.role, a.product), (Role::Gateway, Some("nginx")));
        assert_eq!(
            who_answered_at(404, None, Some(&nginx)).role,
            Role::MaybeGateway
        );
        // Server: nginx over the application's JSON 502 stays maybe.
        let h = headers(Some("nginx"), &[]);
        let json = ServerSaid::new(Shape::ErrorObject);
        assert_eq!(
            who_answered_at(502, Some(&h), Some(&json)).role,
            Role::MaybeGateway
        );
    }

    #[test]
    fn vendor_headers_name_gateways() {
        let mut aws = headers(
            None,
            &[("x-amzn-RequestId", "r1"), ("x-amz-apigw-id", "abc=")],
        );
        aws.amzn_error_type = Some("ForbiddenException".into());
        let a = who_answered(Some(&aws), None);
        assert_eq!(
            (a.role, a.product),
            (Role::Gateway, Some("AWS API Gateway"))
        );
        assert!(
            a.because
                .contains(&"x-amzn-ErrorType: ForbiddenException".to_string())
        );
        let mut svc = headers(None, &[("x-amzn-RequestId", "r1")]);
        svc.amzn_error_type = Some("ThrottlingException".into());
        assert_eq!(who_answered(Some(&svc), None).product, Some("AWS"));
        for (name, product) in [
            ("cf-ray", "Cloudflare"),
            ("X-Kong-Response-Latency", "Kong"),
            ("X-Apig-Latency", "APIG"),
            ("x-envoy-overloaded", "Envoy"),
            ("X-Amz-Cf-Id", "CloudFront"),
        ] {
            let a = who_answered(Some(&headers(None, &[(name, "1")])), None);
            assert_eq!(
                (a.role, a.product),
                (Role::Gateway, Some(product)),
                "{name}"
            );
        }
        let cache = headers(None, &[("X-Cache", "Error from cloudfront")]);
        let a = who_answered(Some(&cache), None);
        assert_eq!((a.role, a.product), (Role::Gateway, Some("CloudFront")));
    }

    #[test]
    fn upstream_answered_through_the_proxy() {
        let h = headers(Some("envoy"), &[("x-envoy-upstream-service-time", "12")]);
        let a = who_answered(Some(&h), None);
        assert_eq!((a.role, a.product), (Role::Application, Some("Envoy")));
        assert!(
            a.because.contains(
                &"x-envoy-upstream-service-time: 12 (the upstream answered, through Envoy)"
                    .to_string()
            ),
            "{:?}",
            a.because
        );
        let kong = headers(
            Some("kong/3.4.0"),
            &[
                ("X-Kong-Upstream-Latency", "3"),
                ("X-Kong-Proxy-Latency", "1"),
            ],
        );
        assert_eq!(who_answered(Some(&kong), None).role, Role::Application);
        // Kong answered itself (its rate-limiting plugin, an unknown route).
        let kong_own = headers(Some("kong/3.4.0"), &[("X-Kong-Response-Latency", "0")]);
        assert_eq!(who_answered(Some(&kong_own), None).role, Role::Gateway);
        // A proxy's own page outweighs: the proxy wrote this body.
        let envoy_page = page(DefaultPage::Envoy { reason: None });
        assert_eq!(
            who_answered(Some(&h), Some(&envoy_page)).role,
            Role::Gateway
        );
    }
}
