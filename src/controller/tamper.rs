//! The tamper listener (SPEC §3 step 7): long-polls each governed region's queue, matches each
//! CloudTrail event to the policy's resources, and asks the controller for an immediate pass of
//! exactly that policy. A burst is coalesced into one pass; messages are deleted only after the
//! pass they triggered ran (Enforce; Audit never writes, so it never deletes and remembers what
//! it already reported instead). The operator's own calls are recognised and ignored.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::api::TamperRecord;
use crate::cloud::Cloud;
use crate::engine::PolicyReport;
use crate::engine::tamper::{TAMPER_EVENTS, TamperWatch, event_label};

/// Long-poll wait (SQS maximum).
const WAIT_SECONDS: i32 = 20;
/// How long received messages stay hidden: long enough for the pass they trigger (Enforce), or
/// half a day (Audit, which never deletes them).
const VISIBILITY_ENFORCE: i32 = 300;
const VISIBILITY_AUDIT: i32 = 43_200;
/// At most this many long polls in flight (every queue of every policy).
const MAX_POLLS: usize = 128;
/// A burst is over once the queue stayed empty this long (the delay it adds to a repair)...
const QUIET: Duration = Duration::from_millis(500);
/// ...or this long after its first message (a steady flood still gets passes).
const DRAIN_LIMIT: Duration = Duration::from_secs(3);
/// Message ids an Audit listener remembers (it cannot delete what it reported).
const AUDIT_SEEN: usize = 10_000;

/// One tamper event waiting for the pass it triggered.
#[derive(Debug, Clone)]
pub struct Pending {
    pub region: String,
    pub record: TamperRecord,
    /// The bounded metric label (the event name, or "other").
    pub label: &'static str,
    receipt: Option<Receipt>,
}

#[derive(Clone)]
struct Receipt {
    cloud: Arc<dyn Cloud>,
    url: String,
    handle: String,
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt").field("url", &self.url).finish()
    }
}

struct Sub {
    url: String,
    watch: TamperWatch,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    /// (policy, region) → the queue being polled.
    subs: HashMap<(String, String), Sub>,
    pending: BTreeMap<String, Vec<Pending>>,
}

/// Shared by the reconciler (which registers queues and takes events) and the pollers.
pub struct TamperHub {
    state: Mutex<State>,
    trigger: mpsc::UnboundedSender<String>,
    polls: Arc<Semaphore>,
}

