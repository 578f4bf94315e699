//! What a pass publishes besides the status: Kubernetes Events, the compliance report object,
//! and (with `--export-securityhub`) the findings in Security Hub.

use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::{Resource, ResourceExt};

use super::Context;
use super::events::events_for;
use crate::api::BedrockLoggingPolicy;
use crate::engine::PolicyReport;

/// The policy's compliance report (SPEC §4a), by server-side apply, only when it changed.
pub(super) async fn write_report(p: &BedrockLoggingPolicy, report: &PolicyReport, ctx: &Context) {
    let Some(kind) = ctx.reports else {
        return;
    };
    let obj = super::reports::build(kind, p, report);
    let fingerprint = u64::from(crate::policy_doc::fnv1a32(&obj.to_string()));
    let name = p.name_any();
    let unchanged = ctx
        .reports_written
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&name)
        == Some(&fingerprint);
    if unchanged {
        return;
    }
    match super::reports::write(&ctx.client, kind, &obj).await {
        Ok(()) => {
            ctx.reports_written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name, fingerprint);
        }
        Err(e) => tracing::warn!(policy = %name, error = %e, "cannot write the compliance report"),
    }
}

/// `--export-securityhub`: the policy's findings into its account's Security Hub, when they
/// changed since the last export (stable ids: a re-import updates the same findings).
pub(super) async fn export_findings(
    p: &BedrockLoggingPolicy,
    report: &PolicyReport,
    ctx: &Context,
) {
    if !ctx.export_securityhub {
        return;
    }
    let name = p.name_any();
    export_one(&name, &name, &p.spec, report, ctx).await;
}

/// [`export_findings`] for an organization policy: each member's findings into that member's
/// Security Hub (through its role), each remembered on its own.
pub(super) async fn export_member_findings(
    p: &BedrockLoggingPolicy,
    members: &[PolicyReport],
    ctx: &Context,
) {
    if !ctx.export_securityhub {
        return;
    }
    let name = p.name_any();
    for m in members {
        let Some(account) = m.account_id.as_deref() else {
            continue;
        };
        let spec = crate::engine::organization::member_spec(&p.spec, account);
        export_one(&format!("{name}/{account}"), &name, &spec, m, ctx).await;
    }
}

async fn export_one(
    key: &str,
    name: &str,
    spec: &crate::api::BedrockLoggingPolicySpec,
    report: &PolicyReport,
    ctx: &Context,
) {
    let result = crate::formats::PolicyResult {
        file: format!("cluster:{name}"),
        report: report.clone(),
    };
    let fingerprint = u64::from(crate::formats::export::fingerprint(&result));
    let already = ctx
        .exported
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        == Some(&fingerprint);
    if already {
        return;
    }
    match crate::formats::export::export_policy(ctx.factory.as_ref(), spec, name, &result).await {
        Ok(done) if done.failed.is_empty() => {
            ctx.exported
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_string(), fingerprint);
        }
        Ok(done) => {
            tracing::warn!(policy = %name, scope = %key, imported = done.imported, refused = done.failed.len(), first = ?done.failed.first(), "Security Hub refused findings");
        }
        Err(e) => {
            tracing::warn!(policy = %name, scope = %key, error = %e, "cannot export findings to Security Hub");
        }
    }
}

/// The object an Event is about, without its resourceVersion: every status write bumps that,
/// and kube's recorder keys its series by the whole reference, so with it a repeat of the same
/// event in the next pass would never fold into the series it belongs to.
pub(super) fn regarding(p: &BedrockLoggingPolicy) -> k8s_openapi::api::core::v1::ObjectReference {
    let mut reference = p.object_ref(&());
    reference.resource_version = None;
    reference
}

pub(super) async fn publish_events(p: &BedrockLoggingPolicy, report: &PolicyReport, ctx: &Context) {
    let Some(recorder) = &ctx.recorder else {
        return;
    };
    let reference = regarding(p);
    for e in events_for(report, p.status.as_ref()) {
        let ev = KubeEvent {
            type_: if e.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: e.reason.to_string(),
            note: Some(e.note),
            action: e.action,
            secondary: None,
        };
        if let Err(err) = recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %err, "cannot publish event");
        }
    }
}

/// One `TamperDetected` Warning per tamper event: who, what, when, where, and what was done.
pub(super) async fn publish_tamper(
    p: &BedrockLoggingPolicy,
    report: &PolicyReport,
    tampered: &[super::tamper::Pending],
    ctx: &Context,
) {
    let Some(recorder) = &ctx.recorder else {
        return;
    };
    let reference = regarding(p);
    for t in tampered {
        let region = report.region(&t.region);
        let outcome = match (report.mode, region) {
            (crate::api::Mode::Audit, _) => "reported (Audit: not repaired)".to_string(),
            (_, Some(r)) if r.state == crate::api::RegionState::Compliant => {
                if r.applied.is_empty() {
                    "the region is compliant".to_string()
                } else {
                    format!("repaired: {}", r.applied.join("; "))
                }
            }
            (_, Some(r)) => format!("region {}: {}", r.state, r.message()),
            (_, None) => "region not governed".to_string(),
        };
        let note = format!(
            "{} called {} at {} in {}; {}",
            t.record.actor, t.record.event, t.record.time, t.region, outcome
        );
        let ev = KubeEvent {
            type_: EventType::Warning,
            reason: "TamperDetected".to_string(),
            note: Some(crate::truncate(&note, 1000)),
            action: format!(
                "Tamper/{}/{:08x}",
                t.region,
                crate::policy_doc::fnv1a32(&format!(
                    "{}{}{}",
                    t.record.actor, t.record.event, t.record.time
                ))
            ),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %err, "cannot publish event");
        }
    }
}

/// A tamper queue the policy no longer uses (tamperResponse removed, renamed, region dropped):
/// reported once, never deleted.
pub(super) async fn publish_unused_queues(
    p: &BedrockLoggingPolicy,
    unused: &[(String, String)],
    ctx: &Context,
) {
    let Some(recorder) = &ctx.recorder else {
        return;
    };
    let reference = regarding(p);
    for (region, url) in unused {
        let note = format!(
            "{region}: tamper queue {url} is no longer used by this policy; it and its EventBridge rule were left in place (delete them by hand if unneeded)"
        );
        let ev = KubeEvent {
            type_: EventType::Warning,
            reason: "TamperQueueUnused".to_string(),
            note: Some(crate::truncate(&note, 1000)),
            action: format!("Tamper/{region}/{:08x}", crate::policy_doc::fnv1a32(url)),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %err, "cannot publish event");
        }
    }
}
