//! The desired state of one region, resolved from the spec (placeholders substituted).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{BedrockLoggingPolicySpec, DEFAULT_ROLE_NAME, DataType, TrailDataEvent};
use crate::cloud::{CloudWatchDestination, LoggingConfig, S3Destination};
use crate::policy_doc::{bucket_arn, log_group_arn, partition};

pub use crate::api::{MANAGED_BY_TAG, POLICY_TAG};

#[derive(Debug, Clone, PartialEq)]
pub enum KeyDesired {
    Create { alias: String, rotation: bool },
    Existing { reference: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketDesired {
    pub name: String,
    pub prefix: Option<String>,
    pub create: bool,
    /// The spec field, for error messages.
    pub field: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogGroupDesired {
    pub name: String,
    pub retention: Option<i32>,
    pub create: bool,
}

/// Which IAM role Bedrock uses for CloudWatch delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleDesired {
    Managed { name: String, arn: String },
    Existing { name: String, arn: String },
}

impl RoleDesired {
    pub fn arn(&self) -> &str {
        match self {
            RoleDesired::Managed { arn, .. } | RoleDesired::Existing { arn, .. } => arn,
        }
    }
    pub fn name(&self) -> &str {
        match self {
            RoleDesired::Managed { name, .. } | RoleDesired::Existing { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegionDesired {
    pub policy: String,
    pub region: String,
    pub account: String,
    pub key: KeyDesired,
    pub manage_key_policy: bool,
    pub bucket: Option<BucketDesired>,
    pub large_bucket: Option<BucketDesired>,
    pub log_group: Option<LogGroupDesired>,
    pub role: Option<RoleDesired>,
    pub data_types: BTreeSet<DataType>,
    pub trail_events: Vec<TrailDataEvent>,
    /// The tamper-response wiring (`spec.tamperResponse`).
    pub tamper: Option<super::tamper::TamperDesired>,
}

/// Tags on every resource the operator creates (in the create call itself).
pub fn resource_tags(policy: &str) -> Vec<(String, String)> {
    vec![
        (POLICY_TAG.to_string(), policy.to_string()),
        (
            MANAGED_BY_TAG.to_string(),
            "bedrock-logging-operator".to_string(),
        ),
    ]
}

/// Substitute `{region}` and `{accountId}`.
pub fn substitute(template: &str, region: &str, account: &str) -> String {
    template
        .replace("{region}", region)
        .replace("{accountId}", account)
}

pub fn role_desired(
    spec: &BedrockLoggingPolicySpec,
    account: &str,
    region: &str,
) -> Option<RoleDesired> {
    let cw = spec.cloud_watch.as_ref()?;
    let part = partition(region);
    Some(match &cw.role_arn {
        Some(arn) => RoleDesired::Existing {
            name: arn.rsplit('/').next().unwrap_or(arn).to_string(),
            arn: arn.clone(),
        },
        None => {
            let name = cw
                .role_name
                .clone()
                .unwrap_or_else(|| DEFAULT_ROLE_NAME.to_string());
            RoleDesired::Managed {
                arn: format!("arn:{part}:iam::{account}:role/{name}"),
                name,
            }
        }
    })
}

impl RegionDesired {
    pub fn resolve(
        policy: &str,
        spec: &BedrockLoggingPolicySpec,
        region: &str,
        account: &str,
    ) -> Self {
        let sub = |s: &str| substitute(s, region, account);
        let key = match (&spec.kms_key.create, &spec.kms_key.existing) {
            (_, Some(existing)) => KeyDesired::Existing {
                reference: sub(existing),
            },
            (Some(create), None) => KeyDesired::Create {
                alias: sub(&create.alias),
                rotation: create.rotation,
            },
            // Unreachable after validation (exactly one of create/existing).
            (None, None) => KeyDesired::Create {
                alias: "alias/bedrock-logging".into(),
                rotation: true,
            },
        };
        let bucket = spec.s3.as_ref().map(|s| BucketDesired {
            name: sub(&s.bucket_name),
            prefix: s.key_prefix.clone().filter(|p| !p.is_empty()),
            create: s.create,
            field: "spec.s3.bucketName",
        });
        let large_bucket = spec
            .cloud_watch
            .as_ref()
            .and_then(|c| c.large_data_delivery.as_ref())
            .map(|l| BucketDesired {
                name: sub(&l.bucket_name),
                prefix: l.key_prefix.clone().filter(|p| !p.is_empty()),
                create: l.create,
                field: "spec.cloudWatch.largeDataDelivery.bucketName",
            });
        let log_group = spec.cloud_watch.as_ref().map(|c| LogGroupDesired {
            name: sub(&c.log_group_name),
            retention: c.retention_in_days,
            create: c.create,
        });
        RegionDesired {
            policy: policy.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            key,
            manage_key_policy: spec.kms_key.manage_policy,
            bucket,
            large_bucket,
            log_group,
            role: role_desired(spec, account, region),
            data_types: spec.data_types.iter().copied().collect(),
            trail_events: spec
                .cloud_trail
                .as_ref()
                .map(|t| t.data_events.clone())
                .unwrap_or_default(),
            tamper: super::tamper::TamperDesired::resolve(spec, region, account),
        }
    }

    pub fn tags(&self) -> Vec<(String, String)> {
        resource_tags(&self.policy)
    }

    pub fn log_group_arn(&self) -> Option<String> {
        self.log_group
            .as_ref()
            .map(|g| log_group_arn(&self.region, &self.account, &g.name))
    }

    pub fn bucket_arn(&self) -> Option<String> {
        self.bucket
            .as_ref()
            .map(|b| bucket_arn(&self.region, &b.name))
    }

    pub fn large_bucket_arn(&self) -> Option<String> {
        self.large_bucket
            .as_ref()
            .map(|b| bucket_arn(&self.region, &b.name))
    }

    /// The Bedrock logging configuration this region must have.
    pub fn logging_config(&self) -> LoggingConfig {
        let has = |t: DataType| Some(self.data_types.contains(&t));
        LoggingConfig {
            s3: self.bucket.as_ref().map(|b| S3Destination {
                bucket: b.name.clone(),
                prefix: b.prefix.clone(),
            }),
            cloud_watch: self.log_group.as_ref().map(|g| CloudWatchDestination {
                log_group: g.name.clone(),
                role_arn: self
                    .role
                    .as_ref()
                    .map(|r| r.arn().to_string())
                    .unwrap_or_default(),
                large_data: self.large_bucket.as_ref().map(|b| S3Destination {
                    bucket: b.name.clone(),
                    prefix: b.prefix.clone(),
                }),
            }),
            text: has(DataType::Text),
            image: has(DataType::Image),
            embedding: has(DataType::Embedding),
            video: has(DataType::Video),
            audio: has(DataType::Audio),
        }
    }
}

/// The CloudTrail trail the policy records Bedrock data events on.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailDesired {
    /// Name or ARN, as the spec gives it.
    pub name: String,
    pub types: Vec<TrailDataEvent>,
    /// The home region when `name` is an ARN (else the trail is searched for).
    pub home_region: Option<String>,
    /// A region to ask CloudTrail from (ListTrails answers for every region).
    pub ask_region: String,
    /// Where else to look when ListTrails does not name it (every region of the policy).
    pub search_regions: Vec<String>,
}

/// Everything a pass needs from the spec, resolved once for the governed account. Nothing after
/// [`PolicyDesired::resolve`] reads the spec.
#[derive(Debug, Clone)]
pub struct PolicyDesired {
    pub policy: String,
    pub account: String,
    /// Every region of the policy, in spec order (reports list them all).
    pub all_regions: Vec<String>,
    /// Regions this policy converges in this pass (not owned by an older policy).
    pub regions: Vec<RegionDesired>,
    /// Regions owned by another (older) policy: region → owner.
    pub conflicts: BTreeMap<String, String>,
    /// The delivery role, when there is a CloudWatch destination and a region to serve.
    pub role: Option<RoleDesired>,
    pub trail: Option<TrailDesired>,
}

impl PolicyDesired {
    /// `all` is every region of the policy: `spec.regions`, or what `allRegions` discovered.
    pub fn resolve(
        policy: &str,
        spec: &BedrockLoggingPolicySpec,
        account: &str,
        all: &[String],
        conflicts: BTreeMap<String, String>,
    ) -> Self {
        let regions: Vec<RegionDesired> = all
            .iter()
            .filter(|r| !conflicts.contains_key(*r))
            .map(|r| RegionDesired::resolve(policy, spec, r, account))
            .collect();
        let first = all.first().map(String::as_str).unwrap_or("us-east-1");
        let role = role_desired(spec, account, first).filter(|_| !regions.is_empty());
        let trail = spec.cloud_trail.as_ref().map(|t| {
            let home_region = t
                .trail_name
                .starts_with("arn:")
                .then(|| t.trail_name.split(':').nth(3).map(String::from))
                .flatten()
                .filter(|r| !r.is_empty());
            TrailDesired {
                name: t.trail_name.clone(),
                types: t.data_events.clone(),
                ask_region: home_region
                    .clone()
                    .or_else(|| all.first().cloned())
                    .unwrap_or_else(|| "us-east-1".into()),
                home_region,
                search_regions: all.to_vec(),
            }
        });
        PolicyDesired {
            policy: policy.to_string(),
            account: account.to_string(),
            all_regions: all.to_vec(),
            regions,
            conflicts,
            role,
            trail,
        }
    }
}

impl PolicyDesired {
    /// The trail, unless this policy governs no region (every one owned by an older policy)
    /// or the trail's home region is another policy's.
    pub fn governed_trail(&self) -> Option<&TrailDesired> {
        self.trail.as_ref().filter(|t| {
            !self.regions.is_empty()
                && t.home_region
                    .as_ref()
                    .is_none_or(|h| !self.conflicts.contains_key(h))
        })
    }
}

impl RegionDesired {
    /// Use the role ARN IAM returned (a role found by name may live under a path).
    pub fn set_role_arn(&mut self, observed: &str) {
        if let Some(RoleDesired::Managed { arn, .. }) = &mut self.role {
            *arn = observed.to_string();
        }
    }
}