impl TamperHub {
    /// The hub and the stream of policy names to reconcile at once.
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<String>) {
        let (trigger, rx) = mpsc::unbounded_channel();
        let hub = Arc::new(TamperHub {
            state: Mutex::new(State::default()),
            trigger,
            polls: Arc::new(Semaphore::new(MAX_POLLS)),
        });
        (hub, rx)
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue an event as a poller would (tests).
    #[cfg(test)]
    pub fn inject(&self, policy: &str, region: &str, record: TamperRecord) {
        self.st()
            .pending
            .entry(policy.to_string())
            .or_default()
            .push(Pending {
                region: region.to_string(),
                label: event_label(record.event.rsplit(':').next().unwrap_or("")),
                record,
                receipt: None,
            });
    }

    /// Events waiting for the policy's next pass.
    pub fn pending_count(&self, policy: &str) -> usize {
        self.st().pending.get(policy).map_or(0, Vec::len)
    }

    pub fn has_pending(&self, policy: &str) -> bool {
        self.st().pending.get(policy).is_some_and(|v| !v.is_empty())
    }

    /// The events waiting for this policy's pass (the pass acknowledges them with [`Self::ack`]).
    pub fn take(&self, policy: &str) -> Vec<Pending> {
        self.st().pending.remove(policy).unwrap_or_default()
    }

    /// Poll the queue of every region the report says is wired; stop polling the others.
    /// Returns the queues no longer used (region, URL): reported, never deleted.
    pub fn sync(
        self: &Arc<Self>,
        policy: &str,
        cloud: Arc<dyn Cloud>,
        report: &PolicyReport,
    ) -> Vec<(String, String)> {
        let audit = report.mode == crate::api::Mode::Audit;
        let mut st = self.st();
        let wanted: HashMap<&str, &TamperWatch> = report
            .regions
            .iter()
            .filter_map(|r| Some((r.region.as_str(), r.tamper_watch.as_ref()?)))
            .collect();
        let mut unused = Vec::new();
        st.subs.retain(|(p, region), sub| {
            let keep = p != policy
                || wanted
                    .get(region.as_str())
                    .is_some_and(|w| w.queue_url == sub.url);
            if !keep {
                sub.task.abort();
                unused.push((region.clone(), sub.url.clone()));
            }
            keep
        });
        for (region, watch) in wanted {
            let key = (policy.to_string(), region.to_string());
            if let Some(sub) = st.subs.get_mut(&key) {
                sub.watch = watch.clone();
                continue;
            }
            let task = tokio::spawn(poll(
                Arc::downgrade(self),
                key.clone(),
                cloud.clone(),
                watch.queue_url.clone(),
                audit,
            ));
            st.subs.insert(
                key,
                Sub {
                    url: watch.queue_url.clone(),
                    watch: watch.clone(),
                    task,
                },
            );
        }
        unused
    }

    /// The policy is gone: stop its pollers and drop what was pending (the messages reappear
    /// in the queue; nothing is deleted).
    pub fn forget(&self, policy: &str) {
        let mut st = self.st();
        st.subs.retain(|(p, _), sub| {
            if p == policy {
                sub.task.abort();
            }
            p != policy
        });
        st.pending.remove(policy);
    }

    /// The policy no longer asks for tamper response: stop polling (its events stay pending
    /// until taken).
    pub fn forget_queues(&self, policy: &str) -> Vec<(String, String)> {
        let mut unused = Vec::new();
        self.st().subs.retain(|(p, region), sub| {
            if p == policy {
                sub.task.abort();
                unused.push((region.clone(), sub.url.clone()));
            }
            p != policy
        });
        unused
    }

    /// Delete the messages of events whose pass ran (Enforce; Audit events carry no receipt).
    pub async fn ack(&self, done: &[Pending]) {
        type Batch = (Arc<dyn Cloud>, String, Vec<String>);
        let mut by_queue: BTreeMap<String, Batch> = BTreeMap::new();
        for p in done {
            if let Some(r) = &p.receipt {
                by_queue
                    .entry(r.url.clone())
                    .or_insert_with(|| (r.cloud.clone(), p.region.clone(), vec![]))
                    .2
                    .push(r.handle.clone());
            }
        }
        for (url, (cloud, region, handles)) in by_queue {
            if let Err(e) = cloud.sqs_delete(&region, &url, &handles).await {
                tracing::warn!(queue = %url, error = %e, "cannot delete handled tamper messages (they will be seen again)");
            }
        }
    }

    /// Take a batch from one queue; true when it holds a tamper event for the policy and no
    /// earlier event is already waiting for a pass (that pass will take these too).
    fn accept(
        &self,
        key: &(String, String),
        batch: Vec<crate::cloud::QueueMessage>,
        own: Option<&str>,
        cloud: &Arc<dyn Cloud>,
        url: &str,
        audit: bool,
    ) -> (bool, Vec<String>) {
        let mut st = self.st();
        let Some(watch) = st.subs.get(key).map(|s| s.watch.clone()) else {
            return (false, vec![]);
        };
        let mut discard = Vec::new();
        let mut hit = false;
        // A pass is already asked for while earlier events wait for it: no second trigger.
        let already_waiting = st.pending.get(&key.0).is_some_and(|v| !v.is_empty());
        for m in batch {
            match classify(&m.body, &watch, own) {
                Verdict::Tamper(record, label) => {
                    hit = true;
                    st.pending.entry(key.0.clone()).or_default().push(Pending {
                        region: key.1.clone(),
                        record,
                        label,
                        // Audit never writes: it keeps no receipt to delete with.
                        receipt: (!audit).then(|| Receipt {
                            cloud: cloud.clone(),
                            url: url.to_string(),
                            handle: m.receipt,
                        }),
                    });
                }
                Verdict::Own | Verdict::Ignored => discard.push(m.receipt),
            }
        }
        (hit && !already_waiting, discard)
    }
}

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Tamper(TamperRecord, &'static str),
    /// The operator's own call (its repair): never a reason for another pass.
    Own,
    /// Not a tamper call, failed, malformed, or about resources the policy does not govern.
    Ignored,
}

/// Same principal: assumed-role ARNs are compared without their session name.
fn same_principal(actor: &str, own: &str) -> bool {
    let base = |a: &str| match a.find(":assumed-role/") {
        Some(i) => {
            let rest = &a[i + ":assumed-role/".len()..];
            format!(
                "{}{}",
                &a[..i + ":assumed-role/".len()],
                rest.split('/').next().unwrap_or("")
            )
        }
        None => a.to_string(),
    };
    !actor.is_empty() && base(actor) == base(own)
}

