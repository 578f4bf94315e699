//! Compliance findings: strict versions of Prowler's Bedrock checks plus the controls that make
//! the logs trustworthy. Pure: computed from desired + observed state.

use serde::Serialize;

use super::change::KeyRef;
use super::desired::{KeyDesired, RegionDesired, RoleDesired};
use super::judge::{self, TrustVerdict};
use super::observe::{BucketObserved, RegionObserved, RoleObserved};
use super::plan::{alias_of, key_ref, missing_key_statements};
use crate::api::{FindingResult, TrailDataEvent};
use crate::cloud::{BucketPresence, TrailInfo, TrailSelectors};
use crate::policy_doc::{bedrock_source_arn, parse_document};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A check's definition: stable id, severity, and the frameworks it supports.
pub struct CheckDef {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub frameworks: &'static [&'static str],
}

const FW_LOGGING: &[&str] = &[
    "C5",
    "ISO27001",
    "KISA-ISMS-P",
    "NIS2",
    "SOC2",
    "AWS-AISF:AISF-AI-05",
];
const FW_ENCRYPTION: &[&str] = &[
    "C5",
    "ISO27001",
    "KISA-ISMS-P",
    "NIS2",
    "SOC2",
    "AWS-AISF:AISF-INFRA-05",
];

pub const LOGGING_ENABLED: &str = "bedrock_model_invocation_logging_enabled";
pub const LOGS_ENCRYPTED: &str = "bedrock_model_invocation_logs_encryption_enabled";
pub const TEXT_DATA: &str = "bedrock_model_invocation_logging_text_data_enabled";
pub const KEY_ROTATION: &str = "bedrocklogging_kms_key_rotation_enabled";
pub const BUCKET_PUBLIC_ACCESS: &str = "bedrocklogging_s3_public_access_blocked";
pub const BUCKET_ACLS: &str = "bedrocklogging_s3_acls_disabled";
pub const LOG_RETENTION: &str = "bedrocklogging_log_group_retention_set";
pub const ROLE_CONFUSED_DEPUTY: &str = "bedrocklogging_role_confused_deputy_protection";
pub const KEY_POLICY_CONTEXT: &str = "bedrocklogging_kms_key_policy_logs_encryption_context";
pub const CLOUDTRAIL_DATA_EVENTS: &str = "bedrock_cloudtrail_data_events_enabled";
/// Reported only when it fails: more than one key is tagged for the policy in a region.
pub const SINGLE_KEY: &str = "bedrocklogging_kms_single_key";

pub const CHECKS: &[CheckDef] = &[
    CheckDef {
        id: LOGGING_ENABLED,
        title: "Bedrock model invocation logging is on, to the policy's destinations",
        severity: Severity::High,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: LOGS_ENCRYPTED,
        title: "Invocation logs are encrypted with the policy's customer-managed KMS key",
        severity: Severity::High,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: TEXT_DATA,
        title: "Text data delivery is enabled",
        severity: Severity::Medium,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: KEY_ROTATION,
        title: "The logging key rotates automatically",
        severity: Severity::Medium,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: BUCKET_PUBLIC_ACCESS,
        title: "Log buckets block all public access",
        severity: Severity::High,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: BUCKET_ACLS,
        title: "Log buckets have ACLs disabled (BucketOwnerEnforced)",
        severity: Severity::Medium,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: LOG_RETENTION,
        title: "The log group has a retention period",
        severity: Severity::Low,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: ROLE_CONFUSED_DEPUTY,
        title: "The Bedrock logging role trust has SourceAccount and SourceArn conditions",
        severity: Severity::High,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: KEY_POLICY_CONTEXT,
        title: "The key policy restricts CloudWatch Logs by encryption context",
        severity: Severity::Medium,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: SINGLE_KEY,
        title: "One KMS key per region is tagged for the policy (no duplicate from a lost CreateKey)",
        severity: Severity::Low,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: CLOUDTRAIL_DATA_EVENTS,
        title: "CloudTrail records Bedrock data events",
        severity: Severity::Medium,
        frameworks: FW_LOGGING,
    },
];

pub fn check_def(id: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|c| c.id == id)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub status: FindingResult,
    pub message: String,
}

