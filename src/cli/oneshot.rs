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

/// Run one policy through the engine (`opts.dry_run`: evaluate only, never write).
pub async fn run_once(
    factory: &dyn CloudFactory,
    policy: &BedrockLoggingPolicy,
    opts: &EngineOptions,
) -> PolicyReport {
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
    run_in_account(factory, &input, opts).await
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
    let factory = SdkCloudFactory::from_env(args.aws.sdk_options()).await;
    let opts = args.aws.engine_options(true, super::Front::Cli);
    let mut results = Vec::new();
    for (file, policy) in &policies {
        if progress_enabled(policy.spec.regions.len()) {
            eprintln!(
                "checking {} in {} region(s)...",
                policy_name(policy),
                policy.spec.regions.len()
            );
        }
        let report = run_once(&factory, policy, &opts).await;
        results.push(PolicyResult {
            file: file.clone(),
            report,
        });
    }
    output::print(&results, args.output, output::Verb::Check);
    let mut code = exit_code_check(&results);
    if args.export == Some(super::Export::Securityhub)
        && !export_all(&factory, &policies, &results).await
    {
        code = EXIT_ERROR;
    }
    ExitCode::from(code)
}

/// `--export securityhub`; false when any finding could not be imported.
async fn export_all(
    factory: &SdkCloudFactory,
    policies: &[(String, BedrockLoggingPolicy)],
    results: &[PolicyResult],
) -> bool {
    let mut ok = true;
    for ((_, policy), result) in policies.iter().zip(results) {
        let name = policy_name(policy);
        let done = match crate::formats::export::export_policy(factory, &policy.spec, &name, result)
            .await
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
    if progress_enabled(policy.spec.regions.len()) {
        eprintln!(
            "{} {} in {} region(s)...",
            if args.dry_run { "planning" } else { "applying" },
            policy_name(&policy),
            policy.spec.regions.len()
        );
    }
    let report = run_once(&factory, &policy, &opts).await;
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
