//! Plan CloudTrail data events for Bedrock: merge one advanced event selector per listed
//! `AWS::Bedrock::<Type>` into the trail's selectors, never dropping foreign selectors.
//! Basic selectors are converted to their advanced equivalents first (AWS allows only one kind).

use super::EngineError;
use super::change::Change;
use super::desired::TrailDesired;
use super::findings::TrailObserved;
use crate::api::TrailDataEvent;
use crate::cloud::{AdvancedSelector, BasicSelector, FieldSelector, TrailSelectors};

/// The trail's changes, or the missing-trail error (it names the field).
pub fn plan_trail(t: &TrailDesired, o: &TrailObserved) -> Result<Vec<Change>, EngineError> {
    match o {
        TrailObserved::Missing(name) => Err(EngineError::spec(
            "spec.cloudTrail.trailName",
            format!(
                "trail {name} does not exist (looked up in {}, through ListTrails and in the policy's regions): create it, or fix the name or ARN",
                t.home_region.as_deref().unwrap_or(&t.ask_region)
            ),
        )),
        TrailObserved::Found {
            info, selectors, ..
        } => Ok(plan_selectors(selectors, &t.types)
            .map(|(merged, summary)| Change::PutTrailSelectors {
                trail: info.arn.clone(),
                home_region: info.home_region.clone(),
                selectors: merged,
                summary,
            })
            .into_iter()
            .collect()),
    }
}

pub const SELECTOR_PREFIX: &str = "bedrock-logging-operator: ";

fn field(name: &str, equals: Vec<String>) -> FieldSelector {
    FieldSelector {
        field: name.into(),
        equals,
        ..Default::default()
    }
}

/// The selector we add for one Bedrock resource type.
pub fn bedrock_selector(t: TrailDataEvent) -> AdvancedSelector {
    AdvancedSelector {
        name: Some(format!("{SELECTOR_PREFIX}{}", t.resource_type())),
        fields: vec![
            field("eventCategory", vec!["Data".into()]),
            field("resources.type", vec![t.resource_type()]),
        ],
    }
}

/// A type an earlier version of the operator wrote; CloudTrail names it `PromptVersion`.
pub const INVALID_PROMPT_TYPE: &str = "AWS::Bedrock::Prompt";

/// One of our own selectors (by name) whose type CloudTrail does not know.
fn is_our_invalid_selector(s: &AdvancedSelector) -> bool {
    s.name
        .as_deref()
        .is_some_and(|n| n.starts_with(SELECTOR_PREFIX))
        && s.fields.iter().any(|f| {
            f.field == "resources.type" && f.equals.iter().any(|v| v == INVALID_PROMPT_TYPE)
        })
}

/// True when `s` records every data event of resource type `t` (no narrowing filters).
pub fn covers(s: &AdvancedSelector, t: TrailDataEvent) -> bool {
    let rt = t.resource_type();
    let mut data = false;
    let mut typed = false;
    for f in &s.fields {
        match f.field.as_str() {
            "eventCategory" => data = f.equals.iter().any(|v| v == "Data"),
            "resources.type" => typed = f.equals.contains(&rt),
            _ => return false, // any other field narrows what is recorded
        }
    }
    data && typed
}

/// Convert classic selectors to advanced ones without losing what they selected.
pub fn convert_basic(basic: &[BasicSelector]) -> Vec<AdvancedSelector> {
    let mut out = Vec::new();
    for (i, b) in basic.iter().enumerate() {
        let read_only = match b.read_write_type.as_deref() {
            Some("ReadOnly") => Some("true"),
            Some("WriteOnly") => Some("false"),
            _ => None,
        };
        let ro_field = || read_only.map(|v| field("readOnly", vec![v.into()]));
        if b.include_management_events.unwrap_or(true) {
            let mut fields = vec![field("eventCategory", vec!["Management".into()])];
            fields.extend(ro_field());
            if !b.exclude_management_event_sources.is_empty() {
                fields.push(FieldSelector {
                    field: "eventSource".into(),
                    not_equals: b.exclude_management_event_sources.clone(),
                    ..Default::default()
                });
            }
            out.push(AdvancedSelector {
                name: Some(format!(
                    "Management events (converted from event selector {})",
                    i + 1
                )),
                fields,
            });
        }
        for (ty, values) in &b.data_resources {
            let mut fields = vec![
                field("eventCategory", vec!["Data".into()]),
                field("resources.type", vec![ty.clone()]),
            ];
            fields.extend(ro_field());
            // "arn:aws:s3" / "arn:aws:s3:::" style values select everything of the type.
            let prefixes: Vec<String> = values
                .iter()
                .filter(|v| v.trim_end_matches(':').matches(':').count() > 2 && !v.ends_with(":::"))
                .cloned()
                .collect();
            if !prefixes.is_empty() && prefixes.len() == values.len() {
                fields.push(FieldSelector {
                    field: "resources.ARN".into(),
                    starts_with: prefixes,
                    ..Default::default()
                });
            }
            out.push(AdvancedSelector {
                name: Some(format!(
                    "{ty} data events (converted from event selector {})",
                    i + 1
                )),
                fields,
            });
        }
    }
    out
}