impl Finding {
    /// A failure that makes the region non-compliant.
    pub fn blocks_compliance(&self) -> bool {
        self.status == FindingResult::Fail
    }
    /// The policy does not ask for this control: a failure is a warning.
    fn advisory(mut self) -> Self {
        if self.status == FindingResult::Fail {
            self.status = FindingResult::Warn;
        }
        self
    }
}

fn finding(id: &'static str, status: FindingResult, message: impl Into<String>) -> Finding {
    Finding {
        id,
        severity: check_def(id)
            .map(|c| c.severity)
            .unwrap_or(Severity::Medium),
        status,
        message: message.into(),
    }
}

fn pass(id: &'static str, m: impl Into<String>) -> Finding {
    finding(id, FindingResult::Pass, m)
}
fn fail(id: &'static str, m: impl Into<String>) -> Finding {
    finding(id, FindingResult::Fail, m)
}
fn skip(id: &'static str, m: impl Into<String>) -> Finding {
    finding(id, FindingResult::Skip, m)
}

/// What the policy observed of its CloudTrail trail (global, evaluated per region).
#[derive(Debug, Clone, PartialEq)]
pub enum TrailObserved {
    Missing(String),
    Found {
        info: TrailInfo,
        selectors: TrailSelectors,
        /// `GetTrailStatus.IsLogging`: a stopped trail records nothing.
        logging: bool,
    },
}

pub struct FindingInputs<'a> {
    pub desired: &'a RegionDesired,
    pub observed: &'a RegionObserved,
    pub role: Option<&'a RoleObserved>,
    pub trail: Option<&'a TrailObserved>,
}

pub fn evaluate(i: &FindingInputs<'_>) -> Vec<Finding> {
    let d = i.desired;
    let o = i.observed;
    let mut out = vec![
        logging_enabled(d, o),
        encryption(d, o),
        text_data(d, o),
        rotation(d, o),
    ];
    out.extend(bucket_checks(d, o));
    out.push(retention(d, o));
    out.push(confused_deputy(d, i.role));
    out.push(key_policy_context(d, o));
    out.push(cloudtrail(d, i.trail));
    if let Some(k) = o.key.as_ref().filter(|k| !k.extra_keys.is_empty()) {
        out.push(
            fail(
                SINGLE_KEY,
                format!(
                    "{} other key(s) in {} carry this policy's tag: {}; {} has the alias and is used. They were never deleted: schedule their deletion manually (kms schedule-key-deletion) once you have checked they encrypt nothing",
                    k.extra_keys.len(),
                    d.region,
                    k.extra_keys.join(", "),
                    k.info.arn
                ),
            )
            .advisory(),
        );
    }
    out
}

fn logging_enabled(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(seen) = o.logging.as_ref().filter(|l| l.is_configured()) else {
        return fail(
            LOGGING_ENABLED,
            format!(
                "model invocation logging is off in {}: apply the policy (Enforce) to enable it",
                d.region
            ),
        );
    };
    let want = d.logging_config();
    if judge::logging_ok(&want, Some(seen)) {
        return pass(
            LOGGING_ENABLED,
            format!("logging on in {} to the policy's destinations", d.region),
        );
    }
    let mut diffs = Vec::new();
    if want.s3.as_ref().map(|s| &s.bucket) != seen.s3.as_ref().map(|s| &s.bucket) {
        diffs.push(format!(
            "S3 destination is {} (policy: {})",
            seen.s3
                .as_ref()
                .map(|s| s.bucket.as_str())
                .unwrap_or("none"),
            want.s3
                .as_ref()
                .map(|s| s.bucket.as_str())
                .unwrap_or("none")
        ));
    }
    if want.cloud_watch.as_ref().map(|c| &c.log_group)
        != seen.cloud_watch.as_ref().map(|c| &c.log_group)
    {
        diffs.push(format!(
            "log group is {} (policy: {})",
            seen.cloud_watch
                .as_ref()
                .map(|c| c.log_group.as_str())
                .unwrap_or("none"),
            want.cloud_watch
                .as_ref()
                .map(|c| c.log_group.as_str())
                .unwrap_or("none")
        ));
    }
    if diffs.is_empty() {
        diffs.push("data types, prefixes or role differ from the policy".into());
    }
    fail(
        LOGGING_ENABLED,
        format!(
            "logging in {} differs from the policy: {}",
            d.region,
            diffs.join("; ")
        ),
    )
}