fn names_governed(candidate: &str, names: &std::collections::BTreeSet<String>) -> bool {
    let c = candidate.trim_end_matches(":*");
    names.contains(c)
        || names
            .iter()
            .any(|n| c.ends_with(&format!(":{n}")) || c.ends_with(&format!("/{n}")))
}

/// Judge one message: an EventBridge event carrying a CloudTrail record.
pub fn classify(body: &str, watch: &TamperWatch, own: Option<&str>) -> Verdict {
    let Ok(event) = serde_json::from_str::<Value>(body) else {
        return Verdict::Ignored;
    };
    if event.get("detail-type").and_then(Value::as_str) != Some("AWS API Call via CloudTrail") {
        return Verdict::Ignored;
    }
    let d = event.get("detail").cloned().unwrap_or_default();
    let s = |p: &str| d.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let (source, name) = (s("/eventSource"), s("/eventName"));
    let known = TAMPER_EVENTS
        .iter()
        .any(|(src, names)| *src == source && names.contains(&name));
    // A refused call changed nothing.
    if !known || d.get("errorCode").is_some_and(|e| !e.is_null()) {
        return Verdict::Ignored;
    }
    let actor = s("/userIdentity/arn");
    if own.is_some_and(|o| same_principal(actor, o)) {
        return Verdict::Own;
    }
    let governed = source == "bedrock.amazonaws.com" || {
        let params = d.get("requestParameters").cloned().unwrap_or_default();
        let mut candidates: Vec<String> = [
            "bucketName",
            "keyId",
            "aliasName",
            "targetKeyId",
            "logGroupName",
            "logGroupIdentifier",
            "roleName",
            "name",
            "trailName",
        ]
        .iter()
        .filter_map(|k| params.get(*k).and_then(Value::as_str).map(String::from))
        .collect();
        candidates.extend(
            d.get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("ARN").and_then(Value::as_str).map(String::from)),
        );
        candidates.iter().any(|c| names_governed(c, &watch.names))
    };
    if !governed {
        return Verdict::Ignored;
    }
    let actor = if actor.is_empty() {
        let t = s("/userIdentity/type");
        if t.is_empty() { "unknown" } else { t }
    } else {
        actor
    };
    Verdict::Tamper(
        TamperRecord {
            actor: crate::truncate(actor, 512),
            event: format!("{source}:{name}"),
            time: s("/eventTime").to_string(),
        },
        event_label(name),
    )
}

