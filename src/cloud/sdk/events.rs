//! [`SdkCloud`]: EventBridge: the rule on the default bus that feeds the tamper queue.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};

use super::*;
use crate::cloud::Events;

#[async_trait]
impl Events for SdkCloud {
    async fn events_describe_rule(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<RuleInfo>, CloudError> {
        let c = self.region(region);
        let out = not_found_to_none(
            send!(
                self,
                "events",
                "DescribeRule",
                ov_events,
                c.events.describe_rule().name(name)
            )
            .await,
        )?;
        Ok(out.map(|o| RuleInfo {
            arn: o.arn().unwrap_or_default().to_string(),
            pattern: o.event_pattern().map(String::from),
            enabled: o.state() == Some(&RuleState::Enabled),
        }))
    }

    async fn events_list_targets(
        &self,
        region: &str,
        rule: &str,
    ) -> Result<Vec<RuleTarget>, CloudError> {
        let c = self.region(region);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = send!(
                self,
                "events",
                "ListTargetsByRule",
                ov_events,
                c.events
                    .list_targets_by_rule()
                    .rule(rule)
                    .set_next_token(token.clone())
            )
            .await?;
            out.extend(page.targets().iter().map(|t| RuleTarget {
                id: t.id().to_string(),
                arn: t.arn().to_string(),
            }));
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn events_put_rule(
        &self,
        region: &str,
        name: &str,
        pattern: &str,
        description: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let c = self.region(region);
        let mut ts = Vec::with_capacity(tags.len());
        for (k, v) in tags {
            ts.push(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| build_err("events", "PutRule", e))?,
            );
        }
        let out = send!(
            self,
            "events",
            "PutRule",
            ov_events,
            c.events
                .put_rule()
                .name(name)
                .event_pattern(pattern)
                .state(RuleState::Enabled)
                .description(description)
                .set_tags(Some(ts))
        )
        .await?;
        Ok(out.rule_arn().unwrap_or_default().to_string())
    }

    async fn events_put_target(
        &self,
        region: &str,
        rule: &str,
        target: &RuleTarget,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let t = Target::builder()
            .id(&target.id)
            .arn(&target.arn)
            .build()
            .map_err(|e| build_err("events", "PutTargets", e))?;
        let out = send!(
            self,
            "events",
            "PutTargets",
            ov_events,
            c.events.put_targets().rule(rule).targets(t)
        )
        .await?;
        match out.failed_entries().first() {
            Some(f) => Err(CloudError::new(
                ErrorKind::Other,
                "events",
                "PutTargets",
                format!(
                    "target {} refused: {} {}",
                    target.id,
                    f.error_code().unwrap_or_default(),
                    f.error_message().unwrap_or_default()
                ),
            )),
            None => Ok(()),
        }
    }
}
