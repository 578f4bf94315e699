//! The command line: `run`, `crd`, `check`, `apply`, `iam-policy`.

pub mod iam_policy;
pub mod oneshot;
pub mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::controller::RunArgs;

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

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Sarif,
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
    /// Seconds to keep retrying Bedrock's "Failed to validate permissions" after IAM changes.
    #[arg(long, default_value_t = 150, env = "BLO_PERMISSION_RETRY_SECONDS")]
    pub permission_retry_seconds: u64,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Policy files or directories (every *.yaml / *.yml inside). Repeatable.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<String>,
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

/// Both the AWS SDK (aws-lc-rs) and kube (ring) enable a rustls crypto backend, so rustls cannot
/// pick one by itself: choose ring, once, before any TLS client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

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
        Command::Run(args) => runtime().block_on(crate::controller::run(args)),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // Start-up: failing to build a runtime is unrecoverable.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
