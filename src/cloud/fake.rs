//! An in-memory AWS for unit tests: state per region, every call recorded, faults injectable.

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
    /// Names of trails that are not logging (StopLogging).
    pub stopped_trails: std::collections::BTreeSet<String>,
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
}

/// Operation-name prefixes of AWS write calls (the rest are reads).
pub const WRITE_PREFIXES: &[&str] = &[
    "Create",
    "Put",
    "Update",
    "Enable",
    "Associate",
    "Delete",
    "Tag",
    "Schedule",
    "Disable",
    "Untag",
    "Start",
    "Stop",
];

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
        let tags = vec![(
            crate::engine::desired::POLICY_TAG.to_string(),
            policy.to_string(),
        )];
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

#[async_trait]
impl Cloud for FakeCloud {
    async fn account_id(&self) -> Result<String, CloudError> {
        self.enter("global", "GetCallerIdentity", "sts")?;
        Ok(self.st().account.clone())
    }

    async fn kms_describe_key(
        &self,
        region: &str,
        key: &str,
    ) -> Result<Option<KeyInfo>, CloudError> {
        self.enter(region, "DescribeKey", "kms")?;
        let st = self.st();
        Ok(Self::resolve_key(&st, region, key)
            .and_then(|id| st.keys.get(&(region.to_string(), id)))
            .and_then(|k| k.info.clone()))
    }

