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
    pub url: String,
    /// The watchdog shell (it ends moto when this process ends).
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

fn start() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = moto_server_path();
    // A watchdog shell stops moto when this test process goes away.
    let script = format!(
        "'{server}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $m",
        parent = std::process::id()
    );
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn moto");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ureq::get(&format!("{url}/moto-api/data.json"))
            .call()
            .is_ok()
        {
            return Moto {
                url,
                _watchdog: std::sync::Mutex::new(watchdog),
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut watchdog = watchdog;
    let _ = watchdog.kill();
    let _ = watchdog.wait();
    panic!("moto did not start on port {port}");
}

/// The shared emulator, reset to an empty account, and a guard serializing the tests.
pub async fn fresh() -> (&'static Moto, tokio::sync::MutexGuard<'static, ()>) {
    let guard = SERIAL.lock().await;
    let moto = MOTO.get_or_init(start);
    ureq::post(&format!("{}/moto-api/reset", moto.url))
        .send_empty()
        .expect("reset moto");
    (moto, guard)
}

impl Moto {
    pub async fn config(&self) -> SdkConfig {
        self.config_as(Credentials::new("testing", "testing", None, None, "test"))
            .await
    }

    pub async fn config_as(&self, creds: Credentials) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(creds)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
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
        Arc::new(SdkCloud::new(self.config().await, &SdkOptions::default()))
    }

    pub fn start_recording(&self) {
        ureq::post(&format!("{}/moto-api/recorder/reset-recording", self.url))
            .send_empty()
            .unwrap();
        ureq::post(&format!("{}/moto-api/recorder/start-recording", self.url))
            .send_empty()
            .unwrap();
    }

    /// Every recorded request as (region, service, operation, is_write).
    pub fn recorded(&self) -> Vec<Call> {
        let body = ureq::get(&format!(
            "{}/moto-api/recorder/download-recording",
            self.url
        ))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
        ureq::post(&format!("{}/moto-api/recorder/stop-recording", self.url))
            .send_empty()
            .unwrap();
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| Call::parse(&serde_json::from_str(l).unwrap()))
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

use blo::cloud::fake::WRITE_PREFIXES;

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
