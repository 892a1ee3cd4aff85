//! Where ACME results live between runs: `<data_dir>/acme/certificate.pem` (the private key and the
//! chain, PEM) and `account.key`, each beside a `.id` file naming what it was issued for (domains or
//! contacts, and the directory), so a changed configuration never brings back a certificate for other
//! names. Files are replaced by rename, so a power cut leaves the old one or the new one, never half.

use async_trait::async_trait;
use rustls_acme::{AccountCache, CertCache};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const CERTIFICATE: &str = "certificate.pem";
const ACCOUNT: &str = "account.key";

pub struct FileCache {
    dir: PathBuf,
}

impl FileCache {
    pub fn new(dir: impl Into<PathBuf>) -> FileCache {
        FileCache { dir: dir.into() }
    }

    async fn load(&self, file: &'static str, id: String) -> io::Result<Option<Vec<u8>>> {
        let dir = self.dir.clone();
        crate::work::unblock(move || {
            let stored_id = match std::fs::read_to_string(dir.join(id_file(file))) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            if stored_id != id {
                return Ok(None);
            }
            match std::fs::read(dir.join(file)) {
                Ok(data) => Ok(Some(data)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn store(&self, file: &'static str, id: String, data: &[u8]) -> io::Result<()> {
        let dir = self.dir.clone();
        let data = data.to_vec();
        crate::work::unblock(move || {
            std::fs::create_dir_all(&dir)?;
            // Data first: a crash before the id is written costs one more order, never a wrong certificate.
            replace(&dir.join(file), &data)?;
            replace(&dir.join(id_file(file)), id.as_bytes())
        })
        .await
    }
}

fn id_file(file: &str) -> String {
    format!("{file}.id")
}

fn id(names: &[String], directory_url: &str) -> String {
    format!("{}\n{directory_url}\n", names.join("\n"))
}

/// Writes `data` to `path` through a temporary file, private to the owner (it holds keys).
fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[async_trait]
impl CertCache for FileCache {
    type EC = io::Error;

    async fn load_cert(
        &self,
        domains: &[String],
        directory_url: &str,
    ) -> io::Result<Option<Vec<u8>>> {
        self.load(CERTIFICATE, id(domains, directory_url)).await
    }

    async fn store_cert(
        &self,
        domains: &[String],
        directory_url: &str,
        cert: &[u8],
    ) -> io::Result<()> {
        self.store(CERTIFICATE, id(domains, directory_url), cert)
            .await
    }
}

#[async_trait]
impl AccountCache for FileCache {
    type EA = io::Error;

    async fn load_account(
        &self,
        contact: &[String],
        directory_url: &str,
    ) -> io::Result<Option<Vec<u8>>> {
        self.load(ACCOUNT, id(contact, directory_url)).await
    }

    async fn store_account(
        &self,
        contact: &[String],
        directory_url: &str,
        account: &[u8],
    ) -> io::Result<()> {
        self.store(ACCOUNT, id(contact, directory_url), account)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stored_for_these_names_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(dir.path().join("acme"));
        let names = vec!["a.example.com".to_string()];
        smol::block_on(async {
            assert_eq!(
                cache.load_cert(&names, "https://ca/dir").await.unwrap(),
                None
            );
            cache
                .store_cert(&names, "https://ca/dir", b"pem")
                .await
                .unwrap();
            assert_eq!(
                cache.load_cert(&names, "https://ca/dir").await.unwrap(),
                Some(b"pem".to_vec())
            );
            let more = vec!["a.example.com".to_string(), "b.example.com".to_string()];
            assert_eq!(
                cache.load_cert(&more, "https://ca/dir").await.unwrap(),
                None
            );
            assert_eq!(
                cache.load_cert(&names, "https://other/dir").await.unwrap(),
                None
            );
            cache
                .store_account(&[], "https://ca/dir", b"key")
                .await
                .unwrap();
            assert_eq!(
                cache.load_account(&[], "https://ca/dir").await.unwrap(),
                Some(b"key".to_vec())
            );
        });
        let mode = std::fs::metadata(dir.path().join("acme").join(CERTIFICATE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