    async fn kms_find_tagged_keys(
        &self,
        region: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<KeyInfo>, CloudError> {
        self.enter(region, "ListKeys", "kms")?;
        let st = self.st();
        let mut keys: Vec<KeyInfo> = st
            .keys
            .iter()
            .filter(|((r, _), _)| r == region)
            .filter(|(_, k)| k.tags.iter().any(|(tk, tv)| tk == key && tv == value))
            .filter_map(|(_, k)| k.info.clone())
            .filter(|i| i.state != "PendingDeletion")
            .collect();
        keys.sort_by_key(|k| (k.created, k.key_id.clone()));
        Ok(keys)
    }

    async fn kms_rotation_enabled(&self, region: &str, key_id: &str) -> Result<bool, CloudError> {
        self.enter(region, "GetKeyRotationStatus", "kms")?;
        let st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "GetKeyRotationStatus", key_id))?;
        Ok(st.keys[&(region.to_string(), id)].rotation)
    }

    async fn kms_get_key_policy(&self, region: &str, key_id: &str) -> Result<String, CloudError> {
        self.enter(region, "GetKeyPolicy", "kms")?;
        let st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "GetKeyPolicy", key_id))?;
        Ok(st.keys[&(region.to_string(), id)].policy.clone())
    }

    async fn kms_create_key(
        &self,
        region: &str,
        _description: &str,
        policy: &str,
        tags: &Tags,
    ) -> Result<KeyInfo, CloudError> {
        self.enter(region, "CreateKey", "kms")?;
        Ok(self.insert_key(region, policy, tags))
    }

    async fn kms_create_alias(
        &self,
        region: &str,
        alias: &str,
        key_id: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "CreateAlias", "kms")?;
        let mut st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "CreateAlias", key_id))?;
        let k = (region.to_string(), alias.to_string());
        if st.aliases.contains_key(&k) {
            return Err(CloudError::new(
                ErrorKind::Invalid,
                "kms",
                "CreateAlias",
                "AlreadyExistsException",
            ));
        }
        st.aliases.insert(k, id);
        Ok(())
    }

    async fn kms_enable_rotation(&self, region: &str, key_id: &str) -> Result<(), CloudError> {
        self.enter(region, "EnableKeyRotation", "kms")?;
        let mut st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "EnableKeyRotation", key_id))?;
        if let Some(k) = st.keys.get_mut(&(region.to_string(), id)) {
            k.rotation = true;
        }
        Ok(())
    }

    async fn kms_put_key_policy(
        &self,
        region: &str,
        key_id: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutKeyPolicy", "kms")?;
        let mut st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "PutKeyPolicy", key_id))?;
        if let Some(k) = st.keys.get_mut(&(region.to_string(), id)) {
            k.policy = policy.to_string();
        }
        Ok(())
    }

    async fn s3_probe(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(BucketPresence, Option<BucketEncryption>), CloudError> {
        self.enter(region, "GetBucketEncryption", "s3")?;
        Ok(match self.st().buckets.get(bucket) {
            None => (BucketPresence::Missing, None),
            Some(b) if b.foreign => (BucketPresence::Foreign, None),
            Some(b) => (BucketPresence::Owned, b.encryption.clone()),
        })
    }

    async fn s3_get_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, CloudError> {
        self.enter(region, "GetPublicAccessBlock", "s3")?;
        Ok(self.st().buckets.get(bucket).and_then(|b| b.pab))
    }

    async fn s3_get_ownership(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        self.enter(region, "GetBucketOwnershipControls", "s3")?;
        Ok(self
            .st()
            .buckets
            .get(bucket)
            .and_then(|b| b.ownership.clone()))
    }

    async fn s3_get_policy(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        self.enter(region, "GetBucketPolicy", "s3")?;
        Ok(self.st().buckets.get(bucket).and_then(|b| b.policy.clone()))
    }

    async fn s3_create_bucket(
        &self,
        region: &str,
        bucket: &str,
        tags: &Tags,
    ) -> Result<(), CloudError> {
        self.enter(region, "CreateBucket", "s3")?;
        self.st()
            .buckets
            .entry(bucket.to_string())
            .or_insert_with(|| FakeBucket {
                region: region.to_string(),
                tags: tags.clone(),
                ..Default::default()
            });
        Ok(())
    }

    async fn s3_put_encryption(
        &self,
        region: &str,
        bucket: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutBucketEncryption", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutBucketEncryption", bucket))?;
        b.encryption = Some(BucketEncryption {
            algorithm: "aws:kms".into(),
            kms_key_id: Some(kms_key_arn.to_string()),
            bucket_key_enabled: true,
        });
        Ok(())
    }

    async fn s3_put_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutPublicAccessBlock", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutPublicAccessBlock", bucket))?;
        b.pab = Some(PublicAccessBlock::ALL);
        Ok(())
    }

    async fn s3_put_ownership_enforced(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutBucketOwnershipControls", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutBucketOwnershipControls", bucket))?;
        b.ownership = Some("BucketOwnerEnforced".into());
        Ok(())
    }

    async fn s3_put_policy(
        &self,
        region: &str,
        bucket: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutBucketPolicy", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutBucketPolicy", bucket))?;
        b.policy = Some(policy.to_string());
        Ok(())
    }

    async fn logs_describe_group(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<LogGroupInfo>, CloudError> {
        self.enter(region, "DescribeLogGroups", "logs")?;
        Ok(self
            .st()
            .log_groups
            .get(&(region.to_string(), name.to_string()))
            .cloned())
    }

    async fn logs_create_group(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
        _tags: &Tags,
    ) -> Result<(), CloudError> {
        self.enter(region, "CreateLogGroup", "logs")?;
        let mut st = self.st();
        let arn = format!("arn:aws:logs:{region}:{}:log-group:{name}", st.account);
        st.log_groups.insert(
            (region.to_string(), name.to_string()),
            LogGroupInfo {
                arn,
                kms_key_id: Some(kms_key_arn.to_string()),
                retention_in_days: None,
            },
        );
        Ok(())
    }

    async fn logs_associate_key(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "AssociateKmsKey", "logs")?;
        let mut st = self.st();
        let g = st
            .log_groups
            .get_mut(&(region.to_string(), name.to_string()))
            .ok_or_else(|| not_found("logs", "AssociateKmsKey", name))?;
        g.kms_key_id = Some(kms_key_arn.to_string());
        Ok(())
    }

    async fn logs_put_retention(
        &self,
        region: &str,
        name: &str,
        days: i32,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutRetentionPolicy", "logs")?;
        let mut st = self.st();
        let g = st
            .log_groups
            .get_mut(&(region.to_string(), name.to_string()))
            .ok_or_else(|| not_found("logs", "PutRetentionPolicy", name))?;
        g.retention_in_days = Some(days);
        Ok(())
    }

    async fn iam_get_role(&self, name: &str) -> Result<Option<RoleInfo>, CloudError> {
        self.enter("global", "GetRole", "iam")?;
        Ok(self.st().roles.get(name).map(|r| RoleInfo {
            arn: r.arn.clone(),
            trust_policy: r.trust.clone(),
        }))
    }

    async fn iam_get_role_policy(
        &self,
        role: &str,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        self.enter("global", "GetRolePolicy", "iam")?;
        Ok(self
            .st()
            .roles
            .get(role)
            .and_then(|r| r.inline.get(policy_name).cloned()))
    }

    async fn iam_create_role(
        &self,
        name: &str,
        trust_policy: &str,
        _tags: &Tags,
    ) -> Result<RoleInfo, CloudError> {
        self.enter("global", "CreateRole", "iam")?;
        let mut st = self.st();
        let arn = format!("arn:aws:iam::{}:role/{name}", st.account);
        st.roles.insert(
            name.to_string(),
            FakeRole {
                arn: arn.clone(),
                trust: trust_policy.to_string(),
                inline: BTreeMap::new(),
            },
        );
        Ok(RoleInfo {
            arn,
            trust_policy: trust_policy.to_string(),
        })
    }

    async fn iam_update_trust(&self, name: &str, trust_policy: &str) -> Result<(), CloudError> {
        self.enter("global", "UpdateAssumeRolePolicy", "iam")?;
        let mut st = self.st();
        let r = st
            .roles
            .get_mut(name)
            .ok_or_else(|| not_found("iam", "UpdateAssumeRolePolicy", name))?;
        r.trust = trust_policy.to_string();
        Ok(())
    }

    async fn iam_put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.enter("global", "PutRolePolicy", "iam")?;
        let mut st = self.st();
        let r = st
            .roles
            .get_mut(role)
            .ok_or_else(|| not_found("iam", "PutRolePolicy", role))?;
        r.inline.insert(policy_name.to_string(), policy.to_string());
        Ok(())
    }

    async fn bedrock_get_logging(&self, region: &str) -> Result<Option<LoggingConfig>, CloudError> {
        self.enter(region, "GetModelInvocationLoggingConfiguration", "bedrock")?;
        Ok(self.st().logging.get(region).cloned())
    }

    async fn bedrock_put_logging(
        &self,
        region: &str,
        config: &LoggingConfig,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutModelInvocationLoggingConfiguration", "bedrock")?;
        self.st().logging.insert(region.to_string(), config.clone());
        Ok(())
    }

    async fn bedrock_delete_logging(&self, region: &str) -> Result<(), CloudError> {
        self.enter(
            region,
            "DeleteModelInvocationLoggingConfiguration",
            "bedrock",
        )?;
        self.st().logging.remove(region);
        Ok(())
    }

    async fn trail_get(&self, region: &str, name: &str) -> Result<Option<TrailInfo>, CloudError> {
        self.enter(region, "GetTrail", "cloudtrail")?;
        Ok(self
            .st()
            .trails
            .values()
            .find(|(t, _)| {
                (t.name == name || t.arn == name)
                    && (t.multi_region || t.home_region == region || t.arn == name)
            })
            .map(|(t, _)| t.clone()))
    }

    async fn trail_list(&self, region: &str) -> Result<Vec<TrailInfo>, CloudError> {
        self.enter(region, "ListTrails", "cloudtrail")?;
        Ok(self
            .st()
            .trails
            .values()
            .map(|(t, _)| TrailInfo {
                multi_region: false,
                ..t.clone()
            })
            .collect())
    }

    async fn trail_is_logging(&self, region: &str, trail: &str) -> Result<bool, CloudError> {
        self.enter(region, "GetTrailStatus", "cloudtrail")?;
        let st = self.st();
        let (t, _) = st
            .trails
            .values()
            .find(|(t, _)| t.name == trail || t.arn == trail)
            .ok_or_else(|| not_found("cloudtrail", "GetTrailStatus", trail))?;
        Ok(!st.stopped_trails.contains(&t.name))
    }

    async fn trail_get_selectors(
        &self,
        region: &str,
        name: &str,
    ) -> Result<TrailSelectors, CloudError> {
        self.enter(region, "GetEventSelectors", "cloudtrail")?;
        self.st()
            .trails
            .values()
            .find(|(t, _)| t.name == name || t.arn == name)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| not_found("cloudtrail", "GetEventSelectors", name))
    }

    async fn trail_put_advanced_selectors(
        &self,
        region: &str,
        name: &str,
        selectors: &[AdvancedSelector],
    ) -> Result<(), CloudError> {
        self.enter(region, "PutEventSelectors", "cloudtrail")?;
        let mut st = self.st();
        let t = st
            .trails
            .values_mut()
            .find(|(t, _)| t.name == name || t.arn == name)
            .ok_or_else(|| not_found("cloudtrail", "PutEventSelectors", name))?;
        t.1 = TrailSelectors {
            advanced: selectors.to_vec(),
            basic: vec![],
        };
        Ok(())
    }
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
