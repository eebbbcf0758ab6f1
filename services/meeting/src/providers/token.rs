//! An OAuth access token shared by every request of one provider: fetched once, reused
//! until shortly before it expires, fetched again by one caller while the others wait, and
//! dropped when the provider answers 401 to it.

use std::future::Future;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::providers::ProviderError;

/// How long before its stated expiry a token is replaced, so none expires in flight.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

pub struct TokenCache {
    // A tokio mutex: held across the token request so concurrent callers share one fetch.
    slot: Mutex<Option<Cached>>,
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenCache {
    pub fn new() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }

    /// The cached token, or a new one from `fetch`, which returns the token and its
    /// lifetime (`expires_in`).
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<SecretString, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), ProviderError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = fetch().await?;
        // Short-lived tokens are kept for half their life instead of (lifetime - margin).
        let keep = if lifetime > REFRESH_MARGIN * 2 {
            lifetime - REFRESH_MARGIN
        } else {
            lifetime / 2
        };
        *slot = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + keep,
        });
        Ok(token)
    }

    /// Forgets `token` (the provider refused it); a token fetched meanwhile by another
    /// caller is kept.
    pub async fn invalidate(&self, token: &SecretString) {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == token.expose_secret())
        {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    async fn fetch(
        n: &AtomicU32,
        lifetime: Duration,
    ) -> Result<(SecretString, Duration), ProviderError> {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Ok((SecretString::from(format!("t{i}")), lifetime))
    }

    #[tokio::test(start_paused = true)]
    async fn reused_until_shortly_before_expiry() {
        let cache = TokenCache::new();
        let n = AtomicU32::new(0);
        let hour = Duration::from_secs(3600);
        let t = cache.get(|| fetch(&n, hour)).await.unwrap();
        assert_eq!(t.expose_secret(), "t0");
        tokio::time::advance(Duration::from_secs(3500)).await;
        assert_eq!(
            cache.get(|| fetch(&n, hour)).await.unwrap().expose_secret(),
            "t0"
        );
        // Inside the last minute: replaced before it can expire in flight.
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(
            cache.get(|| fetch(&n, hour)).await.unwrap().expose_secret(),
            "t1"
        );
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn invalidation_forgets_only_the_refused_token() {
        let cache = TokenCache::new();
        let n = AtomicU32::new(0);
        let hour = Duration::from_secs(3600);
        let old = cache.get(|| fetch(&n, hour)).await.unwrap();
        cache.invalidate(&old).await;
        let new = cache.get(|| fetch(&n, hour)).await.unwrap();
        assert_eq!(new.expose_secret(), "t1");
        // A late 401 for the old token does not throw the new one away.
        cache.invalidate(&old).await;
        assert_eq!(
            cache.get(|| fetch(&n, hour)).await.unwrap().expose_secret(),
            "t1"
        );
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::new());
        let n = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (cache, n) = (cache.clone(), n.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        fetch(&n, Duration::from_secs(3600)).await
                    })
                    .await
                    .unwrap()
                    .expose_secret()
                    .to_owned()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), "t0");
        }
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_cached() {
        let cache = TokenCache::new();
        let err = cache
            .get(|| async { Err(ProviderError::Auth("no".into())) })
            .await;
        assert!(err.is_err());
        let n = AtomicU32::new(0);
        assert!(
            cache
                .get(|| fetch(&n, Duration::from_secs(60)))
                .await
                .is_ok()
        );
    }
}
