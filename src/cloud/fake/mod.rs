//! An in-memory AWS for unit tests: state per region, every call recorded, faults injectable.

mod bedrock;
mod discovery;
mod events;
mod iam;
mod kms;
mod logs;
mod s3;
mod securityhub;
mod sqs;
mod sts;
mod trail;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::error::{CloudError, ErrorKind};
use super::model::*;
use super::{Cloud, Tags};

#[derive(Debug, Clone, Default)]
pub struct FakeKey {
    pub info: Option<KeyInfo>,
    pub policy: String,
    pub rotation: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, Default)]
pub struct FakeBucket {
    pub region: String,
    pub encryption: Option<BucketEncryption>,
    pub pab: Option<PublicAccessBlock>,
    pub ownership: Option<String>,
    pub policy: Option<String>,
    pub tags: Tags,
    pub foreign: bool,
}

#[derive(Debug, Clone, Default)]
pub struct FakeRole {
    pub arn: String,
    pub trust: String,
    pub inline: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeQueue {
    pub info: QueueInfo,
    pub tags: Tags,
    /// (id, body) of messages waiting; received ones stay until deleted (receipt = id).
    pub messages: Vec<(String, String)>,
    /// Ids received and not yet deleted (hidden).
    pub in_flight: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeRule {
    pub info: RuleInfo,
    pub targets: Vec<RuleTarget>,
    pub tags: Tags,
}

/// The whole fake account.
#[derive(Debug, Default)]
pub struct FakeState {
    pub account: String,
    /// (region, key id) -> key
    pub keys: BTreeMap<(String, String), FakeKey>,
    /// (region, alias) -> key id
    pub aliases: BTreeMap<(String, String), String>,
    pub buckets: BTreeMap<String, FakeBucket>,
    /// (region, name) -> group
    pub log_groups: BTreeMap<(String, String), LogGroupInfo>,
    pub roles: BTreeMap<String, FakeRole>,
    pub logging: BTreeMap<String, LoggingConfig>,
    /// name -> trail (found by name or ARN; single-region trails only from their home region)
    pub trails: BTreeMap<String, (TrailInfo, TrailSelectors)>,
    /// Security Hub findings imported, by id.
    pub findings: BTreeMap<String, serde_json::Value>,
    /// Names of trails that are not logging (StopLogging).
    pub stopped_trails: std::collections::BTreeSet<String>,
    /// (region, name) -> queue
    pub queues: BTreeMap<(String, String), FakeQueue>,
    /// (region, name) -> EventBridge rule on the default bus
    pub rules: BTreeMap<(String, String), FakeRule>,
    /// Regions enabled in the account (DescribeRegions) and where Bedrock is offered (SSM).
    pub enabled_regions: Vec<String>,
    pub bedrock_regions: Vec<String>,
    /// Organizations: parent (root or OU) -> (child OUs, accounts).
    pub org: BTreeMap<String, (Vec<String>, Vec<OrgAccount>)>,
    next_key: u32,
}

/// A fault to inject: the next `times` calls of `operation` fail with `kind`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub message: String,
    pub times: u32,
    /// Restrict to one region (None: any).
    pub region: Option<String>,
}

#[derive(Default)]
pub struct FakeCloud {
    pub state: Mutex<FakeState>,
    pub calls: Mutex<Vec<(String, &'static str)>>,
    pub faults: Mutex<Vec<Fault>>,
    /// (region, queue name) -> URL the adapter remembers, as `SdkCloud` does (not AWS state).
    pub queue_urls: super::QueueUrls,
}

pub use super::WRITE_PREFIXES;

impl FakeCloud {
    pub fn new(account: &str) -> Self {
        let fake = FakeCloud::default();
        fake.state.lock().expect("fresh mutex").account = account.to_string();
        fake
    }

    pub fn inject(&self, fault: Fault) {
        self.faults.lock().expect("faults").push(fault);
    }

    /// Operation names called so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .map(|(_, op)| op.to_string())
            .collect()
    }

    pub fn write_calls(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|op| WRITE_PREFIXES.iter().any(|p| op.starts_with(p)))
            .collect()
    }

    pub fn reset_calls(&self) {
        self.calls.lock().expect("calls").clear();
    }

