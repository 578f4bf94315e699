//! [`SdkCloud`]: CloudTrail: Bedrock data events on a trail.

use async_trait::async_trait;

use super::*;
use crate::cloud::Trail;

#[async_trait]
impl Trail for SdkCloud {
    async fn trail_get(&self, region: &str, name: &str) -> Result<Option<TrailInfo>, CloudError> {
        let c = self.region(region);
        let out = not_found_to_none(
            send!(
                self,
                "cloudtrail",
                "GetTrail",
                ov_trail,
                c.trail.get_trail().name(name)
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            let t = o.trail()?;
            Some(TrailInfo {
                arn: t.trail_arn().unwrap_or_default().to_string(),
                name: t.name().unwrap_or_default().to_string(),
                home_region: t.home_region().unwrap_or(region).to_string(),
                multi_region: t.is_multi_region_trail().unwrap_or(false),
            })
        }))
    }

    async fn trail_list(&self, region: &str) -> Result<Vec<TrailInfo>, CloudError> {
        let c = self.region(region);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = send!(
                self,
                "cloudtrail",
                "ListTrails",
                ov_trail,
                c.trail.list_trails().set_next_token(token.clone())
            )
            .await?;
            out.extend(page.trails().iter().map(|t| TrailInfo {
                arn: t.trail_arn().unwrap_or_default().to_string(),
                name: t.name().unwrap_or_default().to_string(),
                home_region: t.home_region().unwrap_or(region).to_string(),
                multi_region: false,
            }));
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn trail_is_logging(&self, region: &str, trail: &str) -> Result<bool, CloudError> {
        let c = self.region(region);
        let out = send!(
            self,
            "cloudtrail",
            "GetTrailStatus",
            ov_trail,
            c.trail.get_trail_status().name(trail)
        )
        .await?;
        Ok(out.is_logging().unwrap_or(false))
    }

    async fn trail_get_selectors(
        &self,
        region: &str,
        name: &str,
    ) -> Result<TrailSelectors, CloudError> {
        let c = self.region(region);
        let out = send!(
            self,
            "cloudtrail",
            "GetEventSelectors",
            ov_trail,
            c.trail.get_event_selectors().trail_name(name)
        )
        .await?;
        let advanced = out
            .advanced_event_selectors()
            .iter()
            .map(|s| AdvancedSelector {
                name: s.name().map(String::from),
                fields: s
                    .field_selectors()
                    .iter()
                    .map(|f| FieldSelector {
                        field: f.field().to_string(),
                        equals: f.equals().to_vec(),
                        starts_with: f.starts_with().to_vec(),
                        ends_with: f.ends_with().to_vec(),
                        not_equals: f.not_equals().to_vec(),
                        not_starts_with: f.not_starts_with().to_vec(),
                        not_ends_with: f.not_ends_with().to_vec(),
                    })
                    .collect(),
            })
            .collect();
        let basic = out
            .event_selectors()
            .iter()
            .map(|s| BasicSelector {
                read_write_type: s.read_write_type().map(|r| r.as_str().to_string()),
                include_management_events: s.include_management_events(),
                exclude_management_event_sources: s.exclude_management_event_sources().to_vec(),
                data_resources: s
                    .data_resources()
                    .iter()
                    .map(|d| {
                        (
                            d.r#type().unwrap_or_default().to_string(),
                            d.values().to_vec(),
                        )
                    })
                    .collect(),
            })
            .collect();
        Ok(TrailSelectors { advanced, basic })
    }

    async fn trail_put_advanced_selectors(
        &self,
        region: &str,
        name: &str,
        selectors: &[AdvancedSelector],
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let mut sdk = Vec::new();
        for s in selectors {
            let mut fields = Vec::new();
            for f in &s.fields {
                let opt = |v: &Vec<String>| if v.is_empty() { None } else { Some(v.clone()) };
                fields.push(
                    aws_sdk_cloudtrail::types::AdvancedFieldSelector::builder()
                        .field(&f.field)
                        .set_equals(opt(&f.equals))
                        .set_starts_with(opt(&f.starts_with))
                        .set_ends_with(opt(&f.ends_with))
                        .set_not_equals(opt(&f.not_equals))
                        .set_not_starts_with(opt(&f.not_starts_with))
                        .set_not_ends_with(opt(&f.not_ends_with))
                        .build()
                        .map_err(|e| build_err("cloudtrail", "PutEventSelectors", e))?,
                );
            }
            sdk.push(
                aws_sdk_cloudtrail::types::AdvancedEventSelector::builder()
                    .set_name(s.name.clone())
                    .set_field_selectors(Some(fields))
                    .build()
                    .map_err(|e| build_err("cloudtrail", "PutEventSelectors", e))?,
            );
        }
        send!(
            self,
            "cloudtrail",
            "PutEventSelectors",
            ov_trail,
            c.trail
                .put_event_selectors()
                .trail_name(name)
                .set_advanced_event_selectors(Some(sdk))
        )
        .await
        .map(|_| ())
    }
}
