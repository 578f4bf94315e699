//! The one judge of compliance: one predicate per control. The planner (what to change) and the
//! findings (what to report) both call these, so they can never disagree. Pure.

use serde_json::Value;

use super::change::KeyRef;
use crate::cloud::{BucketEncryption, LoggingConfig, PublicAccessBlock};
use crate::policy_doc::{partition, statements};

/// True when a configured KMS key id (ARN, id, alias name or alias ARN) designates the key.
pub fn key_matches(configured: &str, key: &KeyRef, alias: Option<&str>) -> bool {
    match key {
        KeyRef::New => false,
        KeyRef::Known(arn) => {
            let id = arn.rsplit('/').next().unwrap_or(arn);
            configured == arn
                || configured == id
                || alias.is_some_and(|a| configured == a || configured.ends_with(&format!(":{a}")))
        }
    }
}

/// Why a bucket's default encryption is not SSE-KMS with the policy's key and a bucket key
/// (`None`: it is). `key_label` names the key in the message.
pub fn bucket_encryption_problem(
    enc: Option<&BucketEncryption>,
    key: &KeyRef,
    alias: Option<&str>,
    key_label: &str,
) -> Option<String> {
    let Some(e) = enc else {
        return Some(format!(
            "has no default encryption; policy requires SSE-KMS with {key_label}"
        ));
    };
    if e.algorithm != "aws:kms" {
        let algo = if e.algorithm == "AES256" {
            "SSE-S3 (AES256)".to_string()
        } else {
            e.algorithm.clone()
        };
        return Some(format!(
            "default encryption is {algo}; policy requires SSE-KMS with {key_label}"
        ));
    }
    if !e
        .kms_key_id
        .as_deref()
        .is_some_and(|id| key_matches(id, key, alias))
    {
        return Some(format!(
            "is encrypted with {}; policy requires {key_label}",
            e.kms_key_id
                .as_deref()
                .unwrap_or("the AWS-managed aws/s3 key")
        ));
    }
    if !e.bucket_key_enabled {
        return Some(format!(
            "uses {key_label} without an S3 Bucket Key; policy requires BucketKeyEnabled"
        ));
    }
    None
}

/// All four public-access-block settings on.
pub fn public_access_blocked(p: Option<PublicAccessBlock>) -> bool {
    p.is_some_and(|p| p.all_blocked())
}

/// ACLs disabled (Bedrock requires `BucketOwnerEnforced`).
pub fn acls_disabled(ownership: Option<&str>) -> bool {
    ownership == Some("BucketOwnerEnforced")
}

/// The log group carries the policy's key.
pub fn log_group_key_ok(configured: Option<&str>, key: &KeyRef, alias: Option<&str>) -> bool {
    configured.is_some_and(|k| key_matches(k, key, alias))
}

/// The retention the policy asks for (`None`: any, the policy does not set one).
pub fn retention_ok(want: Option<i32>, seen: Option<i32>) -> bool {
    want.is_none_or(|w| seen == Some(w))
}

/// Logging is on and matches the desired configuration the way Bedrock means it: omitted
/// data-type flags are true, an empty prefix is no prefix.
pub fn logging_ok(desired: &LoggingConfig, observed: Option<&LoggingConfig>) -> bool {
    observed.is_some_and(|o| o.is_configured() && logging_matches(desired, o))
}

pub fn logging_matches(desired: &LoggingConfig, observed: &LoggingConfig) -> bool {
    use crate::cloud::{CloudWatchDestination, S3Destination};
    fn norm(c: &LoggingConfig) -> LoggingConfig {
        let fix = |d: &S3Destination| S3Destination {
            bucket: d.bucket.clone(),
            prefix: d.prefix.clone().filter(|p| !p.is_empty()),
        };
        LoggingConfig {
            s3: c.s3.as_ref().map(fix),
            cloud_watch: c.cloud_watch.as_ref().map(|cw| CloudWatchDestination {
                log_group: cw.log_group.clone(),
                role_arn: cw.role_arn.clone(),
                large_data: cw.large_data.as_ref().map(fix),
            }),
            text: Some(c.text.unwrap_or(true)),
            image: Some(c.image.unwrap_or(true)),
            embedding: Some(c.embedding.unwrap_or(true)),
            video: Some(c.video.unwrap_or(true)),
            audio: Some(c.audio.unwrap_or(true)),
        }
    }
    norm(desired) == norm(observed)
}

