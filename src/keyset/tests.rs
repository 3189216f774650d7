//! The cache policy as a state machine, with fixed clocks.

use super::*;

const T0: i64 = 1_800_000_000;

fn source(policy: CachePolicy) -> KeySource {
    KeySource {
        url: "https://idp.example/jwks".into(),
        kind: SourceKind::Jwks,
        owner: KeyOwner::Issuer(0),
        entity_id: None,
        policy,
    }
}

/// A JWK Set of P-256 keys with these kids (distinct points).
fn jwks(kids: &[&str]) -> String {
    // Three fixed points on P-256 (public keys of fixed test scalars).
    const POINTS: [(&str, &str); 3] = [
        (
            "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        ),
        (
            "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
            "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
        ),
        (
            "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        ),
    ];
    let keys: Vec<String> = kids
        .iter()
        .enumerate()
        .map(|(i, kid)| {
            let (x, y) = POINTS[i % POINTS.len()];
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"{kid}","use":"sig"}}"#)
        })
        .collect();
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

fn doc(kids: &[&str], cache_control: Option<&str>, fetched_at: i64) -> FetchResult {
    FetchResult::Document {
        body: jwks(kids),
        cache_control: cache_control.map(str::to_owned),
        fetched_at,
    }
}

fn failed() -> FetchResult {
    FetchResult::Failed {
        error: "HTTP 503".into(),
    }
}

fn kid(k: &'static str) -> impl Fn(&FetchedKeys) -> bool {
    move |set| set.has_kid(k)
}

fn any(_: &FetchedKeys) -> bool {
    true
}

#[test]
fn first_use_fetches_then_serves_for_max_age_clamped() {
    let policy = CachePolicy::default();
    let src = source(policy);
    let mut state = SourceState::default();
    assert!(matches!(
        state.lookup(&policy, T0, any, true),
        Lookup::Fetch(FetchWhy::FirstUse)
    ));
    let report = state.record(0, &src, doc(&["a"], Some("public, max-age=600"), T0), T0);
    assert!(report.accepted);
    assert_eq!(report.keys, 1);
    assert_eq!(report.fresh_until, Some(T0 + 600));
    assert_eq!(report.stale_until, Some(T0 + 600 + 86_400));
    assert!(matches!(
        state.lookup(&policy, T0 + 599, any, true),
        Lookup::Use { stale: false, .. }
    ));
    assert!(matches!(
        state.lookup(&policy, T0 + 600, any, true),
        Lookup::Fetch(FetchWhy::Expired)
    ));
    // max-age below the floor and above the ceiling are clamped; none,
    // no-cache and no-store count as the floor.
    for (header, ttl) in [
        (Some("max-age=5"), 300),
        (Some("max-age=99999999999999999999"), 86_400),
        (None, 300),
        (Some("no-store"), 300),
        (Some("max-age=1000, no-cache"), 300),
        (Some("s-maxage=9000"), 300),
        (Some("max-age=\"700\""), 700),
        (Some("max-age=-5"), 300),
    ] {
        let mut state = SourceState::default();
        let report = state.record(0, &src, doc(&["a"], header, T0), T0);
        assert_eq!(report.fresh_until, Some(T0 + ttl), "{header:?}");
    }
}

#[test]
fn an_unknown_kid_refetches_once_per_cooldown() {
    let policy = CachePolicy::default();
    let src = source(policy);
    let mut state = SourceState::default();
    state.record(0, &src, doc(&["a"], Some("max-age=3600"), T0), T0);
    // A known kid never fetches.
    assert!(matches!(
        state.lookup(&policy, T0 + 40, kid("a"), true),
        Lookup::Use { .. }
    ));
    // An unknown one does, once the cooldown since the last fetch is over.
    assert!(matches!(
        state.lookup(&policy, T0 + 10, kid("b"), true),
        Lookup::Use { .. }
    ));
    assert!(matches!(
        state.lookup(&policy, T0 + 40, kid("b"), true),
        Lookup::Fetch(FetchWhy::UnknownKid)
    ));
    // The IdP rotated: the new set has b; the old generation stays
    // resolvable (a check made just before still finds its key).
    let before = state.current().unwrap().generation;
    let report = state.record(
        0,
        &src,
        doc(&["b", "a"], Some("max-age=3600"), T0 + 40),
        T0 + 40,
    );
    assert!(report.accepted);
    let after = state.current().unwrap().generation;
    assert_ne!(before, after);
    assert!(state.generation(before).is_some());
    assert!(matches!(
        state.lookup(&policy, T0 + 41, kid("b"), true),
        Lookup::Use { .. }
    ));
    // Still unknown after the refetch: no second fetch within the cooldown
    // (the assertion is then refused on its signature, not fetched again).
    assert!(matches!(
        state.lookup(&policy, T0 + 41, kid("zzz"), true),
        Lookup::Use { .. }
    ));
    assert!(matches!(
        state.lookup(&policy, T0 + 70, kid("zzz"), true),
        Lookup::Fetch(FetchWhy::UnknownKid)
    ));
    // A request that had its fetch never asks again.
    assert!(matches!(
        state.lookup(&policy, T0 + 70, kid("zzz"), false),
        Lookup::Use { .. }
    ));
}

#[test]
fn the_same_keys_keep_their_generation() {
    let policy = CachePolicy::default();
    let src = source(policy);
    let mut state = SourceState::default();
    state.record(0, &src, doc(&["a", "b"], None, T0), T0);
    let g = state.current().unwrap().generation;
    state.record(0, &src, doc(&["a", "b"], None, T0 + 400), T0 + 400);
    assert_eq!(state.current().unwrap().generation, g);
    assert_eq!(state.current().unwrap().fresh_until, T0 + 700);
}

#[test]
fn failures_keep_the_last_good_set_until_max_stale_then_unavailable() {
    let policy = CachePolicy {
        max_stale_secs: 1000,
        failure_cache_secs: 30,
        ..CachePolicy::default()
    };
    let src = source(policy);
    let mut state = SourceState::default();
    state.record(0, &src, doc(&["a"], Some("max-age=300"), T0), T0);
    let expired = T0 + 300;
    assert!(matches!(
        state.lookup(&policy, expired, any, true),
        Lookup::Fetch(FetchWhy::Expired)
    ));
    let report = state.record(0, &src, failed(), expired);
    assert!(!report.accepted);
    assert_eq!(report.error.as_deref(), Some("HTTP 503"));
    assert_eq!(report.keys, 1, "the last good set still serves");
    // While the failure is remembered: no fetch, the stale set serves.
    assert!(matches!(
        state.lookup(&policy, expired + 10, any, true),
        Lookup::Use { stale: true, .. }
    ));
    // After failure_cache_secs: fetch again.
    assert!(matches!(
        state.lookup(&policy, expired + 30, any, true),
        Lookup::Fetch(FetchWhy::Expired)
    ));
    // Past max_stale: nothing usable, 503 with Retry-After.
    state.record(0, &src, failed(), T0 + 300 + 990);
    match state.lookup(&policy, T0 + 300 + 1000, any, true) {
        Lookup::Unavailable { retry_after, error } => {
            assert_eq!(retry_after, 20);
            assert_eq!(error.as_deref(), Some("HTTP 503"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn never_fetched_and_failing_is_unavailable_not_a_loop() {
    let policy = CachePolicy::default();
    let src = source(policy);
    let mut state = SourceState::default();
    state.record(0, &src, failed(), T0);
    match state.lookup(&policy, T0, any, true) {
        Lookup::Unavailable { retry_after, .. } => assert_eq!(retry_after, 30),
        other => panic!("{other:?}"),
    }
    // With failures not remembered, a request that had its fetch still
    // stops: Unavailable, never a second fetch.
    let policy = CachePolicy {
        failure_cache_secs: 0,
        ..policy
    };
    let src = source(policy);
    let mut state = SourceState::default();
    state.record(0, &src, failed(), T0);
    assert!(matches!(
        state.lookup(&policy, T0, any, false),
        Lookup::Unavailable { retry_after: 1, .. }
    ));
}

#[test]
fn garbage_oversized_and_keyless_documents_keep_the_last_good_set() {
    let policy = CachePolicy::default();
    let src = source(policy);
    let mut state = SourceState::default();
    state.record(0, &src, doc(&["a"], None, T0), T0);
    let g = state.current().unwrap().generation;
    let huge = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(70_000));
    for (body, error) in [
        ("<html>Service Unavailable</html>", "not JSON"),
        (r#"{"keys":"nope"}"#, "not a JWK Set"),
        (r#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#, "no usable key"),
        (huge.as_str(), "larger than 65536 bytes"),
    ] {
        let report = state.record(
            0,
            &src,
            FetchResult::Document {
                body: body.into(),
                cache_control: None,
                fetched_at: T0 + 400,
            },
            T0 + 400,
        );
        assert!(!report.accepted, "{body:.40}");
        assert!(
            report.error.as_deref().unwrap().starts_with(error),
            "{report:?}"
        );
        assert_eq!(state.current().unwrap().generation, g);
    }
}

#[test]
fn an_older_copy_never_replaces_a_newer_set() {
    let policy = CachePolicy::default();
    let src = source(policy);
    let mut state = SourceState::default();
    state.record(0, &src, doc(&["new"], None, T0 + 100), T0 + 100);
    state.record(0, &src, doc(&["old"], None, T0), T0 + 101);
    assert!(state.current().unwrap().has_kid("new"));
    // A fetch time in the future is taken as now.
    let mut state = SourceState::default();
    state.record(0, &src, doc(&["a"], None, T0 + 5000), T0);
    assert_eq!(state.current().unwrap().fetched_at, T0);
}

#[test]
fn lenient_jwks_skips_what_it_cannot_use_with_why() {
    let (x, y) = (
        "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    );
    let body = format!(
        r#"{{"keys":[
        {{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"good"}},
        {{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"enc","use":"enc"}},
        {{"kty":"EC","crv":"P-384","x":"{x}","y":"{y}","kid":"p384"}},
        {{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"ed"}},
        {{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":"{x}","kid":"priv"}},
        {{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"ops","key_ops":["encrypt"]}},
        {{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"hs","alg":"HS256"}},
        {{"kty":"EC","crv":"P-256","x":"{y}","y":"{x}","kid":"offcurve"}},
        {{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"copy"}},
        "not an object"
    ]}}"#
    );
    let (keys, skipped) = parse_fetched_jwks(&body).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid(), Some("good"));
    let whys: Vec<&str> = skipped.iter().map(|s| s.why).collect();
    assert_eq!(
        whys,
        [
            "use",
            "crv",
            "kty",
            "private",
            "key_ops",
            "alg",
            "key",
            "duplicate",
            "key"
        ]
    );
    assert_eq!(skipped[0].index, Some(1));
    assert_eq!(skipped[0].kid.as_deref(), Some("enc"));
}

#[test]
fn max_age_parsing() {
    assert_eq!(max_age("max-age=60"), Some(60));
    assert_eq!(max_age("public,MAX-AGE=60 , must-revalidate"), Some(60));
    assert_eq!(max_age("private"), None);
    assert_eq!(max_age("max-age="), None);
    assert_eq!(max_age("max-age=1e3"), None);
    assert_eq!(max_age("no-cache"), Some(0));
}