fn encryption(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let key = key_ref(o);
    // How to name the key in messages when it does not exist yet.
    let key_label = match (&key, &d.key) {
        (KeyRef::Known(arn), _) => arn.clone(),
        (KeyRef::New, KeyDesired::Create { alias, .. }) => {
            format!("the policy's key {alias} (not created yet)")
        }
        (KeyRef::New, KeyDesired::Existing { reference }) => reference.clone(),
    };
    let mut problems = Vec::new();
    match &o.key {
        None => problems.push(format!(
            "the policy's KMS key does not exist in {} yet",
            d.region
        )),
        Some(k) if !k.info.enabled || k.info.state != "Enabled" => problems.push(format!(
            "key {} is {}",
            k.info.arn,
            if k.info.state.is_empty() {
                "disabled"
            } else {
                &k.info.state
            }
        )),
        Some(_) => {}
    }
    let mut check_bucket = |name: &str, seen: Option<&BucketObserved>| match seen
        .filter(|b| b.presence == BucketPresence::Owned)
    {
        None => problems.push(format!("bucket {name} does not exist")),
        Some(b) => {
            if let Some(p) = judge::bucket_encryption_problem(
                b.encryption.as_ref(),
                &key,
                alias_of(d),
                &key_label,
            ) {
                problems.push(format!("bucket {name} {p}"));
            }
        }
    };
    if let Some(b) = &d.bucket {
        check_bucket(&b.name, o.bucket.as_ref());
    }
    if let Some(l) = &d.large_bucket
        && d.bucket.as_ref().map(|b| &b.name) != Some(&l.name)
    {
        check_bucket(&l.name, o.large_bucket_view(d));
    }
    if let Some(g) = &d.log_group {
        match &o.log_group {
            None => problems.push(format!("log group {} does not exist", g.name)),
            Some(seen) => match seen.kms_key_id.as_deref() {
                None => problems.push(format!(
                    "log group {} has no KMS key; policy requires {key_label}",
                    g.name
                )),
                Some(id) if !judge::log_group_key_ok(Some(id), &key, alias_of(d)) => {
                    problems.push(format!(
                        "log group {} is encrypted with {id}; policy requires {key_label}",
                        g.name
                    ))
                }
                Some(_) => {}
            },
        }
    }
    if problems.is_empty() {
        pass(
            LOGS_ENCRYPTED,
            format!("all destinations in {} use {key_label}", d.region),
        )
    } else {
        fail(LOGS_ENCRYPTED, problems.join("; "))
    }
}

fn text_data(d: &RegionDesired, o: &RegionObserved) -> Finding {
    match o.logging.as_ref().filter(|l| l.is_configured()) {
        None => fail(
            TEXT_DATA,
            format!(
                "logging is off in {}, so no text data is delivered",
                d.region
            ),
        ),
        Some(l) if l.text.unwrap_or(true) => pass(TEXT_DATA, "text data delivery enabled"),
        Some(_) => {
            let f = fail(
                TEXT_DATA,
                format!(
                    "text data delivery is disabled in {}: add Text to spec.dataTypes",
                    d.region
                ),
            );
            if d.data_types.contains(&crate::api::DataType::Text) {
                f
            } else {
                f.advisory()
            }
        }
    }
}

fn rotation(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(k) = &o.key else {
        return fail(KEY_ROTATION, format!("no key in {} yet", d.region));
    };
    match (&d.key, k.rotation) {
        (_, true) => pass(KEY_ROTATION, format!("rotation enabled on {}", k.info.arn)),
        (KeyDesired::Create { rotation: false, .. }, false) => fail(
            KEY_ROTATION,
            format!("rotation is off on {} (spec.kmsKey.create.rotation is false): set it to true", k.info.arn),
        )
        .advisory(),
        (KeyDesired::Create { .. }, false) => fail(
            KEY_ROTATION,
            format!("rotation is off on {}: apply the policy to enable it", k.info.arn),
        ),
        (KeyDesired::Existing { .. }, false) => fail(
            KEY_ROTATION,
            format!(
                "rotation is off on existing key {}: enable automatic rotation on it (kms enable-key-rotation)",
                k.info.arn
            ),
        )
        .advisory(),
    }
}

