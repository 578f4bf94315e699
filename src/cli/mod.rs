//! The command line: `run`, `crd`, `check`, `apply`, `iam-policy`.

pub mod iam_policy;
pub use crate::formats::OutputFormat;
pub mod oneshot;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use std::time::Duration;

use crate::cloud::sdk::SdkOptions;
use crate::controller::{LeaseSettings, Settings, reports::ReportsMode};
use crate::engine::EngineOptions;

#[derive(Parser, Debug)]
#[command(
    name = "bedrock-logging-operator",
    version,
    about = "Keeps Amazon Bedrock model invocation logging on, encrypted and private, per account and region"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the Kubernetes controller.
    Run(RunArgs),
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Audit AWS against policy files without a cluster; never writes.
    /// Exit 0 compliant, 1 non-compliant, 2 error.
    Check(CheckArgs),
    /// Converge AWS to a policy file once, without a cluster.
    /// Exit 0 converged (dry run: nothing to change), 1 not converged (dry run: changes pending), 2 error.
    Apply(ApplyArgs),
    /// Print the least-privilege IAM policy the operator itself needs.
    IamPolicy(IamPolicyArgs),
    /// Print the Kubernetes permissions the controller uses (JSON), for packaging checks.
    #[command(hide = true)]
    RbacRules(RbacRulesArgs),
}

#[derive(clap::Args, Debug)]
pub struct RbacRulesArgs {
    /// The `run --reports` mode whose report permissions to include.
    #[arg(long, value_enum, default_value_t = crate::controller::reports::ReportsMode::Auto)]
    pub reports: crate::controller::reports::ReportsMode,
}

#[derive(clap::Args, Debug, Clone)]
pub struct AwsArgs {
    /// AWS calls in flight at once (per account).
    #[arg(long, default_value_t = 16, env = "BLO_MAX_CONCURRENT_CALLS")]
    pub max_concurrent_calls: usize,
    /// Attempts per AWS call (throttling, 5xx and timeouts are retried with jittered backoff).
    #[arg(long, default_value_t = 5, env = "BLO_MAX_ATTEMPTS")]
    pub max_attempts: u32,
    /// Regions converged at once.
    #[arg(long, default_value_t = 16)]
    pub region_concurrency: usize,
    /// Member accounts of an organization policy converged at once.
    #[arg(long, default_value_t = 8, env = "BLO_ACCOUNT_CONCURRENCY")]
    pub account_concurrency: usize,
    /// Milliseconds between Organizations calls while listing member accounts (its APIs allow
    /// about one request per second).
    #[arg(
        long,
        default_value_t = 1000,
        env = "BLO_ORGANIZATIONS_CALL_INTERVAL_MS"
    )]
    pub organizations_call_interval_ms: u64,
    /// Seconds to keep retrying Bedrock's "Failed to validate permissions" after IAM changes.
    #[arg(long, default_value_t = 150, env = "BLO_PERMISSION_RETRY_SECONDS")]
    pub permission_retry_seconds: u64,
}

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
    #[arg(long, value_enum, default_value_t = ReportsMode::Auto, env = "BLO_REPORTS")]
    pub reports: ReportsMode,
    /// Import each policy's findings (ASFF) into its account's Security Hub when they change.
    #[arg(long, env = "BLO_EXPORT_SECURITYHUB")]
    pub export_securityhub: bool,
    /// This replica's share of organization policies' accounts (0-based; with --shard-count).
    #[arg(long, default_value_t = 0, env = "BLO_SHARD_INDEX")]
    pub shard_index: u32,
    /// Replicas splitting the accounts of organization policies by a stable hash of the
    /// account id (each writes its own entry of status.shards[]; replica 0 the totals).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64), env = "BLO_SHARD_COUNT")]
    pub shard_count: u32,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl RunArgs {
    /// The controller's settings (the CLI is the composition root).
    pub fn settings(&self) -> Settings {
        Settings {
            http_addr: self.http_addr.clone(),
            // Each shard is its own replica set: one Lease per shard index.
            lease: self.leader_elect.then(|| LeaseSettings {
                name: if self.shard_count > 1 {
                    format!("{}-shard-{}", self.lease_name, self.shard_index)
                } else {
                    self.lease_name.clone()
                },
                namespace: self
                    .lease_namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
            }),
            selector: self.selector.clone(),
            concurrency: self.concurrency,
            log_format: self.log_format.clone(),
            log_level: self.log_level.clone(),
            reports: self.reports,
            export_securityhub: self.export_securityhub,
            shard: crate::engine::org_status::Shard {
                index: self.shard_index.min(self.shard_count.saturating_sub(1)),
                count: self.shard_count,
            },
            sdk: self.aws.sdk_options(),
            // In the controller a permission-propagation error requeues with backoff instead
            // of blocking a worker; the engine still retries briefly in place.
            engine: self.aws.engine_options(false, Front::Controller),
        }
    }
}

/// Which front end the engine runs under (the controller does not block a worker for long).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    Cli,
    Controller,
}

impl AwsArgs {
    /// The SDK options of both front ends.
    pub fn sdk_options(&self) -> SdkOptions {
        SdkOptions {
            max_concurrent_calls: self.max_concurrent_calls,
            max_attempts: self.max_attempts,
            ..SdkOptions::default()
        }
    }

    /// The engine options of both front ends.
    pub fn engine_options(&self, dry_run: bool, front: Front) -> EngineOptions {
        let (permission, consistency) = match front {
            Front::Cli => (self.permission_retry_seconds, 30),
            Front::Controller => (self.permission_retry_seconds.min(20), 10),
        };
        EngineOptions {
            dry_run,
            region_concurrency: self.region_concurrency,
            permission_retry: Duration::from_secs(permission),
            consistency_retry: Duration::from_secs(consistency),
            account_concurrency: self.account_concurrency.max(1),
            org_call_interval: Duration::from_millis(self.organizations_call_interval_ms),
        }
    }
}

/// Where `check --export` sends the findings.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Export {
    /// AWS Security Hub of each governed account and region (BatchImportFindings, ASFF).
    Securityhub,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Policy files or directories (every *.yaml / *.yml inside). Repeatable.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<String>,
    /// Also import the findings (the only write `check` makes, and not to governed resources).
    #[arg(long, value_enum)]
    pub export: Option<Export>,
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// The policy file.
    #[arg(short = 'f', long = "file")]
    pub file: String,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(clap::Args, Debug)]
pub struct IamPolicyArgs {
    /// Scope the policy to this policy file's resources.
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
}

pub fn init_cli_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub use crate::install_crypto_provider;

pub fn main() -> ExitCode {
    install_crypto_provider();
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", crate::api::crd::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::RbacRules(args) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::controller::rbac::rules_json(args.reports))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Command::IamPolicy(args) => iam_policy::command(&args),
        Command::Check(args) => {
            init_cli_tracing();
            runtime().block_on(oneshot::check(&args))
        }
        Command::Apply(args) => {
            init_cli_tracing();
            runtime().block_on(oneshot::apply(&args))
        }
        Command::Run(args) => {
            crate::controller::memory::limit_arenas();
            runtime().block_on(crate::controller::run(args.settings()))
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // Start-up: failing to build a runtime is unrecoverable.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
