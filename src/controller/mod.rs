//! `bedrock-logging-operator run`: the Kubernetes controller over cluster-scoped
//! `BedrockLoggingPolicy` objects, one shared [`Context`], metrics and probes, leader election.

pub mod conflicts;
pub mod events;
pub mod leader;
pub mod metrics;
pub mod rbac;
pub mod reconcile;
pub mod reports;
pub mod server;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client};

use crate::api::BedrockLoggingPolicy;
use crate::cli::AwsArgs;
use crate::cloud::CloudFactory;
use crate::cloud::sdk::{SdkCloudFactory, SdkOptions};
use crate::engine::EngineOptions;
use metrics::{Metrics, MetricsObserver};

pub const FINALIZER: &str = "bedrocklogging.io/finalizer";
pub const FIELD_MANAGER: &str = "bedrock-logging-operator";

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Address serving /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8080", env = "BLO_HTTP_ADDR")]
    pub http_addr: String,
    /// Hold a Lease before reconciling (required with more than one replica).
    #[arg(long)]
    pub leader_elect: bool,
    #[arg(long, default_value = "bedrock-logging-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (default: $POD_NAMESPACE, else "default").
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Only reconcile policies matching this label selector (sharding across deployments).
    #[arg(long)]
    pub selector: Option<String>,
    /// Policies reconciled in parallel.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u16,
    #[arg(long, value_parser = ["json", "text"], default_value = "text", env = "BLO_LOG_FORMAT")]
    pub log_format: String,
    #[arg(long, default_value = "info", env = "BLO_LOG_LEVEL")]
    pub log_level: String,
    /// Compliance reports as Kubernetes objects: OpenReports ClusterReport, wgpolicyk8s.io
    /// ClusterPolicyReport, none, or auto (whichever CRD is installed, OpenReports first).
    #[arg(long, value_enum, default_value_t = reports::ReportsMode::Auto, env = "BLO_REPORTS")]
    pub reports: reports::ReportsMode,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub factory: Arc<dyn CloudFactory>,
    pub recorder: Option<Recorder>,
    pub metrics: Arc<Metrics>,
    pub engine: EngineOptions,
    /// The controller's cache of all policies (conflict detection).
    pub store: Option<Store<BedrockLoggingPolicy>>,
    /// Used instead of `store` in tests.
    pub known_policies: Vec<BedrockLoggingPolicy>,
    /// Consecutive failures per policy (backoff).
    pub attempts: Mutex<HashMap<String, u32>>,
    /// When each policy's next full pass is due, for the generation it last ran at. Watch events
    /// that change no spec (our own status writes, labels) before that do not re-read AWS.
    pub due: Mutex<HashMap<String, (Option<i64>, std::time::Instant)>>,
    /// The operator's own account (STS, resolved once): the account of policies without a role.
    pub operator_account: tokio::sync::OnceCell<String>,
    /// Per policy: the permission-propagation window (see [`reconcile::PermissionClock`]).
    pub permission_clock: Mutex<HashMap<String, reconcile::PermissionClock>>,
    /// The compliance-report kind written (None: reports off or no report CRD installed).
    pub reports: Option<reports::ReportKind>,
    /// Per policy: a fingerprint of the report last written (written again only on change).
    pub reports_written: Mutex<HashMap<String, u64>>,
}

/// Readiness: the watch has synced, or this replica is standing by for the lease.
#[derive(Default)]
pub struct Health {
    pub ready: AtomicBool,
}

