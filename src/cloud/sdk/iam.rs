//! [`SdkCloud`]: IAM (global): the delivery role.

use async_trait::async_trait;

use super::*;
use crate::cloud::Iam;

#[async_trait]
impl Iam for SdkCloud {
    async fn iam_get_role(&self, name: &str) -> Result<Option<RoleInfo>, CloudError> {
        let out = not_found_to_none(
            send!(
                self,
                "iam",
                "GetRole",
                ov_iam,
                self.pool.iam.get_role().role_name(name)
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            let r = o.role()?;
            Some(RoleInfo {
                arn: r.arn().to_string(),
                trust_policy: r
                    .assume_role_policy_document()
                    .map(|d| {
                        urlencoding::decode(d)
                            .map(|c| c.into_owned())
                            .unwrap_or_else(|_| d.to_string())
                    })
                    .unwrap_or_default(),
            })
        }))
    }

    async fn iam_get_role_policy(
        &self,
        role: &str,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        let out = not_found_to_none(
            send!(
                self,
                "iam",
                "GetRolePolicy",
                ov_iam,
                self.pool
                    .iam
                    .get_role_policy()
                    .role_name(role)
                    .policy_name(policy_name)
            )
            .await,
        )?;
        Ok(out.map(|o| {
            let d = o.policy_document();
            urlencoding::decode(d)
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| d.to_string())
        }))
    }

    async fn iam_create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &Tags,
    ) -> Result<RoleInfo, CloudError> {
        let mut req = self
            .pool
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy)
            .description("Lets Amazon Bedrock deliver model invocation logs to CloudWatch Logs (managed by bedrock-logging-operator)");
        for (k, v) in tags {
            req = req.tags(
                aws_sdk_iam::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| build_err("iam", "CreateRole", e))?,
            );
        }
        match send!(self, "iam", "CreateRole", ov_iam, req).await {
            Ok(out) => Ok(RoleInfo {
                arn: out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                trust_policy: trust_policy.to_string(),
            }),
            // A retry after a lost response: the role is there; the next pass reconciles it.
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {
                self.iam_get_role(name).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn iam_update_trust(&self, name: &str, trust_policy: &str) -> Result<(), CloudError> {
        send!(
            self,
            "iam",
            "UpdateAssumeRolePolicy",
            ov_iam,
            self.pool
                .iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(trust_policy)
        )
        .await
        .map(|_| ())
    }

    async fn iam_put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        send!(
            self,
            "iam",
            "PutRolePolicy",
            ov_iam,
            self.pool
                .iam
                .put_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .policy_document(policy)
        )
        .await
        .map(|_| ())
    }
}
