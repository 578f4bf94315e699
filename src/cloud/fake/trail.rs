//! [`FakeCloud`]: CloudTrail: Bedrock data events on a trail.

use async_trait::async_trait;

use super::*;
use crate::cloud::Trail;

#[async_trait]
impl Trail for FakeCloud {
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
