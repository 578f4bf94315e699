//! `check` and `apply`: the engine run once against a policy file, without a cluster.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::output::{self, PolicyResult};
use super::{ApplyArgs, AwsArgs, CheckArgs};
use crate::api::{BedrockLoggingPolicy, Mode, validate_file::load_policy_file};
use crate::cloud::CloudFactory;
use crate::cloud::sdk::{SdkCloudFactory, SdkOptions};
use crate::engine::{EngineOptions, PolicyInput, PolicyReport, run_in_account};

pub const EXIT_OK: u8 = 0;
pub const EXIT_NOT_COMPLIANT: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Expand files and directories (every *.yaml / *.yml inside, sorted).
pub fn expand_files(inputs: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for input in inputs {
        let p = Path::new(input);
        if p.is_dir() {
            let mut found: Vec<String> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read directory {input}: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .map(|p| p.display().to_string())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!(
                    "directory {input} holds no .yaml/.yml policy files"
                ));
            }
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn sdk_options(aws: &AwsArgs) -> SdkOptions {
    SdkOptions {
        max_concurrent_calls: aws.max_concurrent_calls,
        max_attempts: aws.max_attempts,
        ..SdkOptions::default()
    }
}

fn engine_options(aws: &AwsArgs, dry_run: bool) -> EngineOptions {
    EngineOptions {
        dry_run,
        region_concurrency: aws.region_concurrency,
        permission_retry: Duration::from_secs(aws.permission_retry_seconds),
        consistency_retry: Duration::from_secs(30),
    }
}

pub fn policy_name(p: &BedrockLoggingPolicy) -> String {
    p.metadata.name.clone().unwrap_or_else(|| "unnamed".into())
}

/// Run one policy through the engine (Audit when `force_audit`).
pub async fn run_once(
    factory: &dyn CloudFactory,
    policy: &BedrockLoggingPolicy,
    force_audit: bool,
    opts: &EngineOptions,
) -> PolicyReport {
    let name = policy_name(policy);
    let mut spec = policy.spec.clone();
    if force_audit {
        spec.mode = Mode::Audit;
    }
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let input = PolicyInput {
        name: &name,
        spec: &spec,
        conflicts: &none,
        previous: &prev,
        permission_grace: false,
    };
    let mut report = run_in_account(factory, &input, opts).await;
    // `check` runs in Audit; the report still shows the policy's own mode.
    report.mode = policy.spec.mode;
    report
}

fn progress_enabled(regions: usize) -> bool {
    regions > 1
}

pub async fn check(args: &CheckArgs) -> ExitCode {
    let files = match expand_files(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    // Validate every file before any AWS call.
    let mut policies = Vec::new();
    for f in &files {
        match load_policy_file(f) {
            Ok(p) => policies.push((f.clone(), p)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
        }
    }
    let factory = SdkCloudFactory::from_env(sdk_options(&args.aws)).await;
    let opts = engine_options(&args.aws, true);
    let mut results = Vec::new();
    for (file, policy) in &policies {
        if progress_enabled(policy.spec.regions.len()) {
            eprintln!(
                "checking {} in {} region(s)...",
                policy_name(policy),
                policy.spec.regions.len()
            );
        }
        let report = run_once(&factory, policy, true, &opts).await;
        results.push(PolicyResult {
            file: file.clone(),
            report,
        });
    }
    output::print(&results, args.output, output::Verb::Check);
    ExitCode::from(exit_code_check(&results))
}

pub fn exit_code_check(results: &[PolicyResult]) -> u8 {
    if results.iter().any(|r| r.report.has_errors()) {
        EXIT_ERROR
    } else if results.iter().all(|r| r.report.all_compliant()) {
        EXIT_OK
    } else {
        EXIT_NOT_COMPLIANT
    }
}

pub async fn apply(args: &ApplyArgs) -> ExitCode {
    let policy = match load_policy_file(&args.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let audit = policy.spec.mode == Mode::Audit;
    if audit {
        eprintln!(
            "policy {} is in Audit mode: checking only, nothing will be written",
            policy_name(&policy)
        );
    }
    let factory = SdkCloudFactory::from_env(sdk_options(&args.aws)).await;
    let opts = engine_options(&args.aws, args.dry_run || audit);
    if progress_enabled(policy.spec.regions.len()) {
        eprintln!(
            "{} {} in {} region(s)...",
            if args.dry_run { "planning" } else { "applying" },
            policy_name(&policy),
            policy.spec.regions.len()
        );
    }
    let report = run_once(&factory, &policy, audit, &opts).await;
    let results = vec![PolicyResult {
        file: args.file.clone(),
        report,
    }];
    let verb = if args.dry_run || audit {
        output::Verb::Plan
    } else {
        output::Verb::Apply
    };
    output::print(&results, args.output, verb);
    let r = &results[0].report;
    let code = if r.has_errors() {
        EXIT_ERROR
    } else if audit {
        exit_code_check(&results)
    } else if args.dry_run {
        // SPEC §5: a dry run answers "is there anything to change?"; compliance is `check`'s.
        if r.all_pending().is_empty() {
            EXIT_OK
        } else {
            EXIT_NOT_COMPLIANT
        }
    } else if r.all_compliant() {
        EXIT_OK
    } else {
        EXIT_NOT_COMPLIANT
    };
    ExitCode::from(code)
}
