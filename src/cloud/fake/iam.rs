//! [`FakeCloud`]: IAM (global): the delivery role.

use async_trait::async_trait;

use super::*;
use crate::cloud::Iam;

#[async_trait]
impl Iam for FakeCloud {
    async fn iam_get_role(&self, name: &str) -> Result<Option<RoleInfo>, CloudError> {
        self.enter("global", "GetRole", "iam")?;
        Ok(self.st().roles.get(name).map(|r| RoleInfo {
            arn: r.arn.clone(),
            trust_policy: r.trust.clone(),
        }))
    }

    async fn iam_get_role_policy(
        &self,
        role: &str,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        self.enter("global", "GetRolePolicy", "iam")?;
        Ok(self
            .st()
            .roles
            .get(role)
            .and_then(|r| r.inline.get(policy_name).cloned()))
    }

    async fn iam_create_role(
        &self,
        name: &str,
        trust_policy: &str,
        _tags: &Tags,
    ) -> Result<RoleInfo, CloudError> {
        self.enter("global", "CreateRole", "iam")?;
        let mut st = self.st();
        let arn = format!("arn:aws:iam::{}:role/{name}", st.account);
        st.roles.insert(
            name.to_string(),
            FakeRole {
                arn: arn.clone(),
                trust: trust_policy.to_string(),
                inline: BTreeMap::new(),
            },
        );
        Ok(RoleInfo {
            arn,
            trust_policy: trust_policy.to_string(),
        })
    }

    async fn iam_update_trust(&self, name: &str, trust_policy: &str) -> Result<(), CloudError> {
        self.enter("global", "UpdateAssumeRolePolicy", "iam")?;
        let mut st = self.st();
        let r = st
            .roles
            .get_mut(name)
            .ok_or_else(|| not_found("iam", "UpdateAssumeRolePolicy", name))?;
        r.trust = trust_policy.to_string();
        Ok(())
    }

    async fn iam_put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.enter("global", "PutRolePolicy", "iam")?;
        let mut st = self.st();
        let r = st
            .roles
            .get_mut(role)
            .ok_or_else(|| not_found("iam", "PutRolePolicy", role))?;
        r.inline.insert(policy_name.to_string(), policy.to_string());
        Ok(())
    }
}
