//! The Prometheus exposition and the routes: `/metrics` is valid exposition
//! text holding finch's metrics, `/finch/status` is the loop's JSON status, and
//! operators pin and unpin knobs over HTTP, with a token and from an allowed
//! Host only; failed pins are errors that change nothing, and a pin whose
//! client disconnects still runs to its end.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use finch_core::export::{OperatorAccess, PrometheusExporter, router};
use finch_core::{ApplyError, Config, Handle, Knob, KnobBuilder, Outcome, SloBuilder};
use tower::ServiceExt;

const TOKEN: &str = "test-token-0123456789abcdef0123456789";
const HOST: &str = "127.0.0.1:9100";

fn access() -> OperatorAccess {
    OperatorAccess::new(TOKEN, [HOST, "localhost"]).expect("valid operator access")
}

/// An exporter that is not the process's recorder (only one test may install that).
fn private_exporter() -> PrometheusExporter {
    PrometheusExporter::from_handle(
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle(),
    )
}

/// A manual loop managing one knob (4, on 1..=16) and no SLO, and its routes.
fn one_knob_loop(name: &str) -> (Arc<Knob<u32>>, Handle, axum::Router) {
    let knob = KnobBuilder::new(name, 4u32)
        .bounds(1, 16)
        .register()
        .expect("a valid knob");
    let finch = finch_core::start(
        Config::default()
            .manual()
            .knobs([name])
            .slos(Vec::<String>::new())
            .process_signals(false),
    )
    .expect("the loop starts");
    let app = router(&finch, private_exporter(), access());
    (knob, finch, app)
}

/// A request as an operator sends it: the token and an allowed Host.
async fn call(app: &axum::Router, method: Method, uri: &str, body: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_string()))
        .expect("a valid request");
    send(app, req).await
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(req)
        .await
        .expect("routes are infallible");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("a body under 1 MiB");
    (
        status,
        String::from_utf8(bytes.to_vec()).expect("a UTF-8 body"),
    )
}

/// `promtool check metrics` on `text`; `None` when promtool is not installed
/// (`.ci/run` installs it and sets `FINCH_REQUIRE_PROMTOOL`).
fn promtool(text: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("FINCH_REQUIRE_PROMTOOL").is_none(),
                "promtool is required but cannot run: {e}"
            );
            eprintln!("promtool not found ({e}); exposition not checked by promtool");
            return None;
        }
    };
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), report))
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_status_and_pins_are_served() {
    let exporter = PrometheusExporter::install().unwrap();
    let workers = KnobBuilder::new("export.workers", 4u32)
        .bounds(1, 16)
        .cost(1.0)
        .doc("worker threads")
        .register()
        .unwrap();
    let slo = SloBuilder::new("export.api")
        .p99(Duration::from_millis(50))
        .errors(0.01)
        .register()
        .unwrap();
    let finch = finch_core::start(
        Config::default()
            .manual()
            .knobs(["export.workers"])
            .slos(["export.api"])
            .process_signals(false),
    )
    .unwrap();
    for _ in 0..3 {
        for i in 0..50u64 {
            slo.record(Duration::from_micros(2_000 + i * 10), Outcome::Ok);
        }
        finch.tick().await.unwrap();
    }
    let app = router(&finch, exporter, access());

    let (code, text) = call(&app, Method::GET, "/metrics", "").await;
    assert_eq!(code, StatusCode::OK);
    for metric in [
        "finch_knob_value{knob=\"export.workers\"}",
        "finch_slo_compliant{slo=\"export.api\"} 1",
        "finch_slo_objective{slo=\"export.api\",sli=\"p99\"} 0.05",
        "finch_sli{slo=\"export.api\",sli=\"p99\"}",
        "finch_loop_duration_seconds",
        "finch_cost",
    ] {
        assert!(text.contains(metric), "`{metric}` missing from:\n{text}");
    }
    if let Some((ok, report)) = promtool(&text) {
        assert!(ok, "promtool rejects the exposition: {report}\n{text}");
    }

    let (code, body) = call(&app, Method::GET, "/finch/status", "").await;
    assert_eq!(code, StatusCode::OK);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["running"], true);
    assert_eq!(status["slos"][0]["name"], "export.api");

    let (code, body) = call(&app, Method::PUT, "/finch/knobs/export.workers/pin", "9").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(workers.get(), 9);
    assert!(
        finch
            .status()
            .knobs
            .iter()
            .any(|k| k.info.name == "export.workers" && k.info.pinned)
    );
    let (code, _) = call(&app, Method::PUT, "/finch/knobs/export.workers/pin", "99").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "out of bounds");
    assert_eq!(workers.get(), 9);
    let (code, _) = call(&app, Method::PUT, "/finch/knobs/nope/pin", "1").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = call(&app, Method::DELETE, "/finch/knobs/export.workers/pin", "").await;
    assert_eq!(code, StatusCode::OK);

    finch.shutdown().await;
    let (_, body) = call(&app, Method::GET, "/finch/status", "").await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["running"], false);
    let (code, _) = call(&app, Method::PUT, "/finch/knobs/export.workers/pin", "3").await;
    assert_eq!(code, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "current_thread")]
