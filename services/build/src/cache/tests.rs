//! Install cache tests: entries go in whole, come out as copies, are evicted by age and
//! size but never while held; a spare goes to exactly one build and is counted.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

fn node_modules(at: &Path, content: &str) -> PathBuf {
    let dir = at.join("node_modules");
    fs::create_dir_all(dir.join("pkg")).expect("dirs");
    fs::write(dir.join("pkg/index.js"), content).expect("file");
    dir
}

/// A temp dir and an unbounded cache under `<tmp>/cache` (its root).
fn unbounded() -> (tempfile::TempDir, PathBuf, InstallCache) {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("cache");
    let cache = InstallCache::open(&root, u64::MAX, Duration::MAX).expect("cache");
    (tmp, root, cache)
}

fn age(dir: &Path, by: Duration) {
    let lease = File::options()
        .write(true)
        .open(dir.join("lease"))
        .expect("lease");
    lease
        .set_modified(SystemTime::now() - by)
        .expect("set mtime");
}

#[test]
fn entries_come_back_as_copies() {
    let (tmp, _, cache) = unbounded();
    let built = node_modules(&tmp.path().join("build"), "one");
    assert!(
        cache
            .put_shared("deps", "lock", "{}\n", &built)
            .expect("put")
    );
    assert!(
        !cache
            .put_shared("deps", "lock", "{}\n", &built)
            .expect("again")
    );
    assert!(cache.put_project("scope", "state", &built).expect("put"));
    assert!(cache.shared("other").is_none());
    let shared = cache.shared("deps").expect("kept");
    assert_eq!(shared.lockfile().as_deref(), Some("{}\n"));
    assert_eq!(shared.lock_hash().as_deref(), Some("lock"));

    let project = tmp.path().join("next");
    fs::create_dir(&project).expect("dir");
    let held = cache.project("scope", "state").expect("kept");
    cache.restore(&held, &project).expect("restore");
    drop(held);
    fs::write(project.join("node_modules/pkg/index.js"), "tampered").expect("write");
    let again = tmp.path().join("again");
    fs::create_dir(&again).expect("dir");
    let held = cache.project("scope", "state").expect("kept");
    cache.restore(&held, &again).expect("restore");
    assert_eq!(
        fs::read_to_string(again.join("node_modules/pkg/index.js")).expect("read"),
        "one",
        "a build's writes never reach the cache"
    );
}

#[test]
fn a_spare_is_taken_once_and_made_again() {
    let (tmp, root, cache) = unbounded();
    let built = node_modules(&tmp.path().join("build"), "one");
    cache.put_project("scope", "state", &built).expect("put");
    // The build's own tree changes after it was kept: the spare comes from the entry.
    fs::write(built.join("pkg/index.js"), "tampered").expect("write");
    cache.make_spare("scope", "state").expect("spare");
    cache.make_spare("scope", "state").expect("still one");
    let spare = root.join("projects/scope/state").join(SPARE);
    assert_eq!(
        fs::read_to_string(spare.join("pkg/index.js")).expect("read"),
        "one"
    );
    for (n, expect_moved) in [(1, true), (2, false)] {
        let project = tmp.path().join(format!("next-{n}"));
        fs::create_dir(&project).expect("dir");
        let held = cache.project("scope", "state").expect("kept");
        let placed = cache.restore(&held, &project).expect("restore");
        assert_eq!(placed == Placed::Moved, expect_moved, "build {n}");
        assert_eq!(
            fs::read_to_string(project.join("node_modules/pkg/index.js")).expect("read"),
            "one"
        );
        // What the build does to its tree reaches neither the entry nor a later build.
        fs::write(project.join("node_modules/pkg/index.js"), "mine").expect("write");
    }
    assert!(!spare.exists(), "a spare goes to one build only");
    cache.make_spare("scope", "state").expect("made again");
    assert_eq!(
        fs::read_to_string(spare.join("pkg/index.js")).expect("read"),
        "one"
    );
}

#[test]
fn a_shared_install_has_a_spare_and_becomes_a_project_entry_when_its_lock_matches() {
    let (tmp, _, cache) = unbounded();
    let built = node_modules(&tmp.path().join("build"), "pristine");
    cache
        .put_shared("deps", "lock", "{}\n", &built)
        .expect("put");
    cache
        .make_shared_spare("missing")
        .expect("no entry, nothing to do");
    cache.make_shared_spare("deps").expect("spare");
    let project = tmp.path().join("new-project");
    fs::create_dir(&project).expect("dir");
    let held = cache.shared("deps").expect("kept");
    assert_eq!(
        cache.restore(&held, &project).expect("restore"),
        Placed::Moved
    );
    drop(held);
    // The new project's build writes into its tree; its entry comes from the install.
    fs::write(project.join("node_modules/pkg/index.js"), "built").expect("write");
    assert!(
        !cache
            .put_project_from_shared("scope", "state", "deps", "another lock")
            .expect("checked"),
        "another lockfile's install is not this project's tree"
    );
    assert!(cache.project("scope", "state").is_none());
    assert!(
        cache
            .put_project_from_shared("scope", "state", "deps", "lock")
            .expect("kept")
    );
    let entry = cache.project("scope", "state").expect("kept");
    assert_eq!(
        fs::read_to_string(entry.node_modules().join("pkg/index.js")).expect("read"),
        "pristine"
    );
}