/// A JSON value that is a string or a list of strings, as IAM allows.
fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// The values of condition key `key` (case-insensitive, as IAM treats keys) under operator `op`.
fn condition_values<'a>(stmt: &'a Value, op: &str, key: &str) -> Option<Vec<&'a str>> {
    let block = stmt.get("Condition")?.as_object()?;
    let (_, inner) = block.iter().find(|(o, _)| o.as_str() == op)?;
    let (_, v) = inner
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))?;
    Some(strings(Some(v)))
}

fn is_bedrock_principal(stmt: &Value, allow_wildcard: bool) -> bool {
    match stmt.get("Principal") {
        Some(Value::String(s)) => allow_wildcard && s == "*",
        Some(p) => {
            let services = strings(p.get("Service"));
            services.contains(&"bedrock.amazonaws.com")
                || (allow_wildcard && strings(p.get("AWS")).contains(&"*"))
        }
        None => false,
    }
}

fn covers_assume_role(stmt: &Value) -> bool {
    strings(stmt.get("Action")).iter().any(|a| {
        matches!(
            a.to_ascii_lowercase().as_str(),
            "sts:assumerole" | "sts:*" | "*"
        )
    })
}

/// Whether a source ARN pattern covers Bedrock in `region` of `account` (and nothing in
/// another account).
fn source_arn_covers(pattern: &str, region: &str, account: &str) -> bool {
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    if parts.len() < 5
        || parts[0] != "arn"
        || (parts[1] != partition(region) && parts[1] != "*")
        || parts[2] != "bedrock"
    {
        return false;
    }
    let region_ok = parts[3] == region || parts[3] == "*";
    region_ok && parts[4] == account
}

/// The verdict on a role's trust policy for Bedrock delivery in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustVerdict {
    /// An Allow for `bedrock.amazonaws.com` bound to this account (SourceAccount, StringEquals)
    /// and to Bedrock in this region (SourceArn, ArnEquals/ArnLike); no Deny against it.
    Protected,
    /// Bedrock may assume the role, but without both confused-deputy conditions.
    Unprotected(String),
    /// Bedrock cannot assume the role in this region (no Allow, or a Deny).
    NotAdmitted(String),
}

/// Judge a trust policy as structure (never by substrings of its JSON).
pub fn trust_verdict(doc: &Value, account: &str, region: &str) -> TrustVerdict {
    let stmts = statements(doc);
    // An unconditional Deny shuts Bedrock out. (A conditional one, such as the usual
    // hardening `StringNotEquals aws:SourceAccount`, only narrows who may assume it.)
    if let Some(deny) = stmts.iter().find(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Deny")
            && s.get("Condition").is_none()
            && is_bedrock_principal(s, true)
            && covers_assume_role(s)
    }) {
        let sid = deny
            .get("Sid")
            .and_then(Value::as_str)
            .unwrap_or("(no Sid)");
        return TrustVerdict::NotAdmitted(format!(
            "statement {sid} denies sts:AssumeRole to bedrock.amazonaws.com"
        ));
    }
    let allows_assume = |s: &&Value, wildcard: bool| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && (s.get("NotPrincipal").is_some()
                || s.get("NotAction").is_some()
                || (is_bedrock_principal(s, wildcard) && covers_assume_role(s)))
    };
    // Allow statements combine with OR: every one that may let Bedrock in (a wildcard
    // principal, NotPrincipal/NotAction included) must carry both bindings.
    let allows: Vec<&Value> = stmts.iter().filter(|s| allows_assume(s, true)).collect();
    if !stmts.iter().any(|s| allows_assume(&s, false)) {
        return TrustVerdict::NotAdmitted(
            "no statement allows bedrock.amazonaws.com to sts:AssumeRole".into(),
        );
    }
    // Bound: SourceAccount is this account and every SourceArn is in it (no other account's
    // Bedrock can use the role). Every Allow must be bound; one of them must cover this region.
    let arns_of = |s: &Value| -> Vec<String> {
        ["ArnEquals", "ArnLike"]
            .iter()
            .filter_map(|op| condition_values(s, op, "aws:SourceArn"))
            .flatten()
            .map(String::from)
            .collect()
    };
    let bound = |s: &Value| {
        let accounts = condition_values(s, "StringEquals", "aws:SourceAccount");
        let account_ok = accounts.is_some_and(|v| !v.is_empty() && v.iter().all(|a| *a == account));
        let arns = arns_of(s);
        account_ok && !arns.is_empty() && arns.iter().all(|a| a.split(':').nth(4) == Some(account))
    };
    let protected = allows.iter().all(|s| bound(s))
        && allows.iter().any(|s| {
            arns_of(s)
                .iter()
                .any(|a| source_arn_covers(a, region, account))
        });
    if protected {
        TrustVerdict::Protected
    } else {
        TrustVerdict::Unprotected(format!(
            "bedrock.amazonaws.com is not bound by aws:SourceAccount (StringEquals {account}) and aws:SourceArn (ArnEquals/ArnLike arn:{}:bedrock:{region}:{account}:*)",
            partition(region)
        ))
    }
}

