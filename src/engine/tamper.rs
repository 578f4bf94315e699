//! Tamper response (SPEC §3 step 7): per governed region an SQS queue and an EventBridge rule on
//! the default bus that sends it the CloudTrail API calls able to undo the policy. Desired state,
//! reads and the pure plan; the listener lives in the controller.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::EngineError;
use super::change::Change;
use super::judge;
use crate::api::BedrockLoggingPolicySpec;
use crate::cloud::{Cloud, QueueInfo, RuleInfo, RuleTarget};
use crate::policy_doc::partition;

/// The CloudTrail calls that can undo a policy, by event source. Also the bounded label set of
/// `bedrock_logging_tamper_events_total{event}`.
pub const TAMPER_EVENTS: &[(&str, &[&str])] = &[
    (
        "bedrock.amazonaws.com",
        &[
            "PutModelInvocationLoggingConfiguration",
            "DeleteModelInvocationLoggingConfiguration",
        ],
    ),
    (
        "s3.amazonaws.com",
        &[
            "PutBucketEncryption",
            "DeleteBucketEncryption",
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            // CloudTrail names the bucket-level public access block calls with "Bucket".
            "PutBucketPublicAccessBlock",
            "DeleteBucketPublicAccessBlock",
            "PutPublicAccessBlock",
            "DeletePublicAccessBlock",
            "PutBucketOwnershipControls",
            "DeleteBucketOwnershipControls",
        ],
    ),
    (
        "kms.amazonaws.com",
        &[
            "DisableKey",
            "ScheduleKeyDeletion",
            "PutKeyPolicy",
            "DeleteAlias",
            "UpdateAlias",
            "DisableKeyRotation",
        ],
    ),
    (
        "logs.amazonaws.com",
        &[
            "DisassociateKmsKey",
            "DeleteRetentionPolicy",
            "PutRetentionPolicy",
            "DeleteLogGroup",
        ],
    ),
    (
        // IAM is global: its events arrive in us-east-1.
        "iam.amazonaws.com",
        &[
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "DeleteRole",
        ],
    ),
    (
        "cloudtrail.amazonaws.com",
        &[
            "PutEventSelectors",
            "PutAdvancedEventSelectors",
            "StopLogging",
            "DeleteTrail",
        ],
    ),
];

/// The id of the rule's target (the queue).
pub const TARGET_ID: &str = "bedrock-logging-tamper-queue";

/// The metric label of an event name: itself when it is one of [`TAMPER_EVENTS`], else "other".
pub fn event_label(name: &str) -> &'static str {
    TAMPER_EVENTS
        .iter()
        .flat_map(|(_, names)| names.iter())
        .find(|n| **n == name)
        .copied()
        .unwrap_or("other")
}

#[derive(Debug, Clone, PartialEq)]
pub struct TamperDesired {
    pub queue: String,
    pub rule: String,
    pub queue_arn: String,
    pub rule_arn: String,
}

impl TamperDesired {
    pub fn resolve(spec: &BedrockLoggingPolicySpec, region: &str, account: &str) -> Option<Self> {
        let t = spec.tamper_response.as_ref()?;
        let part = partition(region);
        Some(TamperDesired {
            queue_arn: format!("arn:{part}:sqs:{region}:{account}:{}", t.queue_name),
            rule_arn: format!("arn:{part}:events:{region}:{account}:rule/{}", t.queue_name),
            queue: t.queue_name.clone(),
            rule: t.queue_name.clone(),
        })
    }

    /// The rule's event pattern: the calls of [`TAMPER_EVENTS`], as CloudTrail delivers them.
    pub fn pattern() -> Value {
        let sources: Vec<String> = TAMPER_EVENTS
            .iter()
            .map(|(s, _)| format!("aws.{}", s.trim_end_matches(".amazonaws.com")))
            .collect();
        let event_sources: Vec<&str> = TAMPER_EVENTS.iter().map(|(s, _)| *s).collect();
        let names: BTreeSet<&str> = TAMPER_EVENTS
            .iter()
            .flat_map(|(_, n)| n.iter().copied())
            .collect();
        json!({
            "source": sources,
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": event_sources, "eventName": names},
        })
    }

    /// The queue policy: only this rule (events.amazonaws.com, bound by aws:SourceArn) may send.
    pub fn queue_policy(&self) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "AllowBedrockLoggingTamperRule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": self.queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": self.rule_arn}},
            }],
        })
    }
}

/// What a region has of the wiring.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TamperObserved {
    pub queue: Option<QueueInfo>,
    pub rule: Option<RuleInfo>,
    pub targets: Vec<RuleTarget>,
}

/// Reads: GetQueueAttributes (and GetQueueUrl until the URL is known), DescribeRule and, when
/// the rule exists, ListTargetsByRule.
pub async fn observe_tamper(
    cloud: &dyn Cloud,
    region: &str,
    d: &TamperDesired,
) -> Result<TamperObserved, EngineError> {
    let queue = cloud.sqs_get_queue(region, &d.queue).await?;
    let rule = cloud.events_describe_rule(region, &d.rule).await?;
    let targets = match &rule {
        Some(_) => cloud.events_list_targets(region, &d.rule).await?,
        None => vec![],
    };
    Ok(TamperObserved {
        queue,
        rule,
        targets,
    })
}

