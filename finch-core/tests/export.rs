//! The Prometheus exposition and the routes: `/metrics` is valid exposition
//! text holding finch's metrics, `/finch/status` is the loop's JSON status, and
//! operators pin and unpin knobs over HTTP.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use finch_core::export::{PrometheusExporter, router};
use finch_core::{Config, KnobBuilder, Outcome, SloBuilder};
use tower::ServiceExt;

async fn call(app: &axum::Router, method: Method, uri: &str, body: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .expect("a valid request");
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
    let app = router(&finch, exporter);

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
