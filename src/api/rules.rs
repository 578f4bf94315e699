//! Cross-field validation the API server enforces through CEL (`x-kubernetes-validations`).
//!
//! Every rule here is injected into the generated CRD schema by [`super::crd::crd`], so the API
//! server rejects a bad policy before the operator sees it; the CLI evaluates the very same rules
//! in-process (kube's CEL support) before any AWS call. Each message names the field and the fix.

/// One CEL rule attached to the schema node at `path` (a JSON pointer below the spec schema).
pub struct CelRule {
    pub path: &'static str,
    pub rule: &'static str,
    pub message: &'static str,
    pub field_path: Option<&'static str>,
}

/// CloudWatch Logs' allowed `retentionInDays` values.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

// Bucket-name rules, evaluated after substituting a 12-digit account and every listed region.
const S3_BUCKET_SHAPE: &str = "!has(self.s3) || (has(self.regions) ? self.regions : ['ap-southeast-1']).all(r, self.s3.bucketName.replace('{accountId}', '123456789012').replace('{region}', r).matches('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'))";
const S3_BUCKET_RESERVED: &str = "!has(self.s3) || (has(self.regions) ? self.regions : ['ap-southeast-1']).all(r, !self.s3.bucketName.replace('{accountId}', '123456789012').replace('{region}', r).matches('(\\\\.\\\\.|^xn--|^sthree-|^amzn-s3-demo-|-s3alias$|--ol-s3$|--x-s3$|\\\\.mrap$|^[0-9]+\\\\.[0-9]+\\\\.[0-9]+\\\\.[0-9]+$)'))";
const LARGE_BUCKET_SHAPE: &str = "!has(self.cloudWatch) || !has(self.cloudWatch.largeDataDelivery) || (has(self.regions) ? self.regions : ['ap-southeast-1']).all(r, self.cloudWatch.largeDataDelivery.bucketName.replace('{accountId}', '123456789012').replace('{region}', r).matches('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'))";
const LARGE_BUCKET_RESERVED: &str = "!has(self.cloudWatch) || !has(self.cloudWatch.largeDataDelivery) || (has(self.regions) ? self.regions : ['ap-southeast-1']).all(r, !self.cloudWatch.largeDataDelivery.bucketName.replace('{accountId}', '123456789012').replace('{region}', r).matches('(\\\\.\\\\.|^xn--|^sthree-|^amzn-s3-demo-|-s3alias$|--ol-s3$|--x-s3$|\\\\.mrap$|^[0-9]+\\\\.[0-9]+\\\\.[0-9]+\\\\.[0-9]+$)'))";