/// The queue attributes the judge requires: SSE-SQS and the policy admitting only the rule.
/// `current`: the queue's policy today, whose Deny statements are kept (they only narrow who
/// may send); its Allow statements admitting anyone else are what the rewrite removes.
fn queue_attributes(
    d: &TamperDesired,
    current: Option<&str>,
    with_sse: bool,
) -> Vec<(String, String)> {
    let mut doc = d.queue_policy();
    let denies: Vec<Value> = current
        .and_then(|t| crate::policy_doc::parse_document(t).ok())
        .map(|c| crate::policy_doc::statements(&c))
        .unwrap_or_default()
        .into_iter()
        .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Deny"))
        .collect();
    if let Some(list) = doc["Statement"].as_array_mut() {
        list.extend(denies);
    }
    let mut out = vec![("Policy".to_string(), doc.to_string())];
    if with_sse {
        out.push(("SqsManagedSseEnabled".to_string(), "true".to_string()));
    }
    out
}

/// The changes that make the wiring match (pure). Nothing is ever deleted.
pub fn plan_tamper(d: &TamperDesired, o: &TamperObserved) -> Vec<Change> {
    let mut out = Vec::new();
    match &o.queue {
        None => out.push(Change::CreateQueue {
            name: d.queue.clone(),
            attributes: queue_attributes(d, None, true),
        }),
        Some(q) => {
            let rule_arn = o
                .rule
                .as_ref()
                .map(|r| r.arn.as_str())
                .unwrap_or(&d.rule_arn);
            let policy_ok = judge::queue_admits_only(q.policy.as_deref(), &q.arn, rule_arn).is_ok();
            let sse_ok = judge::queue_encrypted(q);
            if !policy_ok || !sse_ok {
                let mut summary = Vec::new();
                if !policy_ok {
                    summary.push("policy set to admit only the rule".to_string());
                }
                if !sse_ok {
                    summary.push("SSE-SQS enabled".to_string());
                }
                let mut attributes = queue_attributes(d, q.policy.as_deref(), !sse_ok);
                if policy_ok {
                    attributes.retain(|(k, _)| k != "Policy");
                }
                out.push(Change::SetQueueAttributes {
                    name: d.queue.clone(),
                    url: q.url.clone(),
                    attributes,
                    summary,
                });
            }
        }
    }
    let pattern = TamperDesired::pattern();
    let rule_ok = o
        .rule
        .as_ref()
        .is_some_and(|r| r.enabled && judge::event_pattern_matches(r.pattern.as_deref(), &pattern));
    if !rule_ok {
        out.push(Change::PutTamperRule {
            name: d.rule.clone(),
            pattern: pattern.to_string(),
            created: o.rule.is_none(),
        });
    }
    let queue_arn = o
        .queue
        .as_ref()
        .map(|q| q.arn.as_str())
        .unwrap_or(&d.queue_arn);
    if !judge::rule_targets_queue(&o.targets, queue_arn) {
        out.push(Change::PutRuleTarget {
            rule: d.rule.clone(),
            target: RuleTarget {
                id: TARGET_ID.to_string(),
                arn: queue_arn.to_string(),
            },
        });
    }
    out
}

/// Why the wiring is not in place (None: it is).
pub fn wiring_gap(d: &TamperDesired, o: &TamperObserved) -> Option<String> {
    let Some(q) = &o.queue else {
        return Some(format!("queue {} does not exist", d.queue));
    };
    if !judge::queue_encrypted(q) {
        return Some(format!("queue {} is not encrypted (SSE)", d.queue));
    }
    let Some(rule) = &o.rule else {
        return Some(format!("EventBridge rule {} does not exist", d.rule));
    };
    if let Err(why) = judge::queue_admits_only(q.policy.as_deref(), &q.arn, &rule.arn) {
        return Some(format!("queue {} policy: {why}", d.queue));
    }
    if !rule.enabled {
        return Some(format!("EventBridge rule {} is disabled", d.rule));
    }
    if !judge::event_pattern_matches(rule.pattern.as_deref(), &TamperDesired::pattern()) {
        return Some(format!(
            "EventBridge rule {} does not match the tamper API calls",
            d.rule
        ));
    }
    if !judge::rule_targets_queue(&o.targets, &q.arn) {
        return Some(format!(
            "EventBridge rule {} does not target queue {}",
            d.rule, d.queue
        ));
    }
    None
}

/// What the controller's listener needs of one region: the queue and the names of what the
/// policy governs there (an event naming none of them is not this policy's).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TamperWatch {
    pub queue_url: String,
    pub names: BTreeSet<String>,
}