/// The merged selectors and a summary of what was added, or None when nothing changes.
pub fn plan_selectors(
    current: &TrailSelectors,
    wanted: &[TrailDataEvent],
) -> Option<(Vec<AdvancedSelector>, Vec<String>)> {
    let mut selectors = if current.advanced.is_empty() {
        convert_basic(&current.basic)
    } else {
        current.advanced.clone()
    };
    let mut summary = Vec::new();
    if current.advanced.is_empty() && !current.basic.is_empty() {
        summary.push(format!(
            "{} basic selector(s) converted to advanced",
            current.basic.len()
        ));
    }
    // Our own selectors for a type that is not in CloudTrail's table (an earlier version wrote
    // `AWS::Bedrock::Prompt`): AWS rejects the whole PutEventSelectors while one is there.
    let before = selectors.len();
    selectors.retain(|s| !is_our_invalid_selector(s));
    if selectors.len() != before {
        summary.push(format!(
            "{} selector(s) of ours for {INVALID_PROMPT_TYPE} (not a CloudTrail type) replaced",
            before - selectors.len()
        ));
    }
    for t in wanted {
        if !selectors.iter().any(|s| covers(s, *t)) {
            selectors.push(bedrock_selector(*t));
            summary.push(format!("{} data events added", t.resource_type()));
        }
    }
    if summary.is_empty() {
        None
    } else {
        Some((selectors, summary))
    }
}

/// Bedrock resource types that the trail does not record yet.
pub fn missing_types(current: &TrailSelectors, wanted: &[TrailDataEvent]) -> Vec<TrailDataEvent> {
    let selectors = if current.advanced.is_empty() {
        convert_basic(&current.basic)
    } else {
        current.advanced.clone()
    };
    wanted
        .iter()
        .copied()
        .filter(|t| !selectors.iter().any(|s| covers(s, *t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_maps_to_the_table_name_and_agentcore_types_have_their_namespace() {
        assert_eq!(
            TrailDataEvent::Prompt.resource_type(),
            "AWS::Bedrock::PromptVersion"
        );
        assert_eq!(
            TrailDataEvent::AgentCoreAPIKeyCredentialProvider.resource_type(),
            "AWS::BedrockAgentCore::APIKeyCredentialProvider"
        );
        assert_eq!(
            TrailDataEvent::Session.resource_type(),
            "AWS::Bedrock::Session"
        );
        for t in TrailDataEvent::all() {
            assert_ne!(t.resource_type(), INVALID_PROMPT_TYPE);
        }
    }

    #[test]
    fn an_existing_prompt_version_selector_is_recognised_and_our_old_prompt_selector_replaced() {
        let theirs = AdvancedSelector {
            name: Some("prompts".into()),
            fields: vec![
                field("eventCategory", vec!["Data".into()]),
                field("resources.type", vec!["AWS::Bedrock::PromptVersion".into()]),
            ],
        };
        let current = TrailSelectors {
            advanced: vec![theirs.clone()],
            ..Default::default()
        };
        assert!(plan_selectors(&current, &[TrailDataEvent::Prompt]).is_none());
        let ours_old = AdvancedSelector {
            name: Some(format!("{SELECTOR_PREFIX}{INVALID_PROMPT_TYPE}")),
            fields: vec![
                field("eventCategory", vec!["Data".into()]),
                field("resources.type", vec![INVALID_PROMPT_TYPE.into()]),
            ],
        };
        let current = TrailSelectors {
            advanced: vec![ours_old],
            ..Default::default()
        };
        let (merged, _) = plan_selectors(&current, &[TrailDataEvent::Prompt]).unwrap();
        assert_eq!(merged, vec![bedrock_selector(TrailDataEvent::Prompt)]);
    }

    #[test]
    fn foreign_advanced_selectors_are_kept_and_ours_added_once() {
        let foreign = AdvancedSelector {
            name: Some("S3".into()),
            fields: vec![
                field("eventCategory", vec!["Data".into()]),
                field("resources.type", vec!["AWS::S3::Object".into()]),
            ],
        };
        let current = TrailSelectors {
            advanced: vec![foreign.clone()],
            basic: vec![],
        };
        let (merged, summary) = plan_selectors(
            &current,
            &[TrailDataEvent::Model, TrailDataEvent::Guardrail],
        )
        .unwrap();
        assert_eq!(merged[0], foreign);
        assert_eq!(merged.len(), 3);
        assert_eq!(summary.len(), 2);
        let again = TrailSelectors {
            advanced: merged,
            basic: vec![],
        };
        assert!(
            plan_selectors(&again, &[TrailDataEvent::Model, TrailDataEvent::Guardrail]).is_none()
        );
    }

    #[test]
    fn narrowed_selector_does_not_count_as_coverage() {
        let mut s = bedrock_selector(TrailDataEvent::Model);
        s.fields.push(field("readOnly", vec!["true".into()]));
        assert!(!covers(&s, TrailDataEvent::Model));
    }

    #[test]
    fn basic_selectors_are_converted_without_loss() {
        let basic = BasicSelector {
            read_write_type: Some("All".into()),
            include_management_events: Some(true),
            exclude_management_event_sources: vec!["kms.amazonaws.com".into()],
            data_resources: vec![
                (
                    "AWS::S3::Object".into(),
                    vec!["arn:aws:s3:::my-bucket/".into()],
                ),
                (
                    "AWS::Lambda::Function".into(),
                    vec!["arn:aws:lambda".into()],
                ),
            ],
        };
        let current = TrailSelectors {
            advanced: vec![],
            basic: vec![basic],
        };
        let (merged, summary) = plan_selectors(&current, &[TrailDataEvent::Model]).unwrap();
        assert_eq!(merged.len(), 4);
        assert_eq!(
            merged[0].fields[1].not_equals,
            vec!["kms.amazonaws.com".to_string()]
        );
        assert_eq!(
            merged[1].fields[2].starts_with,
            vec!["arn:aws:s3:::my-bucket/".to_string()]
        );
        assert_eq!(
            merged[2].fields.len(),
            2,
            "all-lambda selector has no ARN filter"
        );
        assert!(summary[0].contains("converted"));
    }
}
