//! Organizations and all-regions on the fake AWS: discovery, one engine run per member account,
//! an account that cannot be assumed, the bounded status, shard assignment.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::org_status::{OrgStatusInputs, Shard, build_org_status, shard_entry};
use super::organization::{member_spec, run_members, shard_of, summarize};
use super::tests::spec;
use super::*;
use crate::api::{FindingResult, RegionState};
use crate::cloud::fake::{FakeCloud, FakeCloudFactory};

const ORG: &str = "  allRegions: {exclude: [me-south-1]}
  accounts:
    organization: {organizationalUnits: [r-ab12]}
    roleName: BedrockLoggingOperator
  kmsKey: {create: {alias: alias/blo}}
  s3: {bucketName: \"logs-{accountId}-{region}\"}
";

fn opts() -> EngineOptions {
    EngineOptions {
        region_concurrency: 4,
        permission_retry: Duration::from_secs(5),
        consistency_retry: Duration::from_secs(5),
        org_call_interval: Duration::ZERO,
        ..EngineOptions::default()
    }
}

fn member(account: &str, regions: &[&str]) -> Arc<FakeCloud> {
    let f = Arc::new(FakeCloud::new(account));
    {
        let mut st = f.state.lock().unwrap();
        st.enabled_regions = regions.iter().map(|s| s.to_string()).collect();
        st.bedrock_regions = ["us-east-1", "eu-west-1", "me-south-1", "us-west-2"]
            .map(String::from)
            .to_vec();
    }
    f
}

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/BedrockLoggingOperator")
}

#[tokio::test]
async fn every_member_account_converges_in_its_enabled_regions_and_a_denied_one_is_reported_alone()
{
    let s = spec(ORG);
    let a = member(
        "111111111111",
        &["us-east-1", "eu-west-1", "me-south-1", "ap-east-1"],
    );
    let b = member("222222222222", &["us-east-1"]);
    let mut by_role = HashMap::new();
    by_role.insert(role("111111111111"), a.clone());
    by_role.insert(role("222222222222"), b.clone());
    // 333333333333 has no assumable role: AccessDenied for that account only.
    let factory = FakeCloudFactory {
        default: Arc::new(FakeCloud::new("999999999999")),
        by_role,
    };
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let input = PolicyInput {
        name: "p",
        spec: &s,
        conflicts: &none,
        previous: &prev,
        permission_grace: false,
    };
    let members = ["111111111111", "222222222222", "333333333333"].map(String::from);
    let reports = run_members(&factory, &input, &members, &BTreeMap::new(), &opts(), 2).await;
    assert_eq!(reports.len(), 3);
    let (ra, rb, rc) = (&reports[0], &reports[1], &reports[2]);
    assert_eq!(ra.account_id.as_deref(), Some("111111111111"));
    assert!(ra.all_compliant(), "{ra:#?}");
    // Enabled ∩ Bedrock − exclude: ap-east-1 has no Bedrock, me-south-1 is excluded.
    let regions: Vec<&str> = ra.regions.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(regions, vec!["eu-west-1", "us-east-1"]);
    assert!(a.state.lock().unwrap().logging.contains_key("eu-west-1"));
    assert!(!a.state.lock().unwrap().logging.contains_key("me-south-1"));
    assert!(rb.all_compliant());
    assert_eq!(rb.regions.len(), 1);
    assert_eq!(
        b.state
            .lock()
            .unwrap()
            .buckets
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["logs-222222222222-us-east-1"]
    );
    let e = rc.global_error.as_ref().expect("denied");
    assert_eq!(e.stalled_reason(), Some("AccessDenied"));
    assert!(
        e.to_string().starts_with("spec.accounts.roleName: cannot assume arn:aws:iam::333333333333:role/BedrockLoggingOperator"),
        "{e}"
    );
    let summary = summarize(&reports);
    assert_eq!((summary.accounts_total, summary.accounts_compliant), (3, 2));
    assert_eq!((summary.regions_total, summary.regions_compliant), (3, 3));
    assert_eq!(summary.worst.len(), 1);
    assert_eq!(summary.worst[0].account_id, "333333333333");
    assert_eq!(summary.worst[0].reason, "AccessDenied");
    // The second pass writes nothing anywhere.
    a.reset_calls();
    b.reset_calls();
    let again = run_members(
        &factory,
        &input,
        &members[..2],
        &BTreeMap::new(),
        &opts(),
        2,
    )
    .await;
    assert!(again.iter().all(|r| r.all_compliant()));
    assert_eq!(a.write_calls(), Vec::<String>::new());
    assert_eq!(b.write_calls(), Vec::<String>::new());
    // A region enabled since is governed on the next pass.
    b.state
        .lock()
        .unwrap()
        .enabled_regions
        .push("us-west-2".into());
    let later = run_members(
        &factory,
        &input,
        &members[1..2],
        &BTreeMap::new(),
        &opts(),
        1,
    )
    .await;
    assert_eq!(later[0].regions.len(), 2);
    assert!(b.state.lock().unwrap().logging.contains_key("us-west-2"));
}