/// One queue's poller: long polls, drains a burst, hands tamper events to the hub and asks for
/// one pass. Back-off on errors (1 s doubling to a minute).
async fn poll(
    hub: Weak<TamperHub>,
    key: (String, String),
    cloud: Arc<dyn Cloud>,
    url: String,
    audit: bool,
) {
    let region = key.1.clone();
    let own = cloud.caller_arn().await.ok();
    let visibility = if audit {
        VISIBILITY_AUDIT
    } else {
        VISIBILITY_ENFORCE
    };
    let mut seen: (HashSet<String>, VecDeque<String>) = Default::default();
    let mut delay = Duration::from_secs(1);
    loop {
        let polls = match hub.upgrade() {
            Some(h) => h.polls.clone(),
            None => return,
        };
        let first = {
            let Ok(_slot) = polls.acquire().await else {
                return;
            };
            cloud
                .sqs_receive(&region, &url, WAIT_SECONDS, visibility)
                .await
        };
        let mut batch = match first {
            Ok(b) => {
                delay = Duration::from_secs(1);
                b
            }
            Err(e) => {
                tracing::warn!(policy = %key.0, region = %region, error = %e, "tamper queue poll failed; backing off");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        // Take the rest of a burst: keep receiving until the queue has been quiet for
        // QUIET, at most DRAIN_LIMIT after the first message.
        let started = tokio::time::Instant::now();
        let mut last = started;
        while started.elapsed() < DRAIN_LIMIT {
            match cloud.sqs_receive(&region, &url, 0, visibility).await {
                Ok(more) if !more.is_empty() => {
                    batch.extend(more);
                    last = tokio::time::Instant::now();
                }
                Ok(_) if last.elapsed() < QUIET => tokio::time::sleep(QUIET / 5).await,
                _ => break,
            }
        }
        if audit {
            batch.retain(|m| seen.0.insert(m.id.clone()));
            seen.1.extend(batch.iter().map(|m| m.id.clone()));
            while seen.1.len() > AUDIT_SEEN {
                if let Some(old) = seen.1.pop_front() {
                    seen.0.remove(&old);
                }
            }
        }
        let Some(h) = hub.upgrade() else {
            return;
        };
        let (hit, discard) = h.accept(&key, batch, own.as_deref(), &cloud, &url, audit);
        if !audit
            && !discard.is_empty()
            && let Err(e) = cloud.sqs_delete(&region, &url, &discard).await
        {
            tracing::debug!(error = %e, "cannot delete ignored messages");
        }
        if hit {
            tracing::info!(policy = %key.0, region = %region, "tamper event: reconciling now");
            let _ = h.trigger.send(key.0.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn watch() -> TamperWatch {
        TamperWatch {
            queue_url: "u".into(),
            names: [
                "logs-bucket",
                "alias/bedrock-logging",
                "/aws/bedrock/x",
                "BedrockRole",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        }
    }

    fn event(source: &str, name: &str, actor: &str, params: Value) -> String {
        json!({
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.x",
            "detail": {
                "eventSource": source, "eventName": name, "eventTime": "2026-12-01T10:00:00Z",
                "userIdentity": {"type": "IAMUser", "arn": actor},
                "requestParameters": params,
            }
        })
        .to_string()
    }

    #[test]
    fn a_bedrock_delete_names_actor_event_and_time() {
        let v = classify(
            &event(
                "bedrock.amazonaws.com",
                "DeleteModelInvocationLoggingConfiguration",
                "arn:aws:iam::1:user/mallory",
                Value::Null,
            ),
            &watch(),
            Some("arn:aws:sts::1:assumed-role/op/blo-p"),
        );
        assert_eq!(
            v,
            Verdict::Tamper(
                TamperRecord {
                    actor: "arn:aws:iam::1:user/mallory".into(),
                    event: "bedrock.amazonaws.com:DeleteModelInvocationLoggingConfiguration".into(),
                    time: "2026-12-01T10:00:00Z".into(),
                },
                "DeleteModelInvocationLoggingConfiguration"
            )
        );
    }

    #[test]
    fn resources_are_matched_by_name_or_arn_and_others_ignored() {
        let w = watch();
        let t = |src: &str, n: &str, p: Value| {
            classify(&event(src, n, "arn:aws:iam::1:user/m", p), &w, None)
        };
        assert!(matches!(
            t(
                "s3.amazonaws.com",
                "PutBucketEncryption",
                json!({"bucketName": "logs-bucket"})
            ),
            Verdict::Tamper(..)
        ));
        assert_eq!(
            t(
                "s3.amazonaws.com",
                "PutBucketEncryption",
                json!({"bucketName": "someone-else"})
            ),
            Verdict::Ignored
        );
        assert!(matches!(
            t(
                "kms.amazonaws.com",
                "DeleteAlias",
                json!({"aliasName": "alias/bedrock-logging"})
            ),
            Verdict::Tamper(..)
        ));
        assert!(matches!(
            t(
                "logs.amazonaws.com",
                "DisassociateKmsKey",
                json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:1:log-group:/aws/bedrock/x:*"})
            ),
            Verdict::Tamper(..)
        ));
        assert!(matches!(
            t(
                "iam.amazonaws.com",
                "UpdateAssumeRolePolicy",
                json!({"roleName": "BedrockRole"})
            ),
            Verdict::Tamper(..)
        ));
        // Not a tamper call, or no resource named.
        assert_eq!(
            t(
                "s3.amazonaws.com",
                "PutObject",
                json!({"bucketName": "logs-bucket"})
            ),
            Verdict::Ignored
        );
        assert_eq!(
            t("kms.amazonaws.com", "DisableKey", Value::Null),
            Verdict::Ignored
        );
        assert_eq!(classify("not json", &w, None), Verdict::Ignored);
    }

    #[test]
    fn the_operators_own_calls_and_refused_calls_are_not_tamper() {
        let own = "arn:aws:sts::1:assumed-role/blo-operator/blo-p";
        let e = event(
            "bedrock.amazonaws.com",
            "PutModelInvocationLoggingConfiguration",
            "arn:aws:sts::1:assumed-role/blo-operator/another-session",
            Value::Null,
        );
        assert_eq!(classify(&e, &watch(), Some(own)), Verdict::Own);
        let mut refused: Value = serde_json::from_str(&event(
            "bedrock.amazonaws.com",
            "DeleteModelInvocationLoggingConfiguration",
            "arn:aws:iam::1:user/m",
            Value::Null,
        ))
        .unwrap();
        refused["detail"]["errorCode"] = json!("AccessDenied");
        assert_eq!(
            classify(&refused.to_string(), &watch(), Some(own)),
            Verdict::Ignored
        );
        assert!(!same_principal("", own));
        assert!(!same_principal(
            "arn:aws:sts::1:assumed-role/blo-operator-x/s",
            own
        ));
    }
}
