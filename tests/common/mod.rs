//! Test harness for the integration tests against moto (the local AWS emulator): one server per
//! test binary, started on a free loopback port, reset between tests, with its request recorder
//! used to count write calls.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use base64::Engine as _;
use blo::cloud::sdk::{SdkCloud, SdkOptions};
use serde_json::Value;

pub struct Moto {
    /// Where clients go: the strict AWS layer in front of moto (or moto itself with
    /// `BLO_STRICT=0`).
    pub url: String,
    /// moto itself (its recorder, state dumps; setup a test wants to make behind AWS's back).
    pub moto_url: String,
    /// Whether the strict layer is in front.
    pub strict: bool,
    /// The watchdog shell (it ends moto and the proxy when this process ends).
    _watchdog: std::sync::Mutex<std::process::Child>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn moto_server_path() -> String {
    if let Ok(p) = std::env::var("BLO_MOTO_SERVER") {
        return p;
    }
    let p = format!("{}/.venv/bin/moto_server", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&p).exists(),
        "moto is not installed: run `make venv` (or `make test`, which installs it)"
    );
    p
}

/// The strict layer is on unless `BLO_STRICT=0` (then the suite runs on the plain emulator).
fn strict_wanted() -> bool {
    std::env::var("BLO_STRICT").map_or(true, |v| v != "0")
}

/// The strict layer's configuration for the integration tests: every rule on, and S3 calls
/// without `ExpectedBucketOwner` refused (SPEC §3: every S3 call carries it).
pub const STRICT_CONFIG: &str = r#"{"enable":["s3_require_expected_owner"]}"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_up(url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ureq::get(url).call().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn start() -> Moto {
    let port = free_port();
    let server = moto_server_path();
    let strict = strict_wanted();
    let proxy_port = free_port();
    let python = std::path::Path::new(&server)
        .with_file_name("python3")
        .display()
        .to_string();
    let proxy = format!("{}/tests/strict/strict_aws.py", env!("CARGO_MANIFEST_DIR"));
    let proxy_cmd = if strict {
        format!(
            "'{python}' '{proxy}' --upstream http://127.0.0.1:{port} --port {proxy_port} --quiet --config '{STRICT_CONFIG}' >/dev/null 2>&1 & p=$!; "
        )
    } else {
        "p=; ".to_string()
    };
    // A watchdog shell stops moto (and the proxy) when this test process goes away.
    let script = format!(
        "'{server}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; {proxy_cmd}while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $m $p",
        parent = std::process::id()
    );
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn moto");
    let moto_url = format!("http://127.0.0.1:{port}");
    let url = if strict {
        format!("http://127.0.0.1:{proxy_port}")
    } else {
        moto_url.clone()
    };
    let up = wait_up(&format!("{moto_url}/moto-api/data.json"))
        && (!strict || wait_up(&format!("{url}/strict-api/health")));
    if !up {
        let _ = watchdog.kill();
        let _ = watchdog.wait();
        panic!("moto (port {port}) or the strict layer (port {proxy_port}) did not start");
    }
    Moto {
        url,
        moto_url,
        strict,
        _watchdog: std::sync::Mutex::new(watchdog),
    }
}

/// The shared emulator, reset to an empty account, and a guard serializing the tests.
pub async fn fresh() -> (&'static Moto, tokio::sync::MutexGuard<'static, ()>) {
    let guard = SERIAL.lock().await;
    let moto = MOTO.get_or_init(start);
    ureq::post(&format!("{}/moto-api/reset", moto.moto_url))
        .send_empty()
        .expect("reset moto");
    if moto.strict {
        ureq::post(&format!("{}/strict-api/reset", moto.url))
            .send_empty()
            .expect("reset the strict layer");
    }
    (moto, guard)
}

impl Moto {
    pub async fn config(&self) -> SdkConfig {
        self.config_as(Credentials::new("testing", "testing", None, None, "test"))
            .await
    }

    /// The test's own clients (setup, drift made behind the operator's back, reading AWS's
    /// state back) talk to moto directly; the operator under test goes through the strict
    /// layer ([`Moto::env`], [`Moto::cloud`]).
    pub async fn config_as(&self, creds: Credentials) -> SdkConfig {
        self.config_at(&self.moto_url, creds).await
    }

    /// The operator's view: through the strict layer.
    pub async fn operator_config(&self) -> SdkConfig {
        self.config_at(
            &self.url,
            Credentials::new("testing", "testing", None, None, "test"),
        )
        .await
    }

