//! S3 credentials from AWS's default provider chain (`aws-config`): environment, shared
//! profile, web identity (EKS), container and instance metadata, in the SDK's order. This is
//! what lets a deployment on EC2 run on its instance role with no static keys.
//!
//! object_store asks for a credential on every request, so the chain's answer is kept until
//! shortly before it expires. The chain itself is built on first use, inside the runtime.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_credential_types::provider::ProvideCredentials;
use object_store::aws::AwsCredential;
use object_store::CredentialProvider;
use tokio::sync::{Mutex, OnceCell};

/// Credentials are renewed this long before they expire, so no request is signed with a
/// credential that lapses in flight.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct AwsChainCredentials {
    region: Option<String>,
    chain: OnceCell<DefaultCredentialsChain>,
    current: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl std::fmt::Debug for AwsChainCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsChainCredentials")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl AwsChainCredentials {
    /// `region` is used by the providers that call AWS (web identity goes through STS).
    pub fn new(region: Option<String>) -> Self {
        AwsChainCredentials {
            region,
            ..Default::default()
        }
    }

    async fn chain(&self) -> &DefaultCredentialsChain {
        self.chain
            .get_or_init(|| async {
                let mut builder = DefaultCredentialsChain::builder();
                if let Some(region) = &self.region {
                    builder = builder.region(aws_config::Region::new(region.clone()));
                }
                builder.build().await
            })
            .await
    }
}

fn still_fresh(expiry: Option<SystemTime>, now: SystemTime) -> bool {
    expiry.is_none_or(|at| at.duration_since(now).is_ok_and(|left| left > RENEW_BEFORE))
}

#[async_trait]
impl CredentialProvider for AwsChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut current = self.current.lock().await;
        #[allow(clippy::disallowed_methods)] // credential expiry is wall-clock time
        let now = SystemTime::now();
        if let Some((credential, expiry)) = current.as_ref() {
            if still_fresh(*expiry, now) {
                return Ok(credential.clone());
            }
        }
        let fetched = self
            .chain()
            .await
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: format!("no AWS credentials from the default chain (environment, profile, web identity, instance metadata): {e}").into(),
            })?;
        let credential = Arc::new(AwsCredential {
            key_id: fetched.access_key_id().to_string(),
            secret_key: fetched.secret_access_key().to_string(),
            token: fetched.session_token().map(str::to_string),
        });
        *current = Some((credential.clone(), fetched.expiry()));
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_renewed_before_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(still_fresh(None, now), "static credentials never expire");
        assert!(still_fresh(Some(now + Duration::from_secs(3600)), now));
        assert!(!still_fresh(Some(now + Duration::from_secs(60)), now));
        assert!(!still_fresh(Some(now - Duration::from_secs(1)), now));
    }

    // The environment is process-wide: this test only reads variables it sets to values no
    // other test uses, and never reaches the metadata service (the env provider answers first).
    #[tokio::test]
    async fn the_chain_answers_from_the_environment_and_keeps_the_answer() {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_ACCESS_KEY_ID", "chain-test-key");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "chain-test-secret");
        let provider = AwsChainCredentials::new(Some("us-east-1".into()));
        let first = provider.get_credential().await.unwrap();
        assert_eq!(first.key_id, "chain-test-key");
        assert_eq!(first.secret_key, "chain-test-secret");
        let second = provider.get_credential().await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "kept, not fetched per request"
        );
    }
}
