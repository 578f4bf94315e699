//! `bedrock-logging-operator run`: the Kubernetes controller over cluster-scoped
//! `BedrockLoggingPolicy` objects, one shared [`Context`], metrics and probes, leader election.

pub mod conflicts;
pub mod events;
pub mod leader;
pub mod memory;
pub mod metrics;
pub mod organization;
pub mod permission_clock;
mod publish;
pub mod rbac;
pub mod reconcile;
pub mod reports;
pub mod server;
pub mod tamper;
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
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::api::BedrockLoggingPolicy;
use crate::cloud::CloudFactory;
use crate::cloud::sdk::{SdkCloudFactory, SdkOptions};
use crate::engine::EngineOptions;
use metrics::{Metrics, MetricsObserver};

pub const FINALIZER: &str = "bedrocklogging.io/finalizer";
pub const FIELD_MANAGER: &str = "bedrock-logging-operator";

/// Everything `run` needs, built by the CLI (the composition root): the controller never sees
/// a command-line type.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http_addr: String,
    /// Hold this Lease before reconciling (replicas > 1).
    pub lease: Option<LeaseSettings>,
    pub selector: Option<String>,
    pub concurrency: u16,
    pub log_format: String,
    pub log_level: String,
    pub reports: reports::ReportsMode,
    /// Import each policy's findings into its account's Security Hub when they change.
    pub export_securityhub: bool,
    /// This replica's share of organization policies' member accounts.
    pub shard: crate::engine::org_status::Shard,
    /// SDK client knobs (the metrics observer is added by the controller).
    pub sdk: SdkOptions,
    pub engine: EngineOptions,
}

#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
}

/// Where the controller reads all policies from (the reflector's store in production): shared
/// references, never copies (every reconcile reads them all, for ownership).
pub type PolicySource = Box<dyn Fn() -> Vec<Arc<BedrockLoggingPolicy>> + Send + Sync>;

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub factory: Arc<dyn CloudFactory>,
    pub recorder: Option<Recorder>,
    pub metrics: Arc<Metrics>,
    pub engine: EngineOptions,
    /// Every policy the controller knows (ownership of account+region pairs): the watch cache.
    pub policies: PolicySource,
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
    /// `--export-securityhub`, and per policy a fingerprint of the findings last exported.
    pub export_securityhub: bool,
    pub exported: Mutex<HashMap<String, u64>>,
    /// The tamper listener: queues polled, events waiting for their pass.
    pub tamper: Arc<tamper::TamperHub>,
    /// This replica's share of organization policies (`--shard-index/--shard-count`).
    pub shard: crate::engine::org_status::Shard,
    /// Per organization policy: its member accounts as last listed, and when.
    pub org_members: Mutex<HashMap<String, organization::Members>>,
    /// Replica 0, per organization policy: the other replicas' status entries at its last pass.
    pub shards_seen: Mutex<HashMap<String, u32>>,
    /// Per organization policy: each member account's region states at its last pass (drift is a
    /// change to a region that was compliant). Memory only: after a restart the first pass
    /// reports its repairs as changes, not as drift.
    pub org_previous: Mutex<HashMap<String, organization::MemberStates>>,
    /// The first pass of an organization policy's generation writes its progress this often
    /// (a pass over hundreds of accounts takes minutes; later passes write only the result).
    pub org_progress_every: std::time::Duration,
}

/// Readiness: the watch has synced, or this replica is standing by for the lease.
#[derive(Default)]
pub struct Health {
    pub ready: AtomicBool,
}

fn init_tracing(args: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if args.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub async fn run(args: Settings) -> ExitCode {
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
    tokio::spawn(memory::trim_periodically());

    if let Some(lease) = args.lease.clone() {
        let identity =
            std::env::var("POD_NAME").unwrap_or_else(|_| format!("blo-{}", std::process::id()));
        let cfg = leader::LeaseConfig {
            name: lease.name,
            namespace: lease.namespace,
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

/// Drop from a cached policy what no reconcile reads.
pub fn strip_unread(p: &mut BedrockLoggingPolicy) {
    use kube::ResourceExt;
    p.managed_fields_mut().clear();
    p.annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
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
    args: Settings,
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
        observer: Some(Arc::new(MetricsObserver(metrics.clone()))),
        ..args.sdk.clone()
    };
    let factory: Arc<dyn CloudFactory> = Arc::new(SdkCloudFactory::from_env(opts).await);
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    // The watch cache keeps only what the controller reads: no managedFields, no
    // last-applied-configuration copy of the spec (SPEC §7 memory bar).
    let (reader, writer) = kube::runtime::reflector::store();
    let policies_stream = watcher(api, watch)
        .default_backoff()
        .modify(strip_unread)
        .reflect(writer)
        .applied_objects();
    let controller = Controller::for_stream(policies_stream, reader)
        .with_config(ControllerConfig::default().concurrency(args.concurrency));
    let store = controller.store();
    let report_kind = reports::detect(&client, args.reports).await;
    let (tamper_hub, tamper_rx) = tamper::TamperHub::new();
    let tamper_triggers = futures::stream::unfold(tamper_rx, |mut rx| async move {
        let name = rx.recv().await?;
        Some((kube::runtime::reflector::ObjectRef::new(&name), rx))
    });
    let controller = controller.reconcile_on(tamper_triggers);
    tracing::info!(mode = ?args.reports, kind = ?report_kind, "compliance reports");
    let ctx = Arc::new(Context {
        recorder: Some(Recorder::new(client.clone(), reporter)),
        client,
        factory,
        metrics,
        engine: args.engine.clone(),
        policies: {
            let store = store.clone();
            Box::new(move || store.state())
        },
        attempts: Mutex::new(HashMap::new()),
        due: Mutex::new(HashMap::new()),
        operator_account: tokio::sync::OnceCell::new(),
        permission_clock: Mutex::new(HashMap::new()),
        reports: report_kind,
        reports_written: Mutex::new(HashMap::new()),
        export_securityhub: args.export_securityhub,
        exported: Mutex::new(HashMap::new()),
        tamper: tamper_hub,
        shard: args.shard,
        org_members: Mutex::new(HashMap::new()),
        shards_seen: Mutex::new(HashMap::new()),
        org_previous: Mutex::new(HashMap::new()),
        org_progress_every: organization::PROGRESS_EVERY,
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
