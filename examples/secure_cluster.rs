//! Client credentials and permissions, and encrypted data at rest, on one
//! small cluster.
//!
//! Alice may read and write under `users/alice/` and read `public/`; Bob
//! may read and write `public/`. A client without a credential, a wrong
//! secret and operations outside the grants are refused by the nodes,
//! certainly (nothing happened) and on the record. Then the same values are
//! written to sled on disk with and without `encrypt_at_rest`, and the
//! database files are searched for them.
//!
//! ```text
//! cargo run --release --example secure_cluster
//! ```

use replikv::security::{Access, AccessPolicy, Credential, DataKey};
use replikv::storage::Durability;
use replikv::{Cluster, Consistency, Runtime, StorageKind};
use std::path::Path;

fn show(what: &str, result: replikv::Result<impl std::fmt::Debug>) {
    match result {
        Ok(value) => println!("{what:<40} ok {value:?}"),
        Err(e) => println!("{what:<40} {e}"),
    }
}

/// A value read, as text.
fn text(value: Option<Vec<u8>>) -> Option<String> {
    value.map(|v| String::from_utf8_lossy(&v).into_owned())
}

fn files_contain(dir: &Path, needle: &[u8]) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let found = if path.is_dir() {
            files_contain(&path, needle)?
        } else {
            std::fs::read(&path)?
                .windows(needle.len())
                .any(|w| w == needle)
        };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

fn main() -> replikv::Result<()> {
    let alice = Credential::new("alice", "alice's long secret")?;
    let bob = Credential::new("bob", "bob's own long secret")?;
    let policy = AccessPolicy::new()
        .grant(&alice, Access::ReadWrite, "users/alice/")?
        .grant(&alice, Access::Read, "public/")?
        .grant(&bob, Access::ReadWrite, "public/")?;
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .consistency(Consistency::Strong)
        .access_control(policy)
        .build()?;
    let mut a = cluster.client_as(&alice)?;
    let mut b = cluster.client_as(&bob)?;
    show(
        "alice puts users/alice/card",
        a.put("users/alice/card", "4111-1111"),
    );
    show("bob puts public/motd", b.put("public/motd", "hello"));
    show("alice reads public/motd", a.get("public/motd").map(text));
    show("alice puts public/motd", a.put("public/motd", "defaced"));
    show("bob reads users/alice/card", b.get("users/alice/card"));
    show(
        "anonymous reads public/motd",
        cluster.client()?.get("public/motd"),
    );
    let wrong = Credential::new("bob", "a guessed long secret")?;
    show(
        "bob with a wrong secret",
        cluster.client_as(&wrong).map(|c| c.id()),
    );
    let refused = cluster.history().ops.iter().filter(|op| !op.ok).count();
    println!("refused operations in the history: {refused} (returned, not applied)");

    for encrypted in [false, true] {
        let dir = tempfile_dir()?;
        {
            let mut builder = Cluster::builder()
                .nodes(3)
                .consistency(Consistency::Strong)
                .storage(StorageKind::Directory(dir.clone()))
                .durability(Durability::FlushBeforeAck);
            if encrypted {
                builder = builder.encrypt_at_rest(DataKey::for_experiment(7));
            }
            let cluster = builder.build()?;
            cluster.client()?.put("users/alice/card", "4111-1111")?;
            cluster.flush()?;
        }
        let found = files_contain(&dir, b"4111-1111")?;
        std::fs::remove_dir_all(&dir)?;
        println!(
            "encrypt_at_rest {}: the value is {} the database files",
            if encrypted { "on " } else { "off" },
            if found { "in" } else { "not in" }
        );
    }
    Ok(())
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "replikv-secure-cluster-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
