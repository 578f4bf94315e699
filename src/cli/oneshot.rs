//! `check` and `apply`: the engine run once against a policy file, without a cluster.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use super::{ApplyArgs, CheckArgs};
use crate::api::{BedrockLoggingPolicy, Mode, validate_file::load_policy_file};
use crate::cloud::CloudFactory;
use crate::cloud::sdk::SdkCloudFactory;
use crate::engine::{EngineOptions, PolicyInput, PolicyReport, run_in_account};
use crate::formats::{self as output, PolicyResult};

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

pub fn policy_name(p: &BedrockLoggingPolicy) -> String {
    p.metadata.name.clone().unwrap_or_else(|| "unnamed".into())
}

/// Run one policy through the engine (`opts.dry_run`: evaluate only, never write): one report,
/// or one per member account of an organization policy (listed with the caller's credentials).
pub async fn run_once(
    factory: &dyn CloudFactory,
    policy: &BedrockLoggingPolicy,
    opts: &EngineOptions,
) -> Vec<PolicyReport> {
    let name = policy_name(policy);
    let spec = &policy.spec;
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let input = PolicyInput {
        name: &name,
        spec,
        conflicts: &none,
        previous: &prev,
        permission_grace: false,
    };
    let Some(accounts) = &spec.accounts else {
        return vec![run_in_account(factory, &input, opts).await];
    };
    let listed = match factory
        .cloud_for(&crate::cloud::AccountTarget::default(), "blo-cli")
        .await
    {
        Ok(cloud) => {
            crate::engine::discovery::discover_accounts(
                cloud.as_ref(),
                &accounts.organization,
                opts.org_call_interval,
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    match listed {
        Ok(members) => {
            eprintln!(
                "{name}: {} member account(s) under {}",
                members.len(),
                accounts.organization.organizational_units.join(", ")
            );
            crate::engine::organization::run_members(
                factory,
                &input,
                &members,
                &BTreeMap::new(),
                opts,
                opts.account_concurrency,
            )
            .await
        }
        Err(e) => vec![PolicyReport::global_failure(&input, None, e)],
    }
}

/// One result per report (an organization policy gives one per member account).
fn results_of(file: &str, reports: Vec<PolicyReport>) -> Vec<PolicyResult> {
    reports
        .into_iter()
        .map(|report| PolicyResult {
            file: file.to_string(),
            report,
        })
        .collect()
}

fn describe_scope(spec: &crate::api::BedrockLoggingPolicySpec) -> String {
    match (&spec.all_regions, &spec.accounts) {
        (_, Some(_)) => "every member account".to_string(),
        (Some(_), None) => "every enabled region".to_string(),
        (None, None) => format!("{} region(s)", spec.regions.len()),
    }
}

fn progress_enabled(spec: &crate::api::BedrockLoggingPolicySpec) -> bool {
    spec.regions.len() > 1 || spec.all_regions.is_some() || spec.accounts.is_some()
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
    let factory = SdkCloudFactory::from_env(args.aws.sdk_options()).await;
    let opts = args.aws.engine_options(true, super::Front::Cli);
    let mut results = Vec::new();
    for (file, policy) in &policies {
        if progress_enabled(&policy.spec) {
            eprintln!(
                "checking {} in {}...",
                policy_name(policy),
                describe_scope(&policy.spec)
            );
        }
        let reports = run_once(&factory, policy, &opts).await;
        results.push((policy, results_of(file, reports)));
    }
    let grouped = results;
    let results: Vec<PolicyResult> = grouped
        .iter()
        .flat_map(|(_, r)| r.iter().cloned())
        .collect();
    output::print(&results, args.output, output::Verb::Check);
    let mut code = exit_code_check(&results);
    if args.export == Some(super::Export::Securityhub) && !export_all(&factory, &grouped).await {
        code = EXIT_ERROR;
    }
    ExitCode::from(code)
}

/// `--export securityhub`; false when any finding could not be imported.
async fn export_all(
    factory: &SdkCloudFactory,
    grouped: &[(&BedrockLoggingPolicy, Vec<PolicyResult>)],
) -> bool {
    let mut ok = true;
    for (policy, result) in grouped
        .iter()
        .flat_map(|(p, rs)| rs.iter().map(move |r| (*p, r)))
    {
        let name = policy_name(policy);
        let spec = match &result.report.account_id {
            Some(a) if policy.spec.accounts.is_some() => {
                crate::engine::organization::member_spec(&policy.spec, a)
            }
            _ => policy.spec.clone(),
        };
        let done = match crate::formats::export::export_policy(factory, &spec, &name, result).await
        {
            Ok(done) => done,
            Err(e) => {
                eprintln!("error: export of {name} to Security Hub: {e}");
                ok = false;
                continue;
            }
        };
        eprintln!(
            "exported {} finding(s) of {name} to Security Hub{}",
            done.imported,
            if done.failed.is_empty() {
                String::new()
            } else {
                format!(", {} refused", done.failed.len())
            }
        );
        for (id, why) in &done.failed {
            eprintln!("  refused {id}: {why}");
        }
        ok &= done.failed.is_empty();
    }
    ok
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
    let factory = SdkCloudFactory::from_env(args.aws.sdk_options()).await;
    let opts = args
        .aws
        .engine_options(args.dry_run || audit, super::Front::Cli);
    if progress_enabled(&policy.spec) {
        eprintln!(
            "{} {} in {}...",
            if args.dry_run { "planning" } else { "applying" },
            policy_name(&policy),
            describe_scope(&policy.spec)
        );
    }
    let results = results_of(&args.file, run_once(&factory, &policy, &opts).await);
    let verb = if args.dry_run || audit {
        output::Verb::Plan
    } else {
        output::Verb::Apply
    };
    output::print(&results, args.output, verb);
    let reports = || results.iter().map(|r| &r.report);
    let code = if reports().any(|r| r.has_errors()) {
        EXIT_ERROR
    } else if audit {
        exit_code_check(&results)
    } else if args.dry_run {
        // SPEC §5: a dry run answers "is there anything to change?"; compliance is `check`'s.
        if reports().all(|r| r.all_pending().is_empty()) {
            EXIT_OK
        } else {
            EXIT_NOT_COMPLIANT
        }
    } else if reports().all(|r| r.all_compliant()) {
        EXIT_OK
    } else {
        EXIT_NOT_COMPLIANT
    };
    ExitCode::from(code)
}
