//! [`SdkCloud`]: Security Hub: `BatchImportFindings` of ASFF findings.

use async_trait::async_trait;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, FindingProviderFields,
    FindingProviderSeverity, Recommendation, RecordState, Remediation, Resource, Severity,
    SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;

use super::*;
use crate::cloud::SecurityHub;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// An ASFF finding (JSON, as `check -o asff` prints it) as the SDK's type.
fn to_finding(f: &Value) -> Result<AwsSecurityFinding, CloudError> {
    let sev = f.get("Severity").cloned().unwrap_or_default();
    let mut resources = Vec::new();
    for r in f
        .get("Resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        resources.push(
            Resource::builder()
                .r#type(s(r, "Type"))
                .id(s(r, "Id"))
                .partition(aws_sdk_securityhub::types::Partition::from(s(
                    r,
                    "Partition",
                )))
                .region(s(r, "Region"))
                .build(),
        );
    }
    let compliance = f.get("Compliance").map(|c| {
        Compliance::builder()
            .status(ComplianceStatus::from(s(c, "Status")))
            .set_related_requirements(
                Some(strings(c, "RelatedRequirements")).filter(|v| !v.is_empty()),
            )
            .build()
    });
    let product_fields = f.get("ProductFields").and_then(Value::as_object).map(|m| {
        m.iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect::<HashMap<_, _>>()
    });
    let recommendation = f
        .pointer("/Remediation/Recommendation/Text")
        .and_then(Value::as_str)
        .map(|t| {
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(crate::truncate(t, 512))
                        .build(),
                )
                .build()
        });
    // After the first import Security Hub takes severity and types from FindingProviderFields.
    let provider = f.get("FindingProviderFields").map(|pf| {
        let sev = pf.get("Severity").cloned().unwrap_or_default();
        FindingProviderFields::builder()
            .severity(
                FindingProviderSeverity::builder()
                    .label(SeverityLabel::from(s(&sev, "Label")))
                    .original(s(&sev, "Original"))
                    .build(),
            )
            .set_types(Some(strings(pf, "Types")))
            .build()
    });
    Ok(AwsSecurityFinding::builder()
        .set_finding_provider_fields(provider)
        .set_product_name(
            f.get("ProductName")
                .and_then(Value::as_str)
                .map(String::from),
        )
        .set_company_name(
            f.get("CompanyName")
                .and_then(Value::as_str)
                .map(String::from),
        )
        .schema_version(s(f, "SchemaVersion"))
        .id(s(f, "Id"))
        .product_arn(s(f, "ProductArn"))
        .generator_id(s(f, "GeneratorId"))
        .aws_account_id(s(f, "AwsAccountId"))
        .set_types(Some(strings(f, "Types")))
        .created_at(s(f, "CreatedAt"))
        .updated_at(s(f, "UpdatedAt"))
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(s(&sev, "Label")))
                .original(s(&sev, "Original"))
                .build(),
        )
        .title(s(f, "Title"))
        .description(s(f, "Description"))
        .set_resources(Some(resources))
        .set_compliance(compliance)
        .set_product_fields(product_fields)
        .record_state(RecordState::from(s(f, "RecordState")))
        .set_workflow(
            f.pointer("/Workflow/Status")
                .and_then(Value::as_str)
                .map(|st| Workflow::builder().status(WorkflowStatus::from(st)).build()),
        )
        .set_remediation(recommendation)
        .build())
}

#[async_trait]
impl SecurityHub for SdkCloud {
    async fn securityhub_import(
        &self,
        region: &str,
        findings: &[Value],
    ) -> Result<Vec<ImportFailure>, CloudError> {
        let typed = findings
            .iter()
            .map(to_finding)
            .collect::<Result<Vec<_>, _>>()?;
        let client = self.pool.securityhub(region);
        let out = send!(
            self,
            "securityhub",
            "BatchImportFindings",
            ov_securityhub,
            client.batch_import_findings().set_findings(Some(typed))
        )
        .await?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|f| ImportFailure {
                id: f.id().unwrap_or_default().to_string(),
                code: f.error_code().unwrap_or_default().to_string(),
                message: f.error_message().unwrap_or_default().to_string(),
            })
            .collect())
    }
}
