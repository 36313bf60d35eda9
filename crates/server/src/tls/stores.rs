//! Opening ZooKeeper's key and trust stores: PEM, PKCS12 and Java's JKS.
//!
//! As Java's `keystore.type.compat` does, a store said to be JKS or PKCS12 is read by what its
//! bytes are, not by its name: keytool since Java 9 writes PKCS12 even into a `.jks` file.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use server_core::config::tls::{StoreSettings, StoreType};

/// The first four bytes of a JKS file.
const JKS_MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];
/// Largest store file read: a key store holds a handful of certificates.
const MAX_STORE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A server's certificate chain and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Which store is being read, for error messages: "ssl.keyStore", "ssl.quorum.trustStore"…
pub struct Store<'a> {
    pub key: String,
    pub settings: &'a StoreSettings,
}

impl Store<'_> {
    /// An error that names the key and the file.
    fn error(&self, what: impl std::fmt::Display) -> String {
        let path = self
            .settings
            .location
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        format!("{}.location={path}: {what}", self.key)
    }

    fn read(&self) -> Result<(Vec<u8>, StoreType), String> {
        let path = self
            .settings
            .location
            .as_deref()
            .ok_or_else(|| format!("{}.location is not set", self.key))?;
        let bytes = read_bounded(path).map_err(|e| self.error(e))?;
        let kind = match self.settings.store_type() {
            Some(StoreType::Pem) => StoreType::Pem,
            _ if bytes.starts_with(&JKS_MAGIC) => StoreType::Jks,
            Some(_) => StoreType::Pkcs12,
            None if bytes.first() == Some(&0x30) => StoreType::Pkcs12,
            None if bytes.windows(11).any(|w| w == b"-----BEGIN ") => StoreType::Pem,
            None => {
                return Err(self.error(format!(
                    "cannot tell the store's type; set {}.type (PEM, PKCS12 or JKS)",
                    self.key
                )))
            }
        };
        Ok((bytes, kind))
    }

    fn password(&self) -> &str {
        self.settings.password.as_deref().unwrap_or("")
    }

    /// The private key and certificate chain in a key store (the first key entry).
    pub fn identity(&self) -> Result<Identity, String> {
        let (bytes, kind) = self.read()?;
        let identity = match kind {
            StoreType::Pem => pem_identity(&bytes),
            StoreType::Pkcs12 => pkcs12_identity(&bytes, self.password()),
            StoreType::Jks => jks_identity(&bytes, self.password()),
        };
        let identity = identity.map_err(|e| self.error(e))?;
        if identity.chain.is_empty() {
            return Err(self.error("no certificate for the private key"));
        }
        Ok(identity)
    }

    /// The certificates a trust store trusts: its certificate entries, and the first
    /// certificate of each key entry (as Java's trust manager takes them).
    pub fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        let (bytes, kind) = self.read()?;
        let certs = match kind {
            StoreType::Pem => pem_certificates(&bytes),
            StoreType::Pkcs12 => pkcs12_certificates(&bytes, self.password()),
            StoreType::Jks => jks_certificates(&bytes, self.settings.password.as_deref()),
        };
        let certs = certs.map_err(|e| self.error(e))?;
        if certs.is_empty() {
            return Err(self.error("no certificate in the trust store"));
        }
        Ok(certs)
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_STORE_FILE_BYTES {
        return Err(format!("{len} bytes is too large for a key store"));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

fn pem_certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))
}

fn pem_identity(bytes: &[u8]) -> Result<Identity, String> {
    if bytes.windows(23).any(|w| w == b"ENCRYPTED PRIVATE KEY--") {
        return Err(
            "encrypted PEM private keys are not supported; store the key \
                    unencrypted or use a PKCS12 or JKS key store"
                .into(),
        );
    }
    let key = PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => "no private key in the file".to_string(),
        e => format!("bad PEM: {e}"),
    })?;
    let chain = pem_certificates(bytes)?;
    Ok(Identity { chain, key })
}

