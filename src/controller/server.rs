//! The admin HTTP server: `/metrics` (Prometheus text), `/healthz`, `/readyz`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::Health;
use super::metrics::Metrics;

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready_handler))
        .with_state(AppState { metrics, health })
}

async fn metrics_handler(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

async fn ready_handler(State(s): State<AppState>) -> impl IntoResponse {
    if s.health.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "watch not synced yet")
    }
}

pub async fn serve(addr: String, metrics: Arc<Metrics>, health: Arc<Health>) {
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot bind the metrics/health address");
            return;
        }
    };
    tracing::info!(%addr, "serving /metrics /healthz /readyz");
    if let Err(e) = axum::serve(listener, router(metrics, health)).await {
        tracing::error!(error = %e, "admin server stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scrape of a served `/metrics`: OpenMetrics content type, the families with HELP and
    /// TYPE lines, and the probes.
    #[tokio::test]
    async fn metrics_and_probes_are_served() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let metrics = Arc::new(Metrics::default());
        metrics
            .policy_ready
            .get_or_create(&super::super::metrics::PolicyLabels { policy: "p".into() })
            .set(1);
        let health = Arc::new(Health::default());
        let server = tokio::spawn(serve(format!("127.0.0.1:{port}"), metrics, health.clone()));
        let base = format!("http://127.0.0.1:{port}");
        let get = |path: &'static str| {
            let url = format!("{base}{path}");
            tokio::task::spawn_blocking(move || {
                for _ in 0..50 {
                    match ureq::get(&url)
                        .config()
                        .http_status_as_error(false)
                        .build()
                        .call()
                    {
                        Ok(mut r) => {
                            let ct = r
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            return (
                                r.status().as_u16(),
                                ct,
                                r.body_mut().read_to_string().unwrap(),
                            );
                        }
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
                    }
                }
                panic!("server did not answer {url}");
            })
        };
        let (code, ct, body) = get("/metrics").await.unwrap();
        assert_eq!(code, 200);
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        assert!(
            body.contains("# TYPE bedrock_logging_policy_ready gauge"),
            "{body}"
        );
        assert!(
            body.contains("# HELP bedrock_logging_policy_ready 1 while"),
            "{body}"
        );
        assert!(
            body.contains("bedrock_logging_policy_ready{policy=\"p\"} 1"),
            "{body}"
        );
        assert!(
            body.contains("bedrock_logging_build_info{version="),
            "{body}"
        );
        assert!(body.trim_end().ends_with("# EOF"), "{body}");
        assert_eq!(get("/healthz").await.unwrap().0, 200);
        assert_eq!(get("/readyz").await.unwrap().0, 503);
        health.ready.store(true, Ordering::SeqCst);
        assert_eq!(get("/readyz").await.unwrap().0, 200);
        server.abort();
    }
}
