//! `--export securityhub`: the findings of a pass, as ASFF, imported into the governed
//! account's Security Hub (`BatchImportFindings`, at most 100 a call, per region). Stable
//! finding ids make a re-import update rather than duplicate.

use std::collections::BTreeMap;

use serde_json::Value;

use super::asff::{report_partition, to_asff};
use super::{PolicyResult, to_json};
use crate::cloud::Cloud;

/// Security Hub's limit on findings per `BatchImportFindings`.
pub const BATCH: usize = 100;

/// What an export did.
#[derive(Debug, Default, PartialEq)]
pub struct Exported {
    pub imported: usize,
    /// (finding id, reason) refused by Security Hub, or a batch that failed as a whole.
    pub failed: Vec<(String, String)>,
}

/// The ASFF findings of one policy's pass, by region (each goes to that region's hub).
pub fn findings_by_region(result: &PolicyResult, now: &str) -> BTreeMap<String, Vec<Value>> {
    let json = to_json(std::slice::from_ref(result));
    let asff = to_asff(&json, now, report_partition(&json));
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for f in asff.as_array().into_iter().flatten() {
        let region = f
            .pointer("/Resources/0/Region")
            .and_then(Value::as_str)
            .unwrap_or("us-east-1")
            .to_string();
        out.entry(region).or_default().push(f.clone());
    }
    out
}

/// Import one policy's findings into its account's Security Hub.
pub async fn to_security_hub(cloud: &dyn Cloud, result: &PolicyResult, now: &str) -> Exported {
    let mut done = Exported::default();
    for (region, findings) in findings_by_region(result, now) {
        for batch in findings.chunks(BATCH) {
            match cloud.securityhub_import(&region, batch).await {
                Ok(refused) => {
                    done.imported += batch.len() - refused.len();
                    done.failed.extend(
                        refused
                            .into_iter()
                            .map(|f| (f.id, format!("{}: {}", f.code, f.message))),
                    );
                }
                Err(e) => done.failed.extend(batch.iter().map(|f| {
                    (
                        f["Id"].as_str().unwrap_or_default().to_string(),
                        e.to_string(),
                    )
                })),
            }
        }
    }
    done
}
