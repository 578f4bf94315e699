//! [`FakeCloud`]: Security Hub: imported findings kept by id (a re-import updates).

use async_trait::async_trait;

use super::*;
use crate::cloud::SecurityHub;

#[async_trait]
impl SecurityHub for FakeCloud {
    async fn securityhub_import(
        &self,
        region: &str,
        findings: &[serde_json::Value],
    ) -> Result<Vec<ImportFailure>, CloudError> {
        self.enter(region, "BatchImportFindings", "securityhub")?;
        let mut st = self.st();
        let mut failed = Vec::new();
        for f in findings {
            match f.get("Id").and_then(|v| v.as_str()) {
                Some(id) => {
                    st.findings.insert(id.to_string(), f.clone());
                }
                None => failed.push(ImportFailure {
                    id: String::new(),
                    code: "InvalidInput".into(),
                    message: "finding without Id".into(),
                }),
            }
        }
        Ok(failed)
    }
}