fn buckets<'a>(
    d: &'a RegionDesired,
    o: &'a RegionObserved,
) -> Vec<(&'a str, Option<&'a BucketObserved>)> {
    let mut out = Vec::new();
    if let Some(b) = &d.bucket {
        out.push((b.name.as_str(), o.bucket.as_ref()));
    }
    if let Some(l) = &d.large_bucket
        && d.bucket.as_ref().map(|b| &b.name) != Some(&l.name)
    {
        out.push((l.name.as_str(), o.large_bucket.as_ref()));
    }
    out
}

fn bucket_checks(d: &RegionDesired, o: &RegionObserved) -> Vec<Finding> {
    let list = buckets(d, o);
    if list.is_empty() {
        return vec![
            skip(BUCKET_PUBLIC_ACCESS, "no S3 destination in the policy"),
            skip(BUCKET_ACLS, "no S3 destination in the policy"),
        ];
    }
    let mut pab = Vec::new();
    let mut acl = Vec::new();
    for (name, seen) in list {
        let Some(b) = seen.filter(|b| b.presence == BucketPresence::Owned) else {
            pab.push(format!("bucket {name} does not exist"));
            acl.push(format!("bucket {name} does not exist"));
            continue;
        };
        if !judge::public_access_blocked(b.public_access_block) {
            pab.push(format!("bucket {name} does not block all public access: turn on all four public access block settings"));
        }
        if !judge::acls_disabled(b.ownership.as_deref()) {
            acl.push(format!(
                "bucket {name} object ownership is {}: set BucketOwnerEnforced (ACLs disabled, required by Bedrock)",
                b.ownership.as_deref().unwrap_or("unset (ACLs enabled)")
            ));
        }
    }
    vec![
        if pab.is_empty() {
            pass(BUCKET_PUBLIC_ACCESS, "all public access blocked")
        } else {
            fail(BUCKET_PUBLIC_ACCESS, pab.join("; "))
        },
        if acl.is_empty() {
            pass(BUCKET_ACLS, "ACLs disabled (BucketOwnerEnforced)")
        } else {
            fail(BUCKET_ACLS, acl.join("; "))
        },
    ]
}

fn retention(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(g) = &d.log_group else {
        return skip(LOG_RETENTION, "no CloudWatch destination in the policy");
    };
    match (&o.log_group, g.retention) {
        (None, _) => fail(
            LOG_RETENTION,
            format!("log group {} does not exist", g.name),
        ),
        (Some(seen), Some(want)) if judge::retention_ok(Some(want), seen.retention_in_days) => {
            pass(LOG_RETENTION, format!("retention {want} days"))
        }
        (Some(seen), Some(want)) => fail(
            LOG_RETENTION,
            format!(
                "log group {} retention is {} (policy: {want} days)",
                g.name,
                seen.retention_in_days
                    .map(|d| format!("{d} days"))
                    .unwrap_or("never expire".into())
            ),
        ),
        (Some(seen), None) => match seen.retention_in_days {
            Some(days) => pass(LOG_RETENTION, format!("retention {days} days")),
            None => fail(
                LOG_RETENTION,
                format!(
                    "log group {} keeps logs forever: set spec.cloudWatch.retentionInDays",
                    g.name
                ),
            )
            .advisory(),
        },
    }
}

