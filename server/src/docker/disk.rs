//! What the cleanup runs ask of Docker: images and containers with their sizes, the prunes
//! (the engine reports the space each reclaimed) and log file paths. Part of the one Docker
//! client; prunes take their own, longer timeout because they can run for minutes.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerSummary, ImageSummary};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, PruneBuildOptionsBuilder,
    PruneContainersOptionsBuilder, PruneImagesOptionsBuilder,
};

use super::{classify, DockerClient, DockerError};

/// Containers carrying this label are never pruned by a cleanup run.
pub const KEEP_LABEL: &str = "steward.keep";

/// What a prune removed: how many things and the bytes the engine says it reclaimed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub items: u32,
    pub bytes: u64,
}

impl DockerClient {
    async fn call_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, DockerError> {
        let secs = timeout.as_secs().max(1);
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Err(DockerError::Timeout {
                what: what.into(),
                secs,
            }),
            Ok(r) => r.map_err(|e| classify(&self.host, what, secs, e)),
        }
    }

    /// Every image, intermediate ones included (to know which are parents), with the size
    /// they share with others where the engine says (API 1.42+).
    pub async fn images(&self) -> Result<Vec<ImageSummary>, DockerError> {
        let options = ListImagesOptionsBuilder::new()
            .all(true)
            .shared_size(true)
            .build();
        self.call("the image list", self.docker.list_images(Some(options)))
            .await
    }

    /// Every container with the size of its writable layer.
    pub async fn containers_with_size(&self) -> Result<Vec<ContainerSummary>, DockerError> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .size(true)
            .build();
        self.call(
            "the container list with sizes",
            self.docker.list_containers(Some(options)),
        )
        .await
    }

    /// Removes images no container uses: dangling ones only, or all created before `until`.
    pub async fn prune_images(
        &self,
        dangling_only: bool,
        until_secs: i64,
        timeout: Duration,
    ) -> Result<Pruned, DockerError> {
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        filters.insert("dangling", vec![dangling_only.to_string()]);
        if !dangling_only {
            filters.insert("until", vec![until_secs.to_string()]);
        }
        let options = PruneImagesOptionsBuilder::new().filters(&filters).build();
        let r = self
            .call_for(
                "the image prune",
                timeout,
                self.docker.prune_images(Some(options)),
            )
            .await?;
        Ok(Pruned {
            items: r
                .images_deleted
                .map(|d| d.iter().filter(|i| i.deleted.is_some()).count() as u32)
                .unwrap_or(0),
            bytes: r.space_reclaimed.unwrap_or(0).max(0) as u64,
        })
    }

    /// Removes stopped containers created before `until`, except those labelled [`KEEP_LABEL`].
    pub async fn prune_containers(
        &self,
        until_secs: i64,
        timeout: Duration,
    ) -> Result<Pruned, DockerError> {
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        filters.insert("until", vec![until_secs.to_string()]);
        filters.insert("label!", vec![KEEP_LABEL.to_string()]);
        let options = PruneContainersOptionsBuilder::new()
            .filters(&filters)
            .build();
        let r = self
            .call_for(
                "the container prune",
                timeout,
                self.docker.prune_containers(Some(options)),
            )
            .await?;
        Ok(Pruned {
            items: r.containers_deleted.map(|d| d.len() as u32).unwrap_or(0),
            bytes: r.space_reclaimed.unwrap_or(0).max(0) as u64,
        })
    }

    /// Removes all build cache no build uses (`docker builder prune -a`).
    pub async fn prune_build_cache(&self, timeout: Duration) -> Result<Pruned, DockerError> {
        let options = PruneBuildOptionsBuilder::new().all(true).build();
        let r = self
            .call_for(
                "the build cache prune",
                timeout,
                self.docker.prune_build(Some(options)),
            )
            .await?;
        Ok(Pruned {
            items: r.caches_deleted.map(|d| d.len() as u32).unwrap_or(0),
            bytes: r.space_reclaimed.unwrap_or(0).max(0) as u64,
        })
    }

    /// Reclaimable build cache, where the engine reports it in the form this client reads
    /// (API 1.52 and later); `None` from older engines.
    pub async fn build_cache_reclaimable(&self) -> Result<Option<u64>, DockerError> {
        let df = self.call("the disk usage", self.docker.df(None)).await?;
        Ok(df
            .build_cache_usage
            .and_then(|b| b.reclaimable)
            .map(|r| r.max(0) as u64))
    }

    /// A container's log file on the host (json-file and local drivers), if it has one.
    pub async fn log_path(&self, id: &str) -> Result<Option<String>, DockerError> {
        Ok(self.inspect(id).await?.log_path.filter(|p| !p.is_empty()))
    }
}
