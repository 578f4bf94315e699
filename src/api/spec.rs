//! The `BedrockLoggingPolicy` spec: what a platform team declares.
//!
//! Field-level constraints (lengths, patterns, list sizes) live on the fields as schemars
//! attributes; cross-field CEL rules are injected by [`crate::api::rules`].

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::BedrockLoggingPolicyStatus;

/// Region names as AWS spells them (`us-east-1`, `us-gov-west-1`, `eu-central-2` ...).
pub const REGION_PATTERN: &str = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$";
/// An IAM role ARN in any partition.
pub const ROLE_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$";
/// Maximum number of regions one policy can govern (keeps CEL cost bounded).
pub const MAX_REGIONS: usize = 64;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "bedrocklogging.io",
    version = "v1alpha1",
    kind = "BedrockLoggingPolicy",
    plural = "bedrockloggingpolicies",
    shortname = "blp",
    status = "BedrockLoggingPolicyStatus",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Regions","type":"string","jsonPath":".status.regionSummary"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    category = "bedrock"
)]
#[serde(rename_all = "camelCase")]
pub struct BedrockLoggingPolicySpec {
    /// Enforce converges AWS to the spec; Audit only reports and never writes to AWS.
    #[serde(default)]
    pub mode: Mode,

    /// AWS regions where Bedrock invocation logging must be on (one set of destinations each).
    /// Exactly one of `regions` and `allRegions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(min = 1, max = 64),
        inner(
            regex(pattern = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"),
            length(max = 32)
        )
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub regions: Vec<String>,

    /// Instead of `regions`: every region enabled in the account where Bedrock is offered,
    /// rediscovered on every pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_regions: Option<AllRegionsSpec>,

    /// The AWS account to govern; default: the operator's own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountSpec>,

    /// Instead of `account`: every member account of an AWS Organization (under the listed OUs
    /// or the root), each reached by assuming `roleName` in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<AccountsSpec>,

    /// Which data types Bedrock logs. Default: all five.
    #[serde(default = "DataType::all")]
    #[schemars(length(min = 1, max = 5), extend("x-kubernetes-list-type" = "set"))]
    pub data_types: Vec<DataType>,

    /// The customer-managed KMS key that encrypts every destination.
    pub kms_key: KmsKeySpec,

    /// S3 destination (at least one of s3 / cloudWatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Spec>,

    /// CloudWatch Logs destination (at least one of s3 / cloudWatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch: Option<CloudWatchSpec>,

    /// Optional: record Bedrock data events on an existing CloudTrail trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_trail: Option<CloudTrailSpec>,

    /// Optional: repair within seconds of an API call that undoes the policy (an SQS queue per
    /// governed region, fed by an EventBridge rule on the default bus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper_response: Option<TamperResponseSpec>,

    /// Retain (default) leaves AWS untouched when the policy is deleted; Disable turns
    /// Bedrock logging off (never deletes buckets, log groups or keys).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Drift check period (Go duration, e.g. 5m, 90s, 1h). Minimum 10s.
    #[serde(default = "default_resync")]
    #[schemars(length(max = 16), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub resync_interval: String,
}

pub fn default_resync() -> String {
    "5m".to_string()
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    Disable,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub enum DataType {
    Text,
    Image,
    Embedding,
    Video,
    Audio,
}

impl DataType {
    pub const ALL: [DataType; 5] = [
        DataType::Text,
        DataType::Image,
        DataType::Embedding,
        DataType::Video,
        DataType::Audio,
    ];
    pub fn all() -> Vec<DataType> {
        Self::ALL.to_vec()
    }
}

/// `spec.allRegions`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllRegionsSpec {
    /// Regions never governed, even when enabled and offering Bedrock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 64),
        inner(
            regex(pattern = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"),
            length(max = 32)
        )
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub exclude: Vec<String>,
}

/// `spec.accounts`: the member accounts of an AWS Organization.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountsSpec {
    pub organization: OrganizationSpec,
    /// The role assumed in each member account (the same name in every account).
    #[serde(default = "default_member_role")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[\w+=,.@-]+$"))]
    pub role_name: String,
    /// External ID passed to AssumeRole in every member account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), regex(pattern = r"^[\w+=,.@:/-]+$"))]
    pub external_id: Option<String>,
}

pub const DEFAULT_MEMBER_ROLE: &str = "BedrockLoggingOperator";

pub fn default_member_role() -> String {
    DEFAULT_MEMBER_ROLE.to_string()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSpec {
    /// Organizational units (nested OUs included) or the root (`r-...`) whose accounts are governed.
    #[schemars(
        length(min = 1, max = 100),
        inner(
            regex(pattern = r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$"),
            length(max = 68)
        )
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub organizational_units: Vec<String>,
    /// Member accounts never governed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 1000),
        inner(regex(pattern = r"^[0-9]{12}$"), length(max = 12))
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub exclude_accounts: Vec<String>,
    /// How often the member accounts are listed again (Go duration; default 10m, minimum 1m).
    #[serde(default = "default_discovery_interval")]
    #[schemars(length(max = 16), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub discovery_interval: String,
}

pub fn default_discovery_interval() -> String {
    "10m".to_string()
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountSpec {
    /// Role assumed through STS to act in the governed account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 2048),
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
    )]
    pub role_arn: Option<String>,
    /// External ID passed to AssumeRole (a shared secret with the account owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), regex(pattern = r"^[\w+=,.@:/-]+$"))]
    pub external_id: Option<String>,
    /// Pin: if STS reports another account, nothing is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{12}$"), length(max = 12))]
    pub id: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KmsKeySpec {
    /// Create (and keep) one symmetric key per region, found again by alias and tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<KmsKeyCreate>,
    /// An existing key: key ID, key ARN, alias name (alias/x) or alias ARN. `{region}` and
    /// `{accountId}` placeholders allowed. AWS-managed keys (alias/aws/...) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub existing: Option<String>,
    /// true: merge the statements Bedrock and CloudWatch Logs need into the key policy;
    /// false: verify only.
    #[serde(default = "yes")]
    pub manage_policy: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KmsKeyCreate {
    /// Alias of the created key, e.g. alias/bedrock-logging.
    #[schemars(
        length(min = 7, max = 256),
        regex(pattern = r"^alias/[a-zA-Z0-9/_{}-]+$")
    )]
    pub alias: String,
    /// Automatic yearly key rotation (default true).
    #[serde(default = "yes")]
    pub rotation: bool,
}

pub fn yes() -> bool {
    true
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Spec {
    /// Bucket name; `{accountId}` and `{region}` placeholders allowed (required with >1 region).
    #[schemars(length(min = 3, max = 80))]
    pub bucket_name: String,
    /// Optional key prefix for the log objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[a-zA-Z0-9!_.*'()-][a-zA-Z0-9!_.*'()/-]*$")
    )]
    pub key_prefix: Option<String>,
    /// Create the bucket when missing (default true); false: it must already exist.
    #[serde(default = "yes")]
    pub create: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchSpec {
    /// Log group name; `{accountId}` and `{region}` placeholders allowed.
    #[schemars(
        length(min = 1, max = 512),
        regex(pattern = r"^[\.\-_/#A-Za-z0-9{}]+$")
    )]
    pub log_group_name: String,
    /// Retention in days: one of CloudWatch's allowed values. Unset: keep forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    /// Create the log group when missing (default true).
    #[serde(default = "yes")]
    pub create: bool,
    /// Name of the IAM role the operator manages for Bedrock (default
    /// BedrockModelInvocationLoggingRole). Mutually exclusive with roleArn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[\w+=,.@-]+$"))]
    pub role_name: Option<String>,
    /// An existing role used as is (verified, never modified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 2048),
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
    )]
    pub role_arn: Option<String>,
    /// Where bodies over 100 KB and binary data go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_data_delivery: Option<LargeDataDelivery>,
}