/// A queue is encrypted at rest: SSE-SQS, or SSE-KMS with a key.
pub fn queue_encrypted(q: &crate::cloud::QueueInfo) -> bool {
    q.sse_sqs || q.kms_key.is_some()
}

/// The queue policy lets exactly the tamper rule send: at least one Allow for
/// `events.amazonaws.com` and `sqs:SendMessage` on the queue bound by `aws:SourceArn` = the rule,
/// and no Allow that admits anyone or anything else. Deny statements only narrow it.
pub fn queue_admits_only(
    policy: Option<&str>,
    queue_arn: &str,
    rule_arn: &str,
) -> Result<(), String> {
    let Some(text) = policy else {
        return Err(format!(
            "no queue policy: the rule {rule_arn} cannot deliver"
        ));
    };
    let doc = crate::policy_doc::parse_document(text)?;
    let allows: Vec<Value> = statements(&doc)
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .collect();
    if allows.is_empty() {
        return Err(format!("no statement allows the rule {rule_arn} to send"));
    }
    for s in &allows {
        let sid = s.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)");
        if s.get("NotPrincipal").is_some()
            || s.get("NotAction").is_some()
            || s.get("NotResource").is_some()
        {
            return Err(format!(
                "statement {sid} uses NotPrincipal/NotAction/NotResource"
            ));
        }
        let principal_ok = match s.get("Principal") {
            Some(p @ Value::Object(m)) => {
                m.len() == 1 && strings(p.get("Service")) == ["events.amazonaws.com"]
            }
            _ => false,
        };
        let actions = strings(s.get("Action"));
        let action_ok = !actions.is_empty()
            && actions
                .iter()
                .all(|a| a.eq_ignore_ascii_case("sqs:SendMessage"));
        let resources = strings(s.get("Resource"));
        let resource_ok = !resources.is_empty() && resources.iter().all(|r| *r == queue_arn);
        let arns: Vec<&str> = ["ArnEquals", "ArnLike"]
            .iter()
            .filter_map(|op| condition_values(s, op, "aws:SourceArn"))
            .flatten()
            .collect();
        let bound = !arns.is_empty() && arns.iter().all(|a| *a == rule_arn);
        if !(principal_ok && action_ok && resource_ok && bound) {
            return Err(format!(
                "statement {sid} admits more than events.amazonaws.com sending (sqs:SendMessage) to {queue_arn} from {rule_arn} (aws:SourceArn)"
            ));
        }
    }
    Ok(())
}

/// An event pattern equals the desired one, lists compared as sets.
pub fn event_pattern_matches(observed: Option<&str>, desired: &Value) -> bool {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Array(a) => {
                let mut items: Vec<Value> = a.iter().map(norm).collect();
                items.sort_by_key(|x| x.to_string());
                items.dedup();
                Value::Array(items)
            }
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), norm(v))).collect())
            }
            other => other.clone(),
        }
    }
    observed
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .is_some_and(|o| norm(&o) == norm(desired))
}

