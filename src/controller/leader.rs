//! Lease-based leader election (coordination.k8s.io/v1): two replicas never reconcile at once.
//! The holder renews every `renew`; a standby takes over once the lease has not been renewed for
//! `duration`. A leader that cannot renew before its lease expires exits, so it can never act
//! alongside a new leader.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub duration: Duration,
    pub renew: Duration,
}

/// What holding the lease decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Acquire,
    Renew,
    Standby { holder: String },
}

/// Pure: may `me` take or keep the lease, given its current spec and the time?
pub fn decide(spec: Option<&LeaseSpec>, me: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Acquire;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder == me {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::Acquire;
    }
    let duration = SignedDuration::from_secs(spec.lease_duration_seconds.unwrap_or(15) as i64);
    match &spec.renew_time {
        Some(MicroTime(t)) if t.checked_add(duration).is_ok_and(|exp| exp > now) => {
            Decision::Standby { holder }
        }
        _ => Decision::Acquire,
    }
}

fn lease_spec(cfg: &LeaseConfig, previous: Option<&LeaseSpec>, now: Timestamp) -> LeaseSpec {
    let same_holder =
        previous.and_then(|p| p.holder_identity.as_deref()) == Some(cfg.identity.as_str());
    LeaseSpec {
        holder_identity: Some(cfg.identity.clone()),
        lease_duration_seconds: Some(cfg.duration.as_secs() as i32),
        acquire_time: if same_holder {
            previous.and_then(|p| p.acquire_time.clone())
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(
            previous.and_then(|p| p.lease_transitions).unwrap_or(0)
                + if same_holder { 0 } else { 1 },
        ),
        ..Default::default()
    }
}

/// Try once to take or renew the lease. Ok(true): we hold it now.
pub async fn try_acquire(client: &Client, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &cfg.namespace);
    let now = Timestamp::now();
    match api.get_opt(&cfg.name).await? {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    ..Default::default()
                },
                spec: Some(lease_spec(cfg, None, now)),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(mut lease) => match decide(lease.spec.as_ref(), &cfg.identity, now) {
            Decision::Standby { .. } => Ok(false),
            Decision::Acquire | Decision::Renew => {
                lease.spec = Some(lease_spec(cfg, lease.spec.as_ref(), now));
                // replace() carries resourceVersion: a concurrent writer makes this fail (409).
                match api.replace(&cfg.name, &PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
        },
    }
}

/// Block until this replica holds the lease.
pub async fn acquire(client: &Client, cfg: &LeaseConfig) {
    loop {
        match try_acquire(client, cfg).await {
            Ok(true) => {
                tracing::info!(lease = %cfg.name, identity = %cfg.identity, "became leader");
                return;
            }
            Ok(false) => tracing::debug!(lease = %cfg.name, "standing by"),
            Err(e) => tracing::warn!(error = %e, "leader election: cannot read or write the lease"),
        }
        tokio::time::sleep(cfg.renew).await;
    }
}

/// Renew until a renewal fails for longer than the lease duration; then return (step down).
pub async fn hold(client: Client, cfg: LeaseConfig) {
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cfg.renew).await;
        match try_acquire(&client, &cfg).await {
            Ok(true) => last_ok = tokio::time::Instant::now(),
            Ok(false) => {
                tracing::error!(lease = %cfg.name, "lost the lease to another replica");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the lease");
                // Step down before the lease can expire for the others.
                if last_ok.elapsed() + cfg.renew >= cfg.duration {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: i64, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(secs),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(decide(None, "a", now), Decision::Acquire);
        assert_eq!(decide(Some(&spec("a", 990, 15)), "a", now), Decision::Renew);
        assert_eq!(
            decide(Some(&spec("b", 990, 15)), "a", now),
            Decision::Standby { holder: "b".into() }
        );
        assert_eq!(
            decide(Some(&spec("b", 980, 15)), "a", now),
            Decision::Acquire,
            "expired lease is taken over"
        );
        assert_eq!(
            decide(Some(&spec("", 999, 15)), "a", now),
            Decision::Acquire
        );
    }
}