#[test]
fn a_member_spec_assumes_the_role_in_that_account_and_pins_it() {
    let s = member_spec(&spec(ORG), "444455556666");
    let a = s.account.unwrap();
    assert_eq!(
        a.role_arn.as_deref(),
        Some("arn:aws:iam::444455556666:role/BedrockLoggingOperator")
    );
    assert_eq!(a.id.as_deref(), Some("444455556666"));
}

#[tokio::test]
async fn a_region_no_longer_enabled_is_reported_once_and_left_alone() {
    let f = member("111111111111", &["us-east-1", "eu-west-1"]);
    let s = spec(
        "  allRegions: {}\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n",
    );
    let none = BTreeMap::new();
    let run = |prev: BTreeMap<String, RegionState>| {
        let f = f.clone();
        let s = s.clone();
        let none = none.clone();
        async move {
            let input = PolicyInput {
                name: "p",
                spec: &s,
                conflicts: &none,
                previous: &prev,
                permission_grace: false,
            };
            run_policy(f, &input, &opts()).await
        }
    };
    let first = run(BTreeMap::new()).await;
    assert!(first.all_compliant());
    f.state
        .lock()
        .unwrap()
        .enabled_regions
        .retain(|r| r != "eu-west-1");
    f.reset_calls();
    let prev: BTreeMap<String, RegionState> = first
        .regions
        .iter()
        .map(|r| (r.region.clone(), r.state))
        .collect();
    let second = run(prev).await;
    assert_eq!(second.regions_gone, vec!["eu-west-1"]);
    assert_eq!(second.regions.len(), 1);
    assert_eq!(
        f.write_calls(),
        Vec::<String>::new(),
        "nothing is cleaned up"
    );
    assert!(f.state.lock().unwrap().logging.contains_key("eu-west-1"));
}

fn failing_member(account: usize, regions: usize) -> PolicyReport {
    PolicyReport {
        policy: "p".into(),
        mode: crate::api::Mode::Audit,
        account_id: Some(format!("{account:012}")),
        global_error: None,
        regions: (0..regions)
            .map(|i| RegionReport {
                region: format!("xx-region-{i}"),
                state: RegionState::NonCompliant,
                findings: vec![Finding {
                    id: "bedrock_model_invocation_logging_enabled",
                    severity: findings::Severity::High,
                    status: FindingResult::Fail,
                    message: "x".repeat(2000),
                }],
                pending: vec![],
                applied: vec![],
                error: None,
                resources: Resources::default(),
                tamper_watch: None,
                last_tamper: None,
            })
            .collect(),
        global_pending: vec![],
        global_applied: vec![],
        permissions_changed: false,
        regions_gone: vec![],
    }
}