fn confused_deputy(d: &RegionDesired, role: Option<&RoleObserved>) -> Finding {
    let Some(want) = &d.role else {
        return skip(
            ROLE_CONFUSED_DEPUTY,
            "no CloudWatch destination, so no delivery role",
        );
    };
    let Some(info) = role.and_then(|r| r.role.as_ref()) else {
        return fail(
            ROLE_CONFUSED_DEPUTY,
            format!("role {} does not exist", want.name()),
        );
    };
    let Ok(doc) = parse_document(&info.trust_policy) else {
        return fail(
            ROLE_CONFUSED_DEPUTY,
            format!("trust policy of {} cannot be parsed", info.arn),
        );
    };
    let source_arn = bedrock_source_arn(&d.region, &d.account);
    let fix = match want {
        RoleDesired::Managed { .. } => "apply the policy to correct it",
        RoleDesired::Existing { .. } => {
            "add aws:SourceAccount and aws:SourceArn conditions to its trust policy"
        }
    };
    match judge::trust_verdict(&doc, &d.account, &d.region) {
        TrustVerdict::Protected => pass(
            ROLE_CONFUSED_DEPUTY,
            format!(
                "{} trust is limited to Bedrock in {} of {}",
                info.arn, d.region, d.account
            ),
        ),
        TrustVerdict::Unprotected(why) => fail(
            ROLE_CONFUSED_DEPUTY,
            format!(
                "{} trust does not restrict bedrock.amazonaws.com to SourceAccount {} and SourceArn {source_arn} ({why}): {fix}",
                info.arn, d.account
            ),
        ),
        TrustVerdict::NotAdmitted(why) => fail(
            ROLE_CONFUSED_DEPUTY,
            format!(
                "{} trust does not let Bedrock in {} assume it ({why}): {fix}",
                info.arn, d.region
            ),
        ),
    }
}

fn key_policy_context(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(k) = &o.key else {
        return fail(KEY_POLICY_CONTEXT, format!("no key in {} yet", d.region));
    };
    if !k.policy_readable {
        return fail(
            KEY_POLICY_CONTEXT,
            format!(
                "key {} (spec.kmsKey.existing) belongs to another account: its key policy cannot be read from here (KMS does not allow GetKeyPolicy across accounts), so this check is not verified; make sure it grants logs.{}.amazonaws.com (bound to the log group's encryption context) and bedrock.amazonaws.com kms:GenerateDataKey",
                k.info.arn, d.region
            ),
        )
        .advisory();
    }
    let missing = missing_key_statements(d, &k.policy);
    if missing.is_empty() {
        pass(
            KEY_POLICY_CONTEXT,
            format!(
                "key policy of {} grants Bedrock and CloudWatch Logs only what they need",
                k.info.arn
            ),
        )
    } else {
        let fix = if d.manage_key_policy {
            "apply the policy to merge them"
        } else {
            "spec.kmsKey.managePolicy is false: add them by hand or set managePolicy: true"
        };
        fail(
            KEY_POLICY_CONTEXT,
            format!(
                "key policy of {} needs: {}; {fix}",
                k.info.arn,
                missing.join(", ")
            ),
        )
    }
}

fn cloudtrail(d: &RegionDesired, trail: Option<&TrailObserved>) -> Finding {
    if d.trail_events.is_empty() {
        return skip(CLOUDTRAIL_DATA_EVENTS, "no spec.cloudTrail in the policy");
    }
    match trail {
        None => fail(CLOUDTRAIL_DATA_EVENTS, "the trail could not be read"),
        Some(TrailObserved::Missing(name)) => fail(
            CLOUDTRAIL_DATA_EVENTS,
            format!(
                "trail {name} (spec.cloudTrail.trailName) does not exist: create it or fix the name"
            ),
        ),
        Some(TrailObserved::Found {
            info,
            selectors,
            logging,
        }) => {
            if !logging {
                return fail(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!(
                        "trail {} is not logging (stopped): start it (cloudtrail start-logging --name {})",
                        info.name, info.arn
                    ),
                );
            }
            if !info.multi_region && info.home_region != d.region {
                return fail(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!(
                        "trail {} is a single-region trail in {}, so it does not record {}: make it multi-region",
                        info.name, info.home_region, d.region
                    ),
                );
            }
            let missing = super::plan_trail::missing_types(selectors, &d.trail_events);
            if missing.is_empty() {
                pass(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!("trail {} records the Bedrock data events", info.name),
                )
            } else {
                let names: Vec<String> = missing
                    .iter()
                    .map(|t: &TrailDataEvent| t.resource_type())
                    .collect();
                fail(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!("trail {} does not record {}", info.name, names.join(", ")),
                )
            }
        }
    }
}
