//! NATS subject names of the contract, and the check that a build id is safe in them.

use crate::events::Stage;

/// Why a build id was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBuildId(pub String);

impl std::fmt::Display for InvalidBuildId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid build id {:?}: expected a 26-character ULID",
            self.0
        )
    }
}

impl std::error::Error for InvalidBuildId {}

/// Checks that `id` is a ULID in canonical form (26 Crockford base-32 characters), so it
/// is one safe subject token and cannot smuggle `.`, `*` or `>` into a subject.
pub fn check_build_id(id: &str) -> Result<(), InvalidBuildId> {
    const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ok =
        id.len() == 26 && id.chars().all(|c| CROCKFORD.contains(c)) && id.as_bytes()[0] <= b'7';
    if ok {
        Ok(())
    } else {
        Err(InvalidBuildId(id.chars().take(64).collect()))
    }
}

/// `build.<id>.events`: where stages publish a build's events (stream `EVENTS`).
pub fn events(build_id: &str) -> String {
    format!("build.{build_id}.events")
}

/// `live.build.<id>.events`: where `EVENTS` republishes stored events for edge nodes.
pub fn live_events(build_id: &str) -> String {
    format!("live.build.{build_id}.events")
}

/// `build.<id>.cmd.<stage>`: a stage's work order (stream `CMDS`).
pub fn command(build_id: &str, stage: Stage) -> String {
    format!("build.{build_id}.cmd.{}", stage.as_str())
}

/// `build.*.cmd.<stage>`: the filter of a stage's durable consumer.
pub fn command_filter(stage: Stage) -> String {
    format!("build.*.cmd.{}", stage.as_str())
}

/// The build id inside a `build.<id>....` or `live.build.<id>....` subject.
pub fn build_id_of(subject: &str) -> Option<&str> {
    let rest = subject.strip_prefix("live.").unwrap_or(subject);
    rest.strip_prefix("build.")?.split('.').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids_are_checked() {
        assert!(check_build_id("01JD5Y8Q7R3M4N5P6Q7R8S9T0V").is_ok());
        for bad in [
            "",
            "a.b",
            "01JD5Y8Q7R3M4N5P6Q7R8S9T0*",
            "01JD5Y8Q7R3M4N5P6Q7R8S9T0>",
            "91JD5Y8Q7R3M4N5P6Q7R8S9T0V",
            "01jd5y8q7r3m4n5p6q7r8s9t0v",
        ] {
            assert!(check_build_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subjects_round_trip_the_build_id() {
        let id = "01JD5Y8Q7R3M4N5P6Q7R8S9T0V";
        assert_eq!(build_id_of(&events(id)), Some(id));
        assert_eq!(build_id_of(&live_events(id)), Some(id));
        assert_eq!(build_id_of(&command(id, Stage::Build)), Some(id));
        assert_eq!(command_filter(Stage::Deploy), "build.*.cmd.deploy");
    }
}