pub const RULES: &[CelRule] = &[
    CelRule {
        path: "",
        rule: "has(self.regions) != has(self.allRegions)",
        message: "spec: set exactly one of spec.regions (the regions to govern) or spec.allRegions (every enabled region where Bedrock is offered)",
        field_path: Some(".regions"),
    },
    CelRule {
        path: "",
        rule: "!(has(self.account) && has(self.accounts))",
        message: "spec: set at most one of spec.account (one account) or spec.accounts (the member accounts of an organization)",
        field_path: Some(".accounts"),
    },
    CelRule {
        path: "",
        rule: "!has(self.accounts) || ((!has(self.s3) || self.s3.bucketName.contains('{accountId}')) && (!has(self.cloudWatch) || !has(self.cloudWatch.largeDataDelivery) || self.cloudWatch.largeDataDelivery.bucketName.contains('{accountId}')))",
        message: "spec.s3.bucketName (and spec.cloudWatch.largeDataDelivery.bucketName) must contain {accountId} with spec.accounts: bucket names are global, so each member account needs its own",
        field_path: Some(".s3.bucketName"),
    },
    CelRule {
        path: "/properties/accounts/properties/organization/properties/discoveryInterval",
        rule: "duration(self) >= duration('1m')",
        message: "spec.accounts.organization.discoveryInterval must be at least 1m (e.g. 10m, 1h)",
        field_path: None,
    },
    CelRule {
        path: "/properties/allRegions/properties/exclude",
        rule: "self.all(r, self.exists_one(x, x == r))",
        message: "spec.allRegions.exclude must not list a region twice",
        field_path: None,
    },
    CelRule {
        path: "",
        rule: "has(self.s3) || has(self.cloudWatch)",
        message: "spec: at least one destination is required: set spec.s3 and/or spec.cloudWatch",
        field_path: None,
    },
    CelRule {
        path: "",
        rule: "!(has(self.allRegions) || (has(self.regions) && size(self.regions) > 1)) || !has(self.s3) || self.s3.bucketName.contains('{region}')",
        message: "spec.s3.bucketName must contain {region} when more than one region is listed or with spec.allRegions (a bucket lives in one region)",
        field_path: Some(".s3.bucketName"),
    },
    CelRule {
        path: "",
        rule: "!(has(self.allRegions) || (has(self.regions) && size(self.regions) > 1)) || !has(self.cloudWatch) || !has(self.cloudWatch.largeDataDelivery) || self.cloudWatch.largeDataDelivery.bucketName.contains('{region}')",
        message: "spec.cloudWatch.largeDataDelivery.bucketName must contain {region} when more than one region is listed or with spec.allRegions (a bucket lives in one region)",
        field_path: Some(".cloudWatch.largeDataDelivery.bucketName"),
    },
    CelRule {
        path: "",
        rule: S3_BUCKET_SHAPE,
        message: "spec.s3.bucketName is not a valid S3 bucket name for every region once {accountId} and {region} are substituted: use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit (only {accountId} and {region} placeholders are allowed)",
        field_path: Some(".s3.bucketName"),
    },
    CelRule {
        path: "",
        rule: S3_BUCKET_RESERVED,
        message: "spec.s3.bucketName uses a form S3 forbids: no '..', no IP-address form, no xn--/sthree-/amzn-s3-demo- prefix, no -s3alias/--ol-s3/--x-s3/.mrap suffix",
        field_path: Some(".s3.bucketName"),
    },
    CelRule {
        path: "",
        rule: LARGE_BUCKET_SHAPE,
        message: "spec.cloudWatch.largeDataDelivery.bucketName is not a valid S3 bucket name for every region once {accountId} and {region} are substituted: use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit",
        field_path: Some(".cloudWatch.largeDataDelivery.bucketName"),
    },
    CelRule {
        path: "",
        rule: LARGE_BUCKET_RESERVED,
        message: "spec.cloudWatch.largeDataDelivery.bucketName uses a form S3 forbids: no '..', no IP-address form, no xn--/sthree-/amzn-s3-demo- prefix, no -s3alias/--ol-s3/--x-s3/.mrap suffix",
        field_path: Some(".cloudWatch.largeDataDelivery.bucketName"),
    },
    CelRule {
        path: "/properties/regions",
        rule: "self.all(r, self.exists_one(x, x == r))",
        message: "spec.regions must not list a region twice",
        field_path: None,
    },
    CelRule {
        path: "/properties/dataTypes",
        rule: "self.all(t, self.exists_one(x, x == t))",
        message: "spec.dataTypes must not list a data type twice",
        field_path: None,
    },
    CelRule {
        path: "/properties/resyncInterval",
        rule: "duration(self) >= duration('10s')",
        message: "spec.resyncInterval must be at least 10s (e.g. 30s, 5m, 1h)",
        field_path: None,
    },
    CelRule {
        path: "/properties/resyncInterval",
        rule: "duration(self) <= duration('24h')",
        message: "spec.resyncInterval must be at most 24h",
        field_path: None,
    },
    CelRule {
        path: "/properties/kmsKey",
        rule: "has(self.create) != has(self.existing)",
        message: "spec.kmsKey: set exactly one of create or existing",
        field_path: None,
    },
    CelRule {
        path: "/properties/kmsKey/properties/existing",
        rule: "self.matches('^(arn:aws[a-z-]*:kms:([a-z0-9-]+|\\\\{region\\\\}):([0-9]{12}|\\\\{accountId\\\\}):(key/[a-zA-Z0-9-]+|alias/[a-zA-Z0-9/_{}-]+)|alias/[a-zA-Z0-9/_{}-]+|[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}|mrk-[a-f0-9]{32})$')",
        message: "spec.kmsKey.existing must be a key ID, key ARN, alias name (alias/NAME) or alias ARN",
        field_path: None,
    },
    CelRule {
        path: "/properties/kmsKey/properties/existing",
        rule: "!self.startsWith('alias/aws/') && !self.contains(':alias/aws/')",
        message: "spec.kmsKey.existing refers to an AWS-managed key (alias/aws/...): Bedrock logging needs a customer-managed key; use kmsKey.create or your own key",
        field_path: None,
    },
    CelRule {
        path: "/properties/kmsKey/properties/create/properties/alias",
        rule: "!self.startsWith('alias/aws/')",
        message: "spec.kmsKey.create.alias must not start with alias/aws/ (reserved for AWS-managed keys)",
        field_path: None,
    },
    CelRule {
        path: "/properties/cloudWatch",
        rule: "!(has(self.roleName) && has(self.roleArn))",
        message: "spec.cloudWatch: set at most one of roleName (managed role) or roleArn (existing role)",
        field_path: None,
    },
    CelRule {
        path: "/properties/cloudWatch/properties/retentionInDays",
        rule: "self in [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
        message: "spec.cloudWatch.retentionInDays must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
        field_path: None,
    },
    CelRule {
        path: "/properties/account",
        rule: "!has(self.externalId) || has(self.roleArn)",
        message: "spec.account.externalId is only used with spec.account.roleArn: set roleArn or remove externalId",
        field_path: None,
    },
    CelRule {
        path: "/properties/cloudTrail/properties/dataEvents",
        rule: "self.all(t, self.exists_one(x, x == t))",
        message: "spec.cloudTrail.dataEvents must not list a type twice",
        field_path: None,
    },
];