/// The rule sends to the queue.
pub fn rule_targets_queue(targets: &[crate::cloud::RuleTarget], queue_arn: &str) -> bool {
    targets.iter().any(|t| t.arn == queue_arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "111122223333";
    const R: &str = "us-east-1";

    fn allow(cond: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": cond
        }]})
    }

    #[test]
    fn trust_with_both_conditions_is_protected() {
        let doc = allow(json!({
            "StringEquals": {"aws:SourceAccount": A},
            "ArnLike": {"aws:SourceArn": format!("arn:aws:bedrock:{R}:{A}:*")}
        }));
        assert_eq!(trust_verdict(&doc, A, R), TrustVerdict::Protected);
        // Condition keys are case-insensitive in IAM; a wildcard region covers this one.
        let doc = allow(json!({
            "StringEquals": {"aws:sourceaccount": [A]},
            "ArnEquals": {"aws:SourceArn": [format!("arn:aws:bedrock:*:{A}:*")]}
        }));
        assert_eq!(trust_verdict(&doc, A, R), TrustVerdict::Protected);
    }

    /// Defect: substring matching passed a Deny statement and a StringNotEquals condition.
    #[test]
    fn a_deny_or_negated_condition_is_not_protection() {
        let mut doc = allow(json!({
            "StringEquals": {"aws:SourceAccount": A},
            "ArnLike": {"aws:SourceArn": format!("arn:aws:bedrock:{R}:{A}:*")}
        }));
        doc["Statement"][0]["Effect"] = json!("Deny");
        assert!(matches!(
            trust_verdict(&doc, A, R),
            TrustVerdict::NotAdmitted(_)
        ));
        let doc = allow(json!({
            "StringNotEquals": {"aws:SourceAccount": A},
            "ArnLike": {"aws:SourceArn": format!("arn:aws:bedrock:{R}:{A}:*")}
        }));
        assert!(matches!(
            trust_verdict(&doc, A, R),
            TrustVerdict::Unprotected(_)
        ));
        // Another account's ARN beside ours lets that account's Bedrock in.
        let doc = allow(json!({
            "StringEquals": {"aws:SourceAccount": A},
            "ArnLike": {"aws:SourceArn": [format!("arn:aws:bedrock:{R}:{A}:*"), "arn:aws:bedrock:us-east-1:999988887777:*"]}
        }));
        assert!(matches!(
            trust_verdict(&doc, A, R),
            TrustVerdict::Unprotected(_)
        ));
        // The right conditions for another region only.
        let doc = allow(json!({
            "StringEquals": {"aws:SourceAccount": A},
            "ArnLike": {"aws:SourceArn": format!("arn:aws:bedrock:eu-west-1:{A}:*")}
        }));
        assert!(matches!(
            trust_verdict(&doc, A, R),
            TrustVerdict::Unprotected(_)
        ));
        // A Deny for everyone beside a good Allow.
        let mut doc = allow(json!({
            "StringEquals": {"aws:SourceAccount": A},
            "ArnLike": {"aws:SourceArn": format!("arn:aws:bedrock:{R}:{A}:*")}
        }));
        doc["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Sid": "NoOne", "Effect": "Deny", "Principal": "*", "Action": "sts:*"}));
        assert!(matches!(
            trust_verdict(&doc, A, R),
            TrustVerdict::NotAdmitted(_)
        ));
    }

    /// Review: one good Allow must not hide a second, unconditioned one (Allows combine with
    /// OR), and the usual conditional Deny hardening is not a lock-out.
    #[test]
    fn every_allow_must_be_bound_and_conditional_denies_are_hardening() {
        let good = json!({
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": A},
                "ArnLike": {"aws:SourceArn": format!("arn:aws:bedrock:{R}:{A}:*")}
            }
        });
        let open = json!({"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"});
        let star =
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"});
        for extra in [open, star] {
            let doc = json!({"Statement": [good.clone(), extra]});
            assert!(
                matches!(trust_verdict(&doc, A, R), TrustVerdict::Unprotected(_)),
                "{doc}"
            );
        }
        let hardening = json!({
            "Effect": "Deny",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringNotEquals": {"aws:SourceAccount": A}}
        });
        let doc = json!({"Statement": [good, hardening]});
        assert_eq!(trust_verdict(&doc, A, R), TrustVerdict::Protected);
    }

    #[test]
    fn no_allow_for_bedrock_is_not_admitted() {
        let doc = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert!(matches!(
            trust_verdict(&doc, A, R),
            TrustVerdict::NotAdmitted(_)
        ));
    }

    /// Defect: the plan required BucketKeyEnabled, the finding ignored it.
    #[test]
    fn encryption_requires_the_key_and_a_bucket_key() {
        let key = KeyRef::Known(format!("arn:aws:kms:{R}:{A}:key/k1"));
        let mut enc = BucketEncryption {
            algorithm: "aws:kms".into(),
            kms_key_id: Some(format!("arn:aws:kms:{R}:{A}:key/k1")),
            bucket_key_enabled: true,
        };
        assert_eq!(bucket_encryption_problem(Some(&enc), &key, None, "k"), None);
        enc.bucket_key_enabled = false;
        assert!(
            bucket_encryption_problem(Some(&enc), &key, None, "k")
                .unwrap()
                .contains("BucketKeyEnabled")
        );
        enc.bucket_key_enabled = true;
        enc.kms_key_id = Some("other".into());
        assert!(bucket_encryption_problem(Some(&enc), &key, None, "k").is_some());
        enc.algorithm = "AES256".into();
        assert!(
            bucket_encryption_problem(Some(&enc), &key, None, "k")
                .unwrap()
                .contains("SSE-S3")
        );
    }

    #[test]
    fn retention_and_logging_predicates() {
        assert!(retention_ok(None, None));
        assert!(retention_ok(Some(90), Some(90)));
        assert!(!retention_ok(Some(90), None));
        let c = LoggingConfig::default();
        assert!(!logging_ok(&c, None));
        assert!(
            !logging_ok(&c, Some(&c)),
            "an empty configuration is logging off"
        );
    }

    #[test]
    fn a_queue_policy_admits_only_the_rule() {
        let q = "arn:aws:sqs:us-east-1:111122223333:q";
        let r = "arn:aws:events:us-east-1:111122223333:rule/q";
        let stmt = json!({"Sid": "S", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": q, "Condition": {"ArnEquals": {"aws:SourceArn": r}}});
        let doc =
            |stmts: Vec<Value>| json!({"Version": "2012-10-17", "Statement": stmts}).to_string();
        assert_eq!(
            queue_admits_only(Some(&doc(vec![stmt.clone()])), q, r),
            Ok(())
        );
        assert!(queue_admits_only(None, q, r).is_err());
        // Another rule, no condition, anyone, a wider action, NotPrincipal: each fails.
        let mut other_rule = stmt.clone();
        other_rule["Condition"]["ArnEquals"]["aws:SourceArn"] =
            json!("arn:aws:events:us-east-1:444455556666:rule/x");
        let mut unbound = stmt.clone();
        unbound.as_object_mut().unwrap().remove("Condition");
        let mut anyone = stmt.clone();
        anyone["Principal"] = json!("*");
        let mut wider = stmt.clone();
        wider["Action"] = json!(["sqs:SendMessage", "sqs:ReceiveMessage"]);
        let mut not_principal = stmt.clone();
        not_principal.as_object_mut().unwrap().remove("Principal");
        not_principal["NotPrincipal"] = json!({"AWS": "arn:aws:iam::111122223333:root"});
        for bad in [other_rule, unbound, anyone, wider, not_principal] {
            assert!(
                queue_admits_only(Some(&doc(vec![stmt.clone(), bad.clone()])), q, r).is_err(),
                "{bad}"
            );
        }
        // A Deny only narrows.
        let deny =
            json!({"Effect": "Deny", "Principal": "*", "Action": "sqs:DeleteQueue", "Resource": q});
        assert_eq!(
            queue_admits_only(Some(&doc(vec![stmt, deny])), q, r),
            Ok(())
        );
    }

    #[test]
    fn event_patterns_compare_lists_as_sets() {
        let want = json!({"source": ["a", "b"], "detail": {"eventName": ["x", "y"]}});
        assert!(event_pattern_matches(
            Some(r#"{"detail":{"eventName":["y","x"]},"source":["b","a"]}"#),
            &want
        ));
        assert!(!event_pattern_matches(
            Some(r#"{"source":["a"],"detail":{"eventName":["x","y"]}}"#),
            &want
        ));
        assert!(!event_pattern_matches(Some("not json"), &want));
        assert!(!event_pattern_matches(None, &want));
    }
}
