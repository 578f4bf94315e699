//! Findings on logging itself: on, to the policy's destinations, text data, retention, CloudTrail data events.

use super::*;

pub(super) fn logging_enabled(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(seen) = o.logging.as_ref().filter(|l| l.is_configured()) else {
        return fail(
            LOGGING_ENABLED,
            format!(
                "model invocation logging is off in {}: apply the policy (Enforce) to enable it",
                d.region
            ),
        );
    };
    let want = d.logging_config();
    if judge::logging_ok(&want, Some(seen)) {
        return pass(
            LOGGING_ENABLED,
            format!("logging on in {} to the policy's destinations", d.region),
        );
    }
    let mut diffs = Vec::new();
    if want.s3.as_ref().map(|s| &s.bucket) != seen.s3.as_ref().map(|s| &s.bucket) {
        diffs.push(format!(
            "S3 destination is {} (policy: {})",
            seen.s3
                .as_ref()
                .map(|s| s.bucket.as_str())
                .unwrap_or("none"),
            want.s3
                .as_ref()
                .map(|s| s.bucket.as_str())
                .unwrap_or("none")
        ));
    }
    if want.cloud_watch.as_ref().map(|c| &c.log_group)
        != seen.cloud_watch.as_ref().map(|c| &c.log_group)
    {
        diffs.push(format!(
            "log group is {} (policy: {})",
            seen.cloud_watch
                .as_ref()
                .map(|c| c.log_group.as_str())
                .unwrap_or("none"),
            want.cloud_watch
                .as_ref()
                .map(|c| c.log_group.as_str())
                .unwrap_or("none")
        ));
    }
    if diffs.is_empty() {
        diffs.push("data types, prefixes or role differ from the policy".into());
    }
    fail(
        LOGGING_ENABLED,
        format!(
            "logging in {} differs from the policy: {}",
            d.region,
            diffs.join("; ")
        ),
    )
}

pub(super) fn text_data(d: &RegionDesired, o: &RegionObserved) -> Finding {
    match o.logging.as_ref().filter(|l| l.is_configured()) {
        None => fail(
            TEXT_DATA,
            format!(
                "logging is off in {}, so no text data is delivered",
                d.region
            ),
        ),
        Some(l) if l.text.unwrap_or(true) => pass(TEXT_DATA, "text data delivery enabled"),
        Some(_) => {
            let f = fail(
                TEXT_DATA,
                format!(
                    "text data delivery is disabled in {}: add Text to spec.dataTypes",
                    d.region
                ),
            );
            if d.data_types.contains(&crate::api::DataType::Text) {
                f
            } else {
                f.advisory()
            }
        }
    }
}

pub(super) fn retention(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(g) = &d.log_group else {
        return skip(LOG_RETENTION, "no CloudWatch destination in the policy");
    };
    match (&o.log_group, g.retention) {
        (None, _) => fail(
            LOG_RETENTION,
            format!("log group {} does not exist", g.name),
        ),
        (Some(seen), Some(want)) if judge::retention_ok(Some(want), seen.retention_in_days) => {
            pass(LOG_RETENTION, format!("retention {want} days"))
        }
        (Some(seen), Some(want)) => fail(
            LOG_RETENTION,
            format!(
                "log group {} retention is {} (policy: {want} days)",
                g.name,
                seen.retention_in_days
                    .map(|d| format!("{d} days"))
                    .unwrap_or("never expire".into())
            ),
        ),
        (Some(seen), None) => match seen.retention_in_days {
            Some(days) => pass(LOG_RETENTION, format!("retention {days} days")),
            None => fail(
                LOG_RETENTION,
                format!(
                    "log group {} keeps logs forever: set spec.cloudWatch.retentionInDays",
                    g.name
                ),
            )
            .advisory(),
        },
    }
}

pub(super) fn cloudtrail(d: &RegionDesired, trail: Option<&TrailObserved>) -> Finding {
    if d.trail_events.is_empty() {
        return skip(CLOUDTRAIL_DATA_EVENTS, "no spec.cloudTrail in the policy");
    }
    match trail {
        None => fail(CLOUDTRAIL_DATA_EVENTS, "the trail could not be read"),
        Some(TrailObserved::Missing(name)) => fail(
            CLOUDTRAIL_DATA_EVENTS,
            format!(
                "trail {name} (spec.cloudTrail.trailName) does not exist: create it or fix the name"
            ),
        ),
        Some(TrailObserved::Found {
            info,
            selectors,
            logging,
        }) => {
            if !logging {
                return fail(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!(
                        "trail {} is not logging (stopped): start it (cloudtrail start-logging --name {})",
                        info.name, info.arn
                    ),
                );
            }
            if !info.multi_region && info.home_region != d.region {
                return fail(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!(
                        "trail {} is a single-region trail in {}, so it does not record {}: make it multi-region",
                        info.name, info.home_region, d.region
                    ),
                );
            }
            let missing = crate::engine::plan_trail::missing_types(selectors, &d.trail_events);
            if missing.is_empty() {
                pass(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!("trail {} records the Bedrock data events", info.name),
                )
            } else {
                let names: Vec<String> = missing
                    .iter()
                    .map(|t: &TrailDataEvent| t.resource_type())
                    .collect();
                fail(
                    CLOUDTRAIL_DATA_EVENTS,
                    format!("trail {} does not record {}", info.name, names.join(", ")),
                )
            }
        }
    }
}