    /// The operations called in one region.
    pub fn calls_of(&self, region: &str) -> Vec<String> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|(r, _)| r == region)
            .map(|(_, op)| op.to_string())
            .collect()
    }

    /// Calls scoped to a region (IAM/STS calls are recorded with region "global").
    pub fn calls_in(&self, region: &str) -> usize {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|(r, _)| r == region)
            .count()
    }

    fn enter(
        &self,
        region: &str,
        op: &'static str,
        service: &'static str,
    ) -> Result<(), CloudError> {
        self.calls
            .lock()
            .expect("calls")
            .push((region.to_string(), op));
        let mut faults = self.faults.lock().expect("faults");
        if let Some(f) = faults.iter_mut().find(|f| {
            f.operation == op && f.times > 0 && f.region.as_deref().is_none_or(|r| r == region)
        }) {
            f.times -= 1;
            return Err(CloudError::new(f.kind, service, op, f.message.clone()));
        }
        Ok(())
    }

    fn st(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().expect("state")
    }

    fn resolve_key(st: &FakeState, region: &str, key: &str) -> Option<String> {
        if let Some(alias) = key.strip_prefix("alias/") {
            return st
                .aliases
                .get(&(region.to_string(), format!("alias/{alias}")))
                .cloned();
        }
        if key.contains(":alias/") {
            let alias = &key[key.find(":alias/").map(|i| i + 1).unwrap_or(0)..];
            return st
                .aliases
                .get(&(region.to_string(), alias.to_string()))
                .cloned();
        }
        let id = key.rsplit('/').next().unwrap_or(key).to_string();
        st.keys
            .contains_key(&(region.to_string(), id.clone()))
            .then_some(id)
    }

    /// Store a new enabled symmetric key (what CreateKey does, without recording a call).
    fn insert_key(&self, region: &str, policy: &str, tags: &Tags) -> KeyInfo {
        let mut st = self.st();
        st.next_key += 1;
        let id = format!("00000000-0000-0000-0000-{:012}", st.next_key);
        let info = KeyInfo {
            arn: format!("arn:aws:kms:{region}:{}:key/{id}", st.account),
            key_id: id.clone(),
            enabled: true,
            state: "Enabled".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
            usage: "ENCRYPT_DECRYPT".into(),
            manager: "CUSTOMER".into(),
            created: i64::from(st.next_key),
        };
        st.keys.insert(
            (region.to_string(), id),
            FakeKey {
                info: Some(info.clone()),
                policy: policy.to_string(),
                rotation: false,
                tags: tags.clone(),
            },
        );
        info
    }

    /// Test helper: a key created (and tagged for `policy`) but never aliased, as after a crash.
    pub fn kms_create_key_for_test(&self, region: &str, policy: &str) {
        let tags = vec![(crate::api::POLICY_TAG.to_string(), policy.to_string())];
        self.insert_key(region, "{\"Statement\": []}", &tags);
    }

    /// Test helper: put a key directly into the fake account.
    pub fn add_key(&self, region: &str, info: KeyInfo, policy: &str) {
        let mut st = self.st();
        st.keys.insert(
            (region.to_string(), info.key_id.clone()),
            FakeKey {
                info: Some(info),
                policy: policy.to_string(),
                rotation: false,
                tags: vec![],
            },
        );
    }
}

fn not_found(service: &'static str, op: &'static str, what: &str) -> CloudError {
    CloudError::new(
        ErrorKind::NotFound,
        service,
        op,
        format!("{what} not found"),
    )
}

/// A factory handing out one shared fake (per account id in `accounts`, keyed by role ARN).
pub struct FakeCloudFactory {
    pub default: std::sync::Arc<FakeCloud>,
    pub by_role: HashMap<String, std::sync::Arc<FakeCloud>>,
}

#[async_trait]
impl super::CloudFactory for FakeCloudFactory {
    async fn cloud_for(
        &self,
        target: &super::AccountTarget,
        _session: &str,
    ) -> Result<std::sync::Arc<dyn Cloud>, CloudError> {
        match &target.role_arn {
            None => Ok(self.default.clone()),
            Some(arn) => self
                .by_role
                .get(arn)
                .cloned()
                .map(|c| c as std::sync::Arc<dyn Cloud>)
                .ok_or_else(|| {
                    CloudError::new(
                        ErrorKind::AccessDenied,
                        "sts",
                        "AssumeRole",
                        format!("not authorized to assume {arn}"),
                    )
                }),
        }
    }
}