async fn operator_routes_refuse_missing_or_wrong_tokens_and_foreign_hosts() {
    let (workers, finch, app) = one_knob_loop("export.guarded");
    let request = |uri: &str, host: Option<&str>, auth: Option<&str>| {
        let mut b = Request::builder().method(Method::PUT).uri(uri);
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(Body::from("1")).unwrap()
    };
    let bearer = format!("Bearer {TOKEN}");
    let almost = format!("Bearer {}x", &TOKEN[..TOKEN.len() - 1]);
    for (host, auth, expected, says) in [
        (
            Some(HOST),
            None,
            StatusCode::UNAUTHORIZED,
            "Authorization: Bearer",
        ),
        (
            Some(HOST),
            Some(almost.as_str()),
            StatusCode::UNAUTHORIZED,
            "token is wrong",
        ),
        (
            Some(HOST),
            Some("Basic dXNlcjpwYXNz"),
            StatusCode::UNAUTHORIZED,
            "Bearer",
        ),
        (
            Some(HOST),
            Some("Bearer "),
            StatusCode::UNAUTHORIZED,
            "token is wrong",
        ),
        // DNS rebinding: the right port, the attacker's name.
        (
            Some("evil.example:9100"),
            Some(bearer.as_str()),
            StatusCode::FORBIDDEN,
            "OperatorAccess::new",
        ),
        (
            Some("127.0.0.1:9101"),
            Some(bearer.as_str()),
            StatusCode::FORBIDDEN,
            "Host",
        ),
        (None, Some(bearer.as_str()), StatusCode::FORBIDDEN, "Host"),
    ] {
        for uri in [
            "/finch/knobs/export.guarded/pin",
            "/finch/status",
            "/metrics",
        ] {
            let (code, body) = send(&app, request(uri, host, auth)).await;
            assert_eq!(code, expected, "{uri} {host:?} {auth:?}: {body}");
            assert!(body.contains(says), "{uri}: `{says}` missing from {body}");
        }
        assert_eq!(workers.get(), 4, "a refused request changed the knob");
    }
    let (code, body) = send(
        &app,
        request(
            "/finch/knobs/export.guarded/pin",
            Some("LOCALHOST:3000"),
            Some(&bearer),
        ),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(workers.get(), 1);
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_pin_is_an_error_and_keeps_the_earlier_pin() {
    let (knob, finch, app) = one_knob_loop("export.refusing");
    knob.set_applier(|v: u32| async move {
        if v == 13 {
            Err(ApplyError::new("13 is unlucky"))
        } else {
            Ok(())
        }
    });
    let (code, body) = call(&app, Method::PUT, "/finch/knobs/export.refusing/pin", "9").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = call(&app, Method::PUT, "/finch/knobs/export.refusing/pin", "13").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("13 is unlucky") && body.contains("keeps 9"),
        "{body}"
    );
    assert_eq!(knob.get(), 9);
    finch.tick().await.unwrap();
    let pinned = finch
        .status()
        .knobs
        .iter()
        .any(|k| k.info.name == "export.refusing" && k.info.pinned);
    assert!(pinned, "the failed pin dropped the earlier one");
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_pin_whose_client_disconnects_still_logs_its_decision() {
    let (knob, finch, app) = one_knob_loop("export.slow");
    knob.set_applier(|_: u32| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    });
    // The client gives up while the applier runs: the request's future is dropped.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        call(&app, Method::PUT, "/finch/knobs/export.slow/pin", "7"),
    )
    .await;
    assert!(
        gave_up.is_err(),
        "the pin finished before the client gave up"
    );
    // The next iteration waits for the engine, which the pin holds until it ends.
    finch.tick().await.unwrap();
    let logged = finch
        .status()
        .decisions
        .iter()
        .any(|d| d.reason == "operator pinned `export.slow` to 7");
    assert!(logged, "no decision logged for the abandoned pin");
    assert_eq!(knob.get(), 7);
    finch.shutdown().await;
}