#[test]
fn the_status_of_a_thousand_accounts_by_twenty_regions_stays_under_64_kib() {
    let members: Vec<PolicyReport> = (0..1000).map(|a| failing_member(a, 20)).collect();
    let summary = summarize(&members);
    assert_eq!(summary.regions_total, 20_000);
    assert_eq!(summary.worst.len(), 50);
    let now = k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let whole = build_org_status(&OrgStatusInputs {
        summary: &summary,
        members: &members,
        discovery_error: None,
        shard: Shard::ALL,
        generation: Some(1),
        now,
        previous: None,
    });
    let size = serde_json::to_vec(&whole).unwrap().len();
    assert!(size < 64 * 1024, "status is {size} bytes");
    assert_eq!(whole.accounts.unwrap().total, 1000);
    assert_eq!(whole.non_compliant_accounts.len(), 50);
    assert!(
        whole
            .non_compliant_accounts
            .iter()
            .all(|a| a.regions.len() <= 16)
    );
    // Two replicas: replica 1's entry, then replica 0's status over both entries.
    let (half_a, half_b): (Vec<_>, Vec<_>) = members
        .iter()
        .cloned()
        .partition(|m| shard_of(m.account_id.as_deref().unwrap(), 2) == 0);
    let (sa, sb) = (summarize(&half_a), summarize(&half_b));
    let one = shard_entry(&OrgStatusInputs {
        summary: &sb,
        members: &half_b,
        discovery_error: None,
        shard: Shard { index: 1, count: 2 },
        generation: Some(1),
        now,
        previous: None,
    });
    let previous = crate::api::BedrockLoggingPolicyStatus {
        shards: vec![one],
        ..Default::default()
    };
    let zero = build_org_status(&OrgStatusInputs {
        summary: &sa,
        members: &half_a,
        discovery_error: None,
        shard: Shard { index: 0, count: 2 },
        generation: Some(1),
        now,
        previous: Some(&previous),
    });
    assert_eq!(
        zero.accounts.unwrap().total,
        1000,
        "totals over both replicas"
    );
    assert_eq!(zero.total_regions, 20_000);
    let mut both = zero.clone();
    both.shards.extend(previous.shards.clone());
    let size = serde_json::to_vec(&both).unwrap().len();
    assert!(size < 64 * 1024, "sharded status is {size} bytes");
    let ready = zero.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "NonCompliant");
}

#[test]
fn replica_zero_waits_for_every_shard_before_ready() {
    let members = vec![];
    let summary = summarize(&members);
    let now = k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let s = build_org_status(&OrgStatusInputs {
        summary: &summary,
        members: &members,
        discovery_error: None,
        shard: Shard { index: 0, count: 3 },
        generation: Some(1),
        now,
        previous: None,
    });
    let rec = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Reconciling")
        .unwrap();
    assert_eq!(rec.status, "True");
    assert_eq!(rec.reason, "WaitingForShards");
}

#[test]
fn shard_assignment_is_stable_and_complete() {
    let accounts: Vec<String> = (0..2000u64)
        .map(|i| format!("{:012}", 100_000_000_000 + i * 7919))
        .collect();
    for count in [1u32, 2, 3, 7] {
        let mut seen = vec![0usize; count as usize];
        for a in &accounts {
            let s = shard_of(a, count);
            assert!(s < count);
            assert_eq!(s, shard_of(a, count), "stable");
            seen[s as usize] += 1;
        }
        assert_eq!(
            seen.iter().sum::<usize>(),
            accounts.len(),
            "each account exactly once"
        );
        // Roughly even: no replica gets less than half its share.
        let share = accounts.len() / count as usize;
        assert!(seen.iter().all(|n| *n * 2 >= share), "{count}: {seen:?}");
    }
    // Known values, so the split never changes between releases.
    assert_eq!(shard_of("111122223333", 1), 0);
    assert_eq!(
        shard_of("111122223333", 2),
        crate::policy_doc::fnv1a32("111122223333") % 2
    );
}