/// The names an event may carry for what `d` governs: buckets, the key (ARN, id, alias), the
/// log group, the role and the trail. Bedrock logging calls concern the region itself.
pub fn watch(
    d: &super::desired::RegionDesired,
    key_arn: Option<&str>,
    trail: Option<&str>,
    queue_url: &str,
) -> TamperWatch {
    use super::desired::{KeyDesired, RoleDesired};
    let mut names = BTreeSet::new();
    names.extend(d.bucket.iter().map(|b| b.name.clone()));
    names.extend(d.large_bucket.iter().map(|b| b.name.clone()));
    names.extend(d.log_group.iter().map(|g| g.name.clone()));
    if let Some(arn) = key_arn {
        names.insert(arn.to_string());
        names.extend(arn.rsplit('/').next().map(String::from));
    }
    match &d.key {
        KeyDesired::Create { alias, .. } => {
            names.insert(alias.clone());
        }
        KeyDesired::Existing { reference } => {
            names.insert(reference.clone());
        }
    }
    names.extend(trail.map(String::from));
    if let Some(RoleDesired::Managed { name, .. } | RoleDesired::Existing { name, .. }) = &d.role {
        names.insert(name.clone());
    }
    TamperWatch {
        queue_url: queue_url.to_string(),
        names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> TamperDesired {
        TamperDesired {
            queue: "q".into(),
            rule: "q".into(),
            queue_arn: "arn:aws:sqs:us-east-1:111122223333:q".into(),
            rule_arn: "arn:aws:events:us-east-1:111122223333:rule/q".into(),
        }
    }

    fn converged(d: &TamperDesired) -> TamperObserved {
        TamperObserved {
            queue: Some(QueueInfo {
                url: "https://sqs/q".into(),
                arn: d.queue_arn.clone(),
                policy: Some(d.queue_policy().to_string()),
                sse_sqs: true,
                kms_key: None,
            }),
            rule: Some(RuleInfo {
                arn: d.rule_arn.clone(),
                pattern: Some(TamperDesired::pattern().to_string()),
                enabled: true,
            }),
            targets: vec![RuleTarget {
                id: TARGET_ID.into(),
                arn: d.queue_arn.clone(),
            }],
        }
    }

    #[test]
    fn an_empty_region_gets_queue_rule_and_target_and_a_converged_one_nothing() {
        let d = desired();
        let plan = plan_tamper(&d, &TamperObserved::default());
        assert!(matches!(plan[0], Change::CreateQueue { .. }), "{plan:?}");
        assert!(matches!(
            plan[1],
            Change::PutTamperRule { created: true, .. }
        ));
        assert!(matches!(plan[2], Change::PutRuleTarget { .. }));
        assert_eq!(plan.len(), 3);
        let o = converged(&d);
        assert_eq!(plan_tamper(&d, &o), vec![]);
        assert_eq!(wiring_gap(&d, &o), None);
    }

    #[test]
    fn a_widened_queue_policy_is_replaced_and_reported() {
        let d = desired();
        let mut o = converged(&d);
        let mut doc = d.queue_policy();
        doc["Statement"].as_array_mut().unwrap().push(json!({
            "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": d.queue_arn
        }));
        let deny = json!({"Sid": "Foreign", "Effect": "Deny", "Principal": "*", "Action": "sqs:PurgeQueue", "Resource": d.queue_arn});
        doc["Statement"].as_array_mut().unwrap().push(deny.clone());
        o.queue.as_mut().unwrap().policy = Some(doc.to_string());
        let gap = wiring_gap(&d, &o).unwrap();
        assert!(gap.contains("policy"), "{gap}");
        let plan = plan_tamper(&d, &o);
        assert_eq!(plan.len(), 1);
        match &plan[0] {
            Change::SetQueueAttributes { attributes, .. } => {
                assert_eq!(attributes.len(), 1);
                assert_eq!(attributes[0].0, "Policy");
                // The widening Allow goes; the foreign Deny (it only narrows) stays.
                let new: Value = serde_json::from_str(&attributes[0].1).unwrap();
                let stmts = new["Statement"].as_array().unwrap();
                assert_eq!(stmts.len(), 2, "{new}");
                assert!(stmts.contains(&deny));
                assert_eq!(
                    judge::queue_admits_only(Some(&attributes[0].1), &d.queue_arn, &d.rule_arn),
                    Ok(())
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_disabled_or_narrowed_rule_is_put_again() {
        let d = desired();
        let mut o = converged(&d);
        o.rule.as_mut().unwrap().enabled = false;
        assert!(matches!(
            plan_tamper(&d, &o)[..],
            [Change::PutTamperRule { created: false, .. }]
        ));
        let mut o = converged(&d);
        o.rule.as_mut().unwrap().pattern = Some(
            json!({"source": ["aws.bedrock"], "detail-type": ["AWS API Call via CloudTrail"]})
                .to_string(),
        );
        assert!(wiring_gap(&d, &o).unwrap().contains("does not match"));
        assert_eq!(plan_tamper(&d, &o).len(), 1);
    }

    #[test]
    fn event_labels_are_bounded() {
        assert_eq!(
            event_label("DeleteModelInvocationLoggingConfiguration"),
            "DeleteModelInvocationLoggingConfiguration"
        );
        assert_eq!(event_label("RunInstances"), "other");
        assert_eq!(event_label(""), "other");
    }
}