#[test]
fn builds_at_once_never_share_a_spare() {
    let (tmp, _, cache) = unbounded();
    let built = node_modules(&tmp.path().join("build"), "one");
    cache.put_project("scope", "state", &built).expect("put");
    cache.make_spare("scope", "state").expect("spare");
    let cache = &cache;
    let placed: Vec<Placed> = std::thread::scope(|threads| {
        let runs: Vec<_> = (0..8)
            .map(|n| {
                let project = tmp.path().join(format!("build-{n}"));
                threads.spawn(move || {
                    fs::create_dir(&project).expect("dir");
                    let held = cache.project("scope", "state").expect("kept");
                    cache.restore(&held, &project).expect("restore")
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("thread"))
            .collect()
    });
    let moved = placed.iter().filter(|p| **p == Placed::Moved).count();
    assert_eq!(moved, 1, "{placed:?}");
}

#[test]
fn eviction_waits_for_a_spare_and_counts_it() {
    let (tmp, root, cache) = unbounded();
    let built = node_modules(&tmp.path().join("build"), &"x".repeat(10_000));
    cache.put_project("scope", "state", &built).expect("put");
    let entry = root.join("projects/scope/state");
    let one: u64 = fs::read_to_string(entry.join("bytes"))
        .expect("bytes")
        .parse()
        .expect("number");
    // A size limit that one copy fits and two do not.
    let small = InstallCache::open(&root, one + one / 2, Duration::MAX).expect("cache");
    assert_eq!(small.evict().entries, 0, "one copy fits");
    // While a spare is made or taken the entry is held: eviction leaves it alone.
    let held = small.project("scope", "state").expect("kept");
    small.make_spare("scope", "state").expect("spare");
    assert_eq!(small.evict().entries, 0, "held");
    drop(held);
    let evicted = small.evict();
    assert_eq!(evicted.entries, 1, "two copies do not fit");
    assert!(evicted.bytes >= 2 * one, "the spare is counted");
    assert!(!entry.exists());
}

#[test]
fn tool_caches_follow_the_project() {
    let (tmp, _, cache) = unbounded();
    let build = tmp.path().join("build");
    let built = node_modules(&build, "one");
    cache.put_project("scope", "state", &built).expect("put");
    fs::create_dir_all(built.join(".vite/deps")).expect("vite cache");
    fs::write(built.join(".vite/deps/_metadata.json"), "{}").expect("file");
    cache
        .put_tool_caches("scope", "state", &build)
        .expect("caches");
    let next = tmp.path().join("next");
    fs::create_dir(&next).expect("dir");
    let held = cache.project("scope", "state").expect("kept");
    cache.restore(&held, &next).expect("restore");
    assert!(
        next.join("node_modules/.vite/deps/_metadata.json")
            .is_file()
    );
}

#[test]
fn eviction_goes_by_age_then_size_and_spares_held_entries() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("cache");
    let cache = InstallCache::open(&root, u64::MAX, Duration::from_secs(3600)).expect("cache");
    let built = node_modules(&tmp.path().join("build"), &"x".repeat(10_000));
    for deps in ["a", "b", "c"] {
        cache.put_shared(deps, "l", "{}", &built).expect("put");
    }
    age(&root.join("installs/a"), Duration::from_secs(7200));
    age(&root.join("installs/b"), Duration::from_secs(7200));
    let held = cache.shared("b").expect("held");
    // `shared` marked b used now; age it again while held.
    age(&root.join("installs/b"), Duration::from_secs(7200));
    let evicted = cache.evict();
    assert_eq!(evicted.entries, 1, "only the old entry nobody holds");
    assert!(cache.shared("a").is_none());
    drop(held);
    assert!(root.join("installs/b").is_dir());

    let one = fs::read_to_string(root.join("installs/c/bytes"))
        .expect("bytes")
        .parse::<u64>()
        .expect("number");
    let small = InstallCache::open(&root, one + one / 2, Duration::MAX).expect("cache");
    age(&root.join("installs/b"), Duration::from_secs(60));
    let evicted = small.evict();
    assert_eq!(evicted.entries, 1);
    assert!(small.shared("b").is_none(), "the least recently used goes");
    assert!(small.shared("c").is_some());
}

#[test]
fn a_scope_keeps_its_newest_states() {
    let (tmp, root, cache) = unbounded();
    let built = node_modules(&tmp.path().join("build"), "x");
    for (at, state) in ["s1", "s2", "s3"].iter().enumerate() {
        cache.put_project("scope", state, &built).expect("put");
        age(
            &root.join("projects/scope").join(state),
            Duration::from_secs(100 - at as u64 * 10),
        );
    }
    cache.put_project("scope", "s4", &built).expect("put");
    let mut kept: Vec<String> = fs::read_dir(root.join("projects/scope"))
        .expect("scope")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["s3", "s4"]);
}

#[test]
fn leftovers_of_interrupted_writes_are_cleared() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("cache");
    InstallCache::open(&root, u64::MAX, Duration::MAX).expect("cache");
    fs::create_dir_all(root.join("tmp/entry-1/node_modules")).expect("leftover");
    InstallCache::open(&root, u64::MAX, Duration::MAX).expect("cache");
    assert_eq!(fs::read_dir(root.join("tmp")).expect("tmp").count(), 0);
}
