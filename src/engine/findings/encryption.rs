//! Findings on encryption: the policy's key on every destination, rotation, the key policy.

use super::*;

pub(super) fn encryption(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let key = key_ref(o);
    // How to name the key in messages when it does not exist yet.
    let key_label = match (&key, &d.key) {
        (KeyRef::Known(arn), _) => arn.clone(),
        (KeyRef::New, KeyDesired::Create { alias, .. }) => {
            format!("the policy's key {alias} (not created yet)")
        }
        (KeyRef::New, KeyDesired::Existing { reference }) => reference.clone(),
    };
    let mut problems = Vec::new();
    match &o.key {
        None => problems.push(format!(
            "the policy's KMS key does not exist in {} yet",
            d.region
        )),
        Some(k) if !k.info.enabled || k.info.state != "Enabled" => problems.push(format!(
            "key {} is {}",
            k.info.arn,
            if k.info.state.is_empty() {
                "disabled"
            } else {
                &k.info.state
            }
        )),
        Some(_) => {}
    }
    let mut check_bucket = |name: &str, seen: Option<&BucketObserved>| match seen
        .filter(|b| b.presence == BucketPresence::Owned)
    {
        None => problems.push(format!("bucket {name} does not exist")),
        Some(b) => {
            if let Some(p) = judge::bucket_encryption_problem(
                b.encryption.as_ref(),
                &key,
                alias_of(d),
                &key_label,
            ) {
                problems.push(format!("bucket {name} {p}"));
            }
        }
    };
    if let Some(b) = &d.bucket {
        check_bucket(&b.name, o.bucket.as_ref());
    }
    if let Some(l) = &d.large_bucket
        && d.bucket.as_ref().map(|b| &b.name) != Some(&l.name)
    {
        check_bucket(&l.name, o.large_bucket_view(d));
    }
    if let Some(g) = &d.log_group {
        match &o.log_group {
            None => problems.push(format!("log group {} does not exist", g.name)),
            Some(seen) => match seen.kms_key_id.as_deref() {
                None => problems.push(format!(
                    "log group {} has no KMS key; policy requires {key_label}",
                    g.name
                )),
                Some(id) if !judge::log_group_key_ok(Some(id), &key, alias_of(d)) => {
                    problems.push(format!(
                        "log group {} is encrypted with {id}; policy requires {key_label}",
                        g.name
                    ))
                }
                Some(_) => {}
            },
        }
    }
    if problems.is_empty() {
        pass(
            LOGS_ENCRYPTED,
            format!("all destinations in {} use {key_label}", d.region),
        )
    } else {
        fail(LOGS_ENCRYPTED, problems.join("; "))
    }
}

pub(super) fn rotation(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(k) = &o.key else {
        return fail(KEY_ROTATION, format!("no key in {} yet", d.region));
    };
    match (&d.key, k.rotation) {
        (_, true) => pass(KEY_ROTATION, format!("rotation enabled on {}", k.info.arn)),
        (KeyDesired::Create { rotation: false, .. }, false) => fail(
            KEY_ROTATION,
            format!("rotation is off on {} (spec.kmsKey.create.rotation is false): set it to true", k.info.arn),
        )
        .advisory(),
        (KeyDesired::Create { .. }, false) => fail(
            KEY_ROTATION,
            format!("rotation is off on {}: apply the policy to enable it", k.info.arn),
        ),
        (KeyDesired::Existing { .. }, false) => fail(
            KEY_ROTATION,
            format!(
                "rotation is off on existing key {}: enable automatic rotation on it (kms enable-key-rotation)",
                k.info.arn
            ),
        )
        .advisory(),
    }
}

pub(super) fn key_policy_context(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(k) = &o.key else {
        return fail(KEY_POLICY_CONTEXT, format!("no key in {} yet", d.region));
    };
    if !k.policy_readable {
        return fail(
            KEY_POLICY_CONTEXT,
            format!(
                "key {} (spec.kmsKey.existing) belongs to another account: its key policy cannot be read from here (KMS does not allow GetKeyPolicy across accounts), so this check is not verified; make sure it grants logs.{}.amazonaws.com (bound to the log group's encryption context) and bedrock.amazonaws.com kms:GenerateDataKey",
                k.info.arn, d.region
            ),
        )
        .advisory();
    }
    let missing = missing_key_statements(d, &k.policy);
    if missing.is_empty() {
        pass(
            KEY_POLICY_CONTEXT,
            format!(
                "key policy of {} grants Bedrock and CloudWatch Logs only what they need",
                k.info.arn
            ),
        )
    } else {
        let fix = if d.manage_key_policy {
            "apply the policy to merge them"
        } else {
            "spec.kmsKey.managePolicy is false: add them by hand or set managePolicy: true"
        };
        fail(
            KEY_POLICY_CONTEXT,
            format!(
                "key policy of {} needs: {}; {fix}",
                k.info.arn,
                missing.join(", ")
            ),
        )
    }
}