fn pkcs12(bytes: &[u8], password: &str) -> Result<p12_keystore::KeyStore, String> {
    use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
    KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| format!("cannot open the PKCS12 store (wrong password?): {e}"))
}

fn pkcs12_identity(bytes: &[u8], password: &str) -> Result<Identity, String> {
    let store = pkcs12(bytes, password)?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or("no private key in the PKCS12 store")?;
    Ok(Identity {
        chain: chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect(),
        key: PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()).into(),
    })
}

fn pkcs12_certificates(
    bytes: &[u8],
    password: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    use p12_keystore::KeyStoreEntry;
    let store = pkcs12(bytes, password)?;
    let certs = store.entries().filter_map(|(_, entry)| match entry {
        KeyStoreEntry::Certificate(cert) => Some(cert),
        KeyStoreEntry::PrivateKeyChain(chain) => chain.certs().first(),
        KeyStoreEntry::Secret(_) => None,
    });
    Ok(certs
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect())
}

fn jks(bytes: &[u8], password: &str) -> Result<jks::KeyStore, String> {
    let mut store = jks::KeyStore::new();
    store
        .load(bytes, password.as_bytes())
        .map_err(|e| format!("cannot open the JKS store (wrong password?): {e}"))?;
    Ok(store)
}

fn jks_identity(bytes: &[u8], password: &str) -> Result<Identity, String> {
    let store = jks(bytes, password)?;
    let mut aliases = store.aliases();
    aliases.sort();
    let alias = aliases
        .into_iter()
        .find(|a| store.is_private_key_entry(a))
        .ok_or("no private key in the JKS store")?;
    // ZooKeeper opens the key with the store's password, as Java's key manager does.
    let entry = store
        .get_private_key_entry(&alias, password.as_bytes())
        .map_err(|e| format!("cannot decrypt the private key {alias:?}: {e}"))?;
    Ok(Identity {
        chain: entry
            .certificate_chain
            .into_iter()
            .map(|c| CertificateDer::from(c.content))
            .collect(),
        key: PrivatePkcs8KeyDer::from(entry.private_key).into(),
    })
}

/// The certificates of a JKS trust store. Opened without a password, Java reads the entries
/// without checking the store's digest, and ZooKeeper passes none when
/// `ssl.trustStore.password` is unset; so does this.
fn jks_certificates(
    bytes: &[u8],
    password: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    use jks::Entry;
    let entries = match password {
        Some(password) => {
            let store = jks(bytes, password)?;
            let mut aliases = store.aliases();
            aliases.sort();
            let mut entries = Vec::new();
            for alias in aliases {
                if let Ok(entry) = store.get_trusted_certificate_entry(&alias) {
                    entries.push(Entry::TrustedCertificate(entry));
                } else if let Ok(entry) = store.get_raw_private_key_entry(&alias) {
                    entries.push(Entry::PrivateKey(entry));
                }
            }
            entries
        }
        None => jks_entries_unverified(bytes).map_err(|e| format!("bad JKS store: {e}"))?,
    };
    let certs = entries.into_iter().filter_map(|entry| match entry {
        Entry::TrustedCertificate(entry) => Some(entry.certificate),
        Entry::PrivateKey(entry) => entry.certificate_chain.into_iter().next(),
    });
    Ok(certs.map(|c| CertificateDer::from(c.content)).collect())
}

/// A JKS store's entries, read without checking its digest (there is no password to check it
/// with).
fn jks_entries_unverified(bytes: &[u8]) -> jks::Result<Vec<jks::Entry>> {
    let mut reader = bytes;
    let mut decoder = jks::decoder::Decoder::new(&mut reader);
    if decoder.read_u32()?.to_be_bytes() != JKS_MAGIC {
        return Err(jks::KeyStoreError::InvalidMagic);
    }
    let version = decoder.read_u32()?;
    let count = decoder.read_u32()?;
    let mut entries = Vec::new();
    for _ in 0..count {
        entries.push(decoder.read_entry(version)?.1);
    }
    Ok(entries)
}