pub const DEFAULT_ROLE_NAME: &str = "BedrockModelInvocationLoggingRole";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LargeDataDelivery {
    /// Bucket name; `{accountId}` and `{region}` placeholders allowed (required with >1 region).
    #[schemars(length(min = 3, max = 80))]
    pub bucket_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[a-zA-Z0-9!_.*'()-][a-zA-Z0-9!_.*'()/-]*$")
    )]
    pub key_prefix: Option<String>,
    /// Create the bucket when missing (default true).
    #[serde(default = "yes")]
    pub create: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailSpec {
    /// Name (or ARN) of an existing trail.
    #[schemars(length(min = 3, max = 2048))]
    pub trail_name: String,
    /// Bedrock data-event resource types to record (AWS::Bedrock::<Type>). Default: all.
    #[serde(default = "TrailDataEvent::all")]
    #[schemars(length(min = 1, max = 30), extend("x-kubernetes-list-type" = "set"))]
    pub data_events: Vec<TrailDataEvent>,
}

/// Event-driven drift repair (SPEC §3 step 7).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TamperResponseSpec {
    /// The SQS queue in each governed region; the EventBridge rule feeding it has the same name.
    #[serde(default = "default_tamper_queue")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub queue_name: String,
}

pub const DEFAULT_TAMPER_QUEUE: &str = "bedrock-logging-tamper";