    async fn config_at(&self, url: &str, creds: Credentials) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(creds)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
            .http_client(blo::cloud::sdk::shared_http_client())
            .load()
            .await
    }

    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let c = self.config().await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&c)
                .region(Region::new(region.to_string()))
                .force_path_style(true)
                .build(),
        )
    }

    pub async fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let c = self.config().await;
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&c)
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    pub async fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        let c = self.config().await;
        aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&c)
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    pub async fn bedrock(&self, region: &str) -> aws_sdk_bedrock::Client {
        let c = self.config().await;
        aws_sdk_bedrock::Client::from_conf(
            aws_sdk_bedrock::config::Builder::from(&c)
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    /// A bucket (us-east-1) whose policy holds one foreign statement; returns that statement.
    pub async fn bucket_with_foreign_statement(&self, bucket: &str) -> Value {
        let s3 = self.s3("us-east-1").await;
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        let foreign = serde_json::json!({"Sid": "Foreign", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")});
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [foreign.clone()]});
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
        foreign
    }

    pub async fn cloud(&self) -> Arc<SdkCloud> {
        Arc::new(SdkCloud::new(
            self.operator_config().await,
            &SdkOptions::default(),
        ))
    }

    /// Create a role in another moto account (header `x-moto-account-id`) that `trusted`
    /// may assume, optionally only with `external_id`, as the strict layer (and STS) requires.
    pub fn create_assumable_role(
        &self,
        account: &str,
        name: &str,
        trusted: &str,
        external_id: Option<&str>,
    ) -> String {
        let mut stmt = serde_json::json!({
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{trusted}:root")},
            "Action": "sts:AssumeRole"
        });
        if let Some(x) = external_id {
            stmt["Condition"] = serde_json::json!({"StringEquals": {"sts:ExternalId": x}});
        }
        let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [stmt]}).to_string();
        let form = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument={}",
            urlencoding::encode(name),
            urlencoding::encode(&trust)
        );
        ureq::post(&self.moto_url)
            .header("x-moto-account-id", account)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send(&form)
            .expect("create role");
        format!("arn:aws:iam::{account}:role/{name}")
    }

    pub fn start_recording(&self) {
        ureq::post(&format!(
            "{}/moto-api/recorder/reset-recording",
            self.moto_url
        ))
        .send_empty()
        .unwrap();
        ureq::post(&format!(
            "{}/moto-api/recorder/start-recording",
            self.moto_url
        ))
        .send_empty()
        .unwrap();
    }

    /// Change the strict layer's configuration (a JSON patch, see tests/strict/README.md).
    /// A no-op without the strict layer.
    pub fn strict_config(&self, patch: &str) {
        if self.strict {
            ureq::post(&format!("{}/strict-api/config", self.url))
                .header("Content-Type", "application/json")
                .send(patch)
                .expect("configure the strict layer");
        }
    }

    /// The strict rules that fired so far (JSON lines), optionally of one rule.
    pub fn strict_fired(&self, rule: &str) -> Vec<Value> {
        if !self.strict {
            return vec![];
        }
        let body = ureq::get(&format!("{}/strict-api/log?rule={rule}", self.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every recorded request as (region, service, operation, is_write).
    pub fn recorded(&self) -> Vec<Call> {
        let body = ureq::get(&format!(
            "{}/moto-api/recorder/download-recording",
            self.moto_url
        ))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
        ureq::post(&format!(
            "{}/moto-api/recorder/stop-recording",
            self.moto_url
        ))
        .send_empty()
        .unwrap();
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            // The strict layer's own reads and writes are not the operator's.
            .filter(|v| {
                !v["headers"].as_object().is_some_and(|h| {
                    h.keys()
                        .any(|k| k.eq_ignore_ascii_case("x-strict-aws-internal"))
                })
            })
            .map(|v| Call::parse(&v))
            .collect()
    }

    /// Environment for running the binary against this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("BLO_MAX_ATTEMPTS", "2".into()),
            ("NO_COLOR", "1".into()),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Call {
    pub region: String,
    pub service: String,
    pub operation: String,
    pub write: bool,
}

use blo::cloud::WRITE_PREFIXES;

impl Call {
    fn parse(v: &Value) -> Call {
        let headers = &v["headers"];
        let auth = headers["Authorization"].as_str().unwrap_or_default();
        // Credential=KEY/DATE/REGION/SERVICE/aws4_request
        let scope: Vec<&str> = auth
            .split("Credential=")
            .nth(1)
            .unwrap_or_default()
            .split(',')
            .next()
            .unwrap_or_default()
            .split('/')
            .collect();
        let region = scope.get(2).unwrap_or(&"").to_string();
        let service = scope.get(3).unwrap_or(&"").to_string();
        let method = v["method"].as_str().unwrap_or_default().to_string();
        let body = match (v["body"].as_str(), v["body_encoded"].as_bool()) {
            (Some(b), Some(true)) => String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_default(),
            )
            .unwrap_or_default(),
            (Some(b), _) => b.to_string(),
            _ => String::new(),
        };
        let operation = if let Some(target) = headers["X-Amz-Target"].as_str() {
            target.rsplit('.').next().unwrap_or(target).to_string()
        } else if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            action.to_string()
        } else {
            format!("{method} {}", v["url"].as_str().unwrap_or_default())
        };
        let write = if headers["X-Amz-Target"].is_string() || body.starts_with("Action=") {
            WRITE_PREFIXES.iter().any(|p| operation.starts_with(p))
        } else {
            !matches!(method.as_str(), "GET" | "HEAD")
        };
        Call {
            region,
            service,
            operation,
            write,
        }
    }
}

pub fn writes(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.write)
        .map(|c| format!("{} {} {}", c.region, c.service, c.operation))
        .collect()
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_bedrock-logging-operator")
}

/// Run the binary against the emulator: (exit code, stdout, stderr).
pub fn run_cli(moto: &Moto, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .envs(moto.env())
        .output()
        .expect("run binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Write a policy file into a temp dir and return its path.
pub fn policy_file(dir: &tempfile::TempDir, name: &str, spec_yaml: &str) -> String {
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!("apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata:\n  name: {name}\nspec:\n{spec_yaml}"),
    )
    .unwrap();
    path.display().to_string()
}
