//! Where a policy applies when the spec does not list it: every enabled region where Bedrock is
//! offered (`allRegions`), and the member accounts of an organization (`accounts`).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use super::EngineError;
use crate::api::{AllRegionsSpec, OrganizationSpec};
use crate::cloud::{Cloud, ErrorKind};

/// Enabled ∩ offering Bedrock − excluded, sorted. Asked again on every pass: a region enabled
/// since the last pass is governed from this one.
pub async fn discover_regions(
    cloud: &dyn Cloud,
    spec: &AllRegionsSpec,
) -> Result<Vec<String>, EngineError> {
    let enabled: BTreeSet<String> = cloud.enabled_regions().await?.into_iter().collect();
    let bedrock: BTreeSet<String> = cloud.bedrock_regions().await?.into_iter().collect();
    let regions: Vec<String> = enabled
        .intersection(&bedrock)
        .filter(|r| !spec.exclude.contains(r))
        .cloned()
        .collect();
    if regions.is_empty() {
        return Err(EngineError::spec(
            "spec.allRegions",
            format!(
                "no region is both enabled in the account ({} enabled) and offering Bedrock ({} listed), once spec.allRegions.exclude is applied: enable a region or list spec.regions",
                enabled.len(),
                bedrock.len()
            ),
        ));
    }
    Ok(regions)
}

/// Spaces the Organizations calls of one discovery (its APIs allow about one request per second
/// per account).
struct Pacer {
    every: Duration,
    last: Option<tokio::time::Instant>,
}

impl Pacer {
    async fn wait(&mut self) {
        if let Some(last) = self.last {
            let due = last + self.every;
            tokio::time::sleep_until(due).await;
        }
        self.last = Some(tokio::time::Instant::now());
    }
}

/// The active member accounts under the listed OUs or roots (nested OUs included), minus the
/// excluded ones, sorted: O(OUs + accounts/20) calls, `pacing` apart.
pub async fn discover_accounts(
    cloud: &dyn Cloud,
    spec: &OrganizationSpec,
    pacing: Duration,
) -> Result<Vec<String>, EngineError> {
    let mut pacer = Pacer {
        every: pacing,
        last: None,
    };
    let mut seen_units = BTreeSet::new();
    let mut queue: VecDeque<String> = spec.organizational_units.iter().cloned().collect();
    let mut accounts = BTreeSet::new();
    while let Some(unit) = queue.pop_front() {
        if !seen_units.insert(unit.clone()) {
            continue;
        }
        pacer.wait().await;
        let members = cloud.org_accounts(&unit).await.map_err(|e| match e.kind {
            ErrorKind::NotFound => EngineError::spec(
                "spec.accounts.organization.organizationalUnits",
                format!(
                    "{unit} is not a root or OU of the operator's organization: {}",
                    e.message
                ),
            ),
            _ => e.into(),
        })?;
        accounts.extend(
            members
                .into_iter()
                .filter(|a| a.status.is_empty() || a.status == "ACTIVE")
                .map(|a| a.id),
        );
        pacer.wait().await;
        queue.extend(cloud.org_child_units(&unit).await?);
    }
    Ok(accounts
        .into_iter()
        .filter(|a| !spec.exclude_accounts.contains(a))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::OrgAccount;
    use crate::cloud::fake::FakeCloud;

    fn acct(id: &str, status: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            status: status.into(),
        }
    }

    #[tokio::test]
    async fn regions_are_enabled_and_offering_bedrock_minus_excluded() {
        let fake = FakeCloud::new("111122223333");
        {
            let mut st = fake.state.lock().unwrap();
            st.enabled_regions = ["us-east-1", "eu-west-1", "me-south-1", "ap-east-1"]
                .map(String::from)
                .to_vec();
            st.bedrock_regions = ["us-east-1", "eu-west-1", "me-south-1", "us-west-2"]
                .map(String::from)
                .to_vec();
        }
        let spec = AllRegionsSpec {
            exclude: vec!["me-south-1".into()],
        };
        assert_eq!(
            discover_regions(&fake, &spec).await.unwrap(),
            vec!["eu-west-1", "us-east-1"]
        );
        // An opt-in region enabled later is governed from the next pass.
        fake.state
            .lock()
            .unwrap()
            .enabled_regions
            .push("us-west-2".into());
        assert_eq!(
            discover_regions(&fake, &spec).await.unwrap(),
            vec!["eu-west-1", "us-east-1", "us-west-2"]
        );
        fake.state.lock().unwrap().bedrock_regions.clear();
        let e = discover_regions(&fake, &spec).await.unwrap_err();
        assert!(e.to_string().starts_with("spec.allRegions:"), "{e}");
    }

    #[tokio::test]
    async fn accounts_of_nested_units_minus_excluded_and_inactive() {
        let fake = FakeCloud::new("999999999999");
        {
            let mut st = fake.state.lock().unwrap();
            st.org.insert(
                "r-ab12".into(),
                (
                    vec!["ou-ab12-aaaaaaaa".into()],
                    vec![acct("999999999999", "ACTIVE")],
                ),
            );
            st.org.insert(
                "ou-ab12-aaaaaaaa".into(),
                (
                    vec!["ou-ab12-bbbbbbbb".into()],
                    vec![
                        acct("111111111111", "ACTIVE"),
                        acct("222222222222", "SUSPENDED"),
                    ],
                ),
            );
            st.org.insert(
                "ou-ab12-bbbbbbbb".into(),
                (
                    vec![],
                    vec![
                        acct("333333333333", "ACTIVE"),
                        acct("444444444444", "ACTIVE"),
                    ],
                ),
            );
        }
        let spec = |units: &[&str], exclude: &[&str]| OrganizationSpec {
            organizational_units: units.iter().map(|s| s.to_string()).collect(),
            exclude_accounts: exclude.iter().map(|s| s.to_string()).collect(),
            discovery_interval: "10m".into(),
        };
        let ou = discover_accounts(
            &fake,
            &spec(&["ou-ab12-aaaaaaaa"], &["444444444444"]),
            Duration::ZERO,
        )
        .await
        .unwrap();
        assert_eq!(ou, vec!["111111111111", "333333333333"]);
        fake.reset_calls();
        let root = discover_accounts(
            &fake,
            &spec(&["r-ab12", "ou-ab12-bbbbbbbb"], &[]),
            Duration::ZERO,
        )
        .await
        .unwrap();
        assert_eq!(
            root,
            vec![
                "111111111111",
                "333333333333",
                "444444444444",
                "999999999999"
            ]
        );
        assert_eq!(
            fake.calls().len(),
            6,
            "each unit listed once: {:?}",
            fake.calls()
        );
        let e = discover_accounts(&fake, &spec(&["ou-ab12-cccccccc"], &[]), Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("spec.accounts.organization.organizationalUnits:"),
            "{e}"
        );
    }
}