pub fn default_tamper_queue() -> String {
    DEFAULT_TAMPER_QUEUE.to_string()
}

/// A resource type of CloudTrail's data-event table (Bedrock and Bedrock AgentCore).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub enum TrailDataEvent {
    AgentAlias,
    KnowledgeBase,
    FlowAlias,
    Guardrail,
    Model,
    AsyncInvoke,
    InlineAgent,
    /// Prompt management: the table's type is `AWS::Bedrock::PromptVersion`.
    Prompt,
    Session,
    FlowExecution,
    AutomatedReasoningPolicy,
    AutomatedReasoningPolicyVersion,
    DataAutomationProject,
    DataAutomationInvocation,
    DataAutomationProfile,
    Blueprint,
    Tool,
    AgentCoreCodeInterpreter,
    AgentCoreCodeInterpreterCustom,
    AgentCoreBrowser,
    AgentCoreBrowserCustom,
    AgentCoreWorkloadIdentity,
    AgentCoreWorkloadIdentityDirectory,
    AgentCoreTokenVault,
    AgentCoreAPIKeyCredentialProvider,
    AgentCoreOAuth2CredentialProvider,
    AgentCoreRuntime,
    AgentCoreRuntimeEndpoint,
    AgentCoreGateway,
    AgentCoreMemory,
}

/// How many data-event types exist (bounds `spec.cloudTrail.dataEvents`).
pub const TRAIL_DATA_EVENT_TYPES: usize = 30;

impl TrailDataEvent {
    /// The default set (SPEC §2): the eight of the example.
    pub fn all() -> Vec<TrailDataEvent> {
        use TrailDataEvent::*;
        vec![
            AgentAlias,
            KnowledgeBase,
            FlowAlias,
            Guardrail,
            Model,
            AsyncInvoke,
            InlineAgent,
            Prompt,
        ]
    }

    /// The CloudTrail `resources.type` value, as the data-event table names it.
    pub fn resource_type(self) -> String {
        let name = format!("{self:?}");
        match self {
            TrailDataEvent::Prompt => "AWS::Bedrock::PromptVersion".to_string(),
            _ => match name.strip_prefix("AgentCore") {
                Some(rest) => format!("AWS::BedrockAgentCore::{rest}"),
                None => format!("AWS::Bedrock::{name}"),
            },
        }
    }
}
