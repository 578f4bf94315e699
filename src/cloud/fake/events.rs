//! [`FakeCloud`]: EventBridge: rules on the default bus.

use async_trait::async_trait;

use super::*;
use crate::cloud::Events;

#[async_trait]
impl Events for FakeCloud {
    async fn events_describe_rule(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<RuleInfo>, CloudError> {
        self.enter(region, "DescribeRule", "events")?;
        Ok(self
            .st()
            .rules
            .get(&(region.to_string(), name.to_string()))
            .map(|r| r.info.clone()))
    }

    async fn events_list_targets(
        &self,
        region: &str,
        rule: &str,
    ) -> Result<Vec<RuleTarget>, CloudError> {
        self.enter(region, "ListTargetsByRule", "events")?;
        self.st()
            .rules
            .get(&(region.to_string(), rule.to_string()))
            .map(|r| r.targets.clone())
            .ok_or_else(|| {
                CloudError::new(
                    ErrorKind::NotFound,
                    "events",
                    "ListTargetsByRule",
                    format!("Rule {rule} does not exist."),
                )
            })
    }

    async fn events_put_rule(
        &self,
        region: &str,
        name: &str,
        pattern: &str,
        _description: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        self.enter(region, "PutRule", "events")?;
        let mut st = self.st();
        let account = st.account.clone();
        let r = st
            .rules
            .entry((region.to_string(), name.to_string()))
            .or_insert_with(|| FakeRule {
                info: RuleInfo {
                    arn: format!("arn:aws:events:{region}:{account}:rule/{name}"),
                    ..Default::default()
                },
                tags: tags.clone(),
                ..Default::default()
            });
        r.info.pattern = Some(pattern.to_string());
        r.info.enabled = true;
        Ok(r.info.arn.clone())
    }

    async fn events_put_target(
        &self,
        region: &str,
        rule: &str,
        target: &RuleTarget,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutTargets", "events")?;
        let mut st = self.st();
        let r = st
            .rules
            .get_mut(&(region.to_string(), rule.to_string()))
            .ok_or_else(|| {
                CloudError::new(
                    ErrorKind::NotFound,
                    "events",
                    "PutTargets",
                    format!("Rule {rule} does not exist."),
                )
            })?;
        r.targets.retain(|t| t.id != target.id);
        r.targets.push(target.clone());
        Ok(())
    }
}
