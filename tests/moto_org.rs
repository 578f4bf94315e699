//! Organizations and all-regions on moto: member accounts discovered under nested OUs (minus
//! exclusions), each reached through its role and converged; an account whose role cannot be
//! assumed is reported alone (strict layer); every enabled region offering Bedrock is governed.

mod common;

use std::collections::BTreeSet;

use aws_sdk_ec2 as ec2;
use aws_sdk_organizations as org;
use aws_sdk_ssm as ssm;
use common::*;
use serde_json::Value;

const OPERATOR: &str = "123456789012";

struct Org {
    ou_a: String,
    ou_b: String,
    root: String,
}

async fn organization(moto: &Moto) -> (org::Client, Org) {
    let c = org::Client::new(&moto.config().await);
    c.create_organization()
        .feature_set(org::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = c.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let ou = |parent: String, name: &'static str| {
        let c = c.clone();
        async move {
            c.create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .unwrap()
                .organizational_unit()
                .unwrap()
                .id()
                .unwrap()
                .to_string()
        }
    };
    let ou_a = ou(root.clone(), "workloads").await;
    let ou_b = ou(ou_a.clone(), "ml").await;
    (c, Org { ou_a, ou_b, root })
}

async fn account(c: &org::Client, o: &Org, name: &str, into: &str) -> String {
    let out = c
        .create_account()
        .email(format!("{name}@example.com"))
        .account_name(name)
        .send()
        .await
        .unwrap();
    let id = out
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_string();
    c.move_account()
        .account_id(&id)
        .source_parent_id(&o.root)
        .destination_parent_id(into)
        .send()
        .await
        .unwrap();
    id
}

fn by_account(json: &Value) -> std::collections::BTreeMap<String, Value> {
    json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["account"].as_str().unwrap_or("").to_string(), p.clone()))
        .collect()
}

#[tokio::test]
async fn an_organization_policy_converges_every_member_under_nested_units_minus_exclusions() {
    let (moto, _g) = fresh().await;
    let (c, o) = organization(moto).await;
    let a = account(&c, &o, "alpha", &o.ou_a.clone()).await;
    let b = account(&c, &o, "beta", &o.ou_b.clone()).await;
    let excluded = account(&c, &o, "gamma", &o.ou_a.clone()).await;
    let denied = account(&c, &o, "delta", &o.ou_a.clone()).await;
    for acct in [&a, &b, &excluded] {
        moto.create_assumable_role(acct, "BedrockLoggingOperator", OPERATOR, Some("org-secret"));
    }
    // delta's role trusts another account only: AssumeRole is refused (strict layer).
    moto.create_assumable_role(&denied, "BedrockLoggingOperator", "999999999999", None);
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "org",
        &format!(
            "  regions: [us-east-1, eu-west-1]
  accounts:
    organization:
      organizationalUnits: [{}]
      excludeAccounts: [\"{excluded}\"]
    roleName: BedrockLoggingOperator
    externalId: org-secret
  kmsKey: {{create: {{alias: alias/org}}}}
  s3: {{bucketName: \"org-logs-{{accountId}}-{{region}}\"}}
",
            o.ou_a
        ),
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file, "-o", "json"]);
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let accounts = by_account(&json);
    let mut want: BTreeSet<String> = [a.clone(), b.clone(), denied.clone()].into();
    assert_eq!(
        accounts.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "{err}"
    );
    for acct in [&a, &b] {
        assert_eq!(
            accounts[acct.as_str()]["compliant"],
            true,
            "{}",
            accounts[acct.as_str()]
        );
        assert_eq!(
            accounts[acct.as_str()]["regions"].as_array().unwrap().len(),
            2
        );
    }
    // Listing the organization is paced: AWS Organizations would throttle faster calls.
    assert_eq!(moto.strict_fired("organizations_rate"), Vec::<Value>::new());
    if moto.strict {
        assert_eq!(code, 2, "one account denied: an error\n{err}");
        let e = accounts[denied.as_str()]["error"].as_str().unwrap();
        assert!(
            e.starts_with("spec.accounts.roleName: cannot assume"),
            "{e}"
        );
    } else {
        // Plain moto admits every AssumeRole: the fourth account converges too.
        assert_eq!(code, 0, "{err}");
        want.remove(&denied);
    }
    // Buckets exist for each member account, none for the excluded one or the operator's.
    let data = ureq::get(&format!("{}/moto-api/data.json", moto.moto_url))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    for acct in [&a, &b] {
        let bucket = format!("org-logs-{acct}-us-east-1");
        assert!(data.contains(&bucket), "{bucket} created");
    }
    assert!(
        !data.contains(&format!("org-logs-{excluded}-")),
        "excluded account untouched"
    );
    assert!(
        !data.contains(&format!("org-logs-{OPERATOR}-")),
        "management account not governed"
    );

    // check: the converged members are compliant; the second run writes nothing in them.
    moto.start_recording();
    let (code, out, err) = run_cli(moto, &["check", "-f", &file, "-o", "json"]);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, if moto.strict { 2 } else { 0 }, "{err}");
    for acct in [&a, &b] {
        assert_eq!(by_account(&json)[acct.as_str()]["compliant"], true);
    }
    assert_eq!(writes(&moto.recorded()), Vec::<String>::new());
}

#[tokio::test]
async fn all_regions_governs_every_enabled_region_offering_bedrock_minus_excluded() {
    let (moto, _g) = fresh().await;
    let cfg = moto.config().await;
    // What AWS (moto) says: enabled regions, and where Bedrock is offered.
    let enabled: BTreeSet<String> = ec2::Client::new(&cfg)
        .describe_regions()
        .send()
        .await
        .unwrap()
        .regions()
        .iter()
        .filter(|r| r.opt_in_status() != Some("not-opted-in"))
        .map(|r| r.region_name().unwrap().to_string())
        .collect();
    let mut bedrock = BTreeSet::new();
    let mut token = None;
    loop {
        let page = ssm::Client::new(&cfg)
            .get_parameters_by_path()
            .path("/aws/service/global-infrastructure/services/bedrock/regions")
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        bedrock.extend(
            page.parameters()
                .iter()
                .map(|p| p.value().unwrap().to_string()),
        );
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let mut want: Vec<String> = enabled.intersection(&bedrock).cloned().collect();
    assert!(
        want.len() >= 3,
        "moto lists enabled {enabled:?}, bedrock {bedrock:?}"
    );
    let excluded = want.remove(1);
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "everywhere",
        &format!(
            "  allRegions: {{exclude: [{excluded}]}}
  kmsKey: {{create: {{alias: alias/everywhere}}}}
  s3: {{bucketName: \"all-{{accountId}}-{{region}}\"}}
"
        ),
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file, "-o", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let got: Vec<String> = json["policies"][0]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);
    assert!(!got.contains(&excluded));
    moto.start_recording();
    let (code, _, err) = run_cli(moto, &["check", "-f", &file]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(writes(&moto.recorded()), Vec::<String>::new());
}