fn init_tracing(args: &RunArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if args.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub async fn run(args: RunArgs) -> ExitCode {
    init_tracing(&args);
    let client = match Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot reach the Kubernetes API (KUBECONFIG / in-cluster config)");
            return ExitCode::from(2);
        }
    };
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let addr = args.http_addr.clone();
    let server = tokio::spawn(server::serve(addr, metrics.clone(), health.clone()));

    if args.leader_elect {
        let identity =
            std::env::var("POD_NAME").unwrap_or_else(|_| format!("blo-{}", std::process::id()));
        let cfg = leader::LeaseConfig {
            name: args.lease_name.clone(),
            namespace: args
                .lease_namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            identity,
            duration: Duration::from_secs(15),
            renew: Duration::from_secs(5),
        };
        // Standing by is a healthy, ready state.
        health.ready.store(true, Ordering::SeqCst);
        tokio::select! {
            _ = leader::acquire(&client, &cfg) => {}
            _ = shutdown_signal() => { server.abort(); return ExitCode::SUCCESS; }
        }
        health.ready.store(false, Ordering::SeqCst);
        let mut holder = tokio::spawn(leader::hold(client.clone(), cfg));
        tokio::select! {
            code = run_controller(client, args, metrics, health) => { holder.abort(); server.abort(); code }
            _ = &mut holder => {
                tracing::error!("lost leadership: exiting so that only one replica reconciles");
                server.abort();
                ExitCode::from(1)
            }
        }
    } else {
        let code = run_controller(client, args, metrics, health).await;
        server.abort();
        code
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            return;
        }
    }
    let _ = ctrl_c.await;
}

async fn run_controller(
    client: Client,
    args: RunArgs,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> ExitCode {
    let api: Api<BedrockLoggingPolicy> = Api::all(client.clone());
    if let Err(e) = api.list(&kube::api::ListParams::default().limit(1)).await {
        tracing::error!(error = %e, "cannot list BedrockLoggingPolicy: is the CRD installed (bedrock-logging-operator crd | kubectl apply -f -) and RBAC granted?");
        return ExitCode::from(2);
    }
    let mut watch = watcher::Config::default();
    if let Some(sel) = &args.selector {
        watch = watch.labels(sel);
    }
    let opts = SdkOptions {
        max_concurrent_calls: args.aws.max_concurrent_calls,
        max_attempts: args.aws.max_attempts,
        observer: Some(Arc::new(MetricsObserver(metrics.clone()))),
        ..SdkOptions::default()
    };
    let factory: Arc<dyn CloudFactory> = Arc::new(SdkCloudFactory::from_env(opts).await);
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let controller = Controller::new(api, watch)
        .with_config(ControllerConfig::default().concurrency(args.concurrency));
    let store = controller.store();
    let report_kind = reports::detect(&client, args.reports).await;
    tracing::info!(mode = ?args.reports, kind = ?report_kind, "compliance reports");
    let ctx = Arc::new(Context {
        recorder: Some(Recorder::new(client.clone(), reporter)),
        client,
        factory,
        metrics,
        engine: EngineOptions {
            dry_run: false,
            region_concurrency: args.aws.region_concurrency,
            // In the controller a permission-propagation error requeues with backoff instead
            // of blocking a worker; the engine still retries briefly in place.
            permission_retry: Duration::from_secs(args.aws.permission_retry_seconds.min(20)),
            ..EngineOptions::default()
        },
        store: Some(store.clone()),
        known_policies: vec![],
        attempts: Mutex::new(HashMap::new()),
        due: Mutex::new(HashMap::new()),
        operator_account: tokio::sync::OnceCell::new(),
        permission_clock: Mutex::new(HashMap::new()),
        reports: report_kind,
        reports_written: Mutex::new(HashMap::new()),
    });
    let ready_store = store.clone();
    let ready_health = health.clone();
    tokio::spawn(async move {
        // The controller itself also waits on this store and the readiness signal wakes only
        // one waiter, so ask again periodically instead of waiting once.
        loop {
            match tokio::time::timeout(Duration::from_millis(200), ready_store.wait_until_ready())
                .await
            {
                Ok(Ok(())) => {
                    ready_health.ready.store(true, Ordering::SeqCst);
                    tracing::info!("policy cache synced: ready");
                    return;
                }
                Ok(Err(_)) => return,
                Err(_) => {}
            }
        }
    });
    tracing::info!(selector = ?args.selector, concurrency = args.concurrency, "controller starting");
    controller
        .graceful_shutdown_on(shutdown_signal())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(policy = %obj.name, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile error"),
            }
        })
        .await;
    tracing::info!("controller stopped");
    ExitCode::SUCCESS
}
