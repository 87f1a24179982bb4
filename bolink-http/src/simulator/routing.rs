//! Which charging-system instance a downstream message goes to.
//!
//! A lot may run several charging systems (instances), each logged in with
//! its own `local_id`; a `local_id` may bind lanes. The SDK protocol's
//! initialisation table (1.1, `local_id`; `reference/sdk/_protocol.json`)
//! says: the keyword `channels`, an underscore, then the lane numbers
//! separated by underscores, no trailing underscore;
//! `aaa001_channels_A1_A2_A3` manages lanes A1, A2 and A3, and Bolink sends
//! an entry or exit QR-code scan of a lane only to the instance managing
//! it, and not at all when that instance is offline ("如果sdk不在线,则不发送").
//!
//! What the page does not say, the simulator decides (marked here):
//!
//! * a message names its lane in `channel_id`, `in_channel_id` or
//!   `out_channel_id` (the fields the downstream tables use for lanes);
//! * a message naming a lane no live instance manages goes to the park's
//!   instance without lane binding, if there is one (the page's routing only
//!   speaks of instances that bind lanes);
//! * a message naming no lane goes to the park's most recently logged-in
//!   instance; among several instances managing the same lane, the most
//!   recent one wins too.

/// The fields of a downstream message that name a lane, in the order they
/// are looked at.
pub(crate) const LANE_FIELDS: [&str; 3] = ["channel_id", "in_channel_id", "out_channel_id"];

/// The lanes a `local_id` binds: what follows the keyword `channels_`
/// (at the start or after an underscore), split at underscores; empty
/// parts (a trailing underscore the page forbids) are skipped.
pub(crate) fn lanes_of(local_id: &str) -> Vec<String> {
    const KEYWORD: &str = "channels_";
    let mut search = 0;
    while let Some(found) = local_id[search..].find(KEYWORD) {
        let at = search + found;
        if at == 0 || local_id.as_bytes()[at - 1] == b'_' {
            return local_id[at + KEYWORD.len()..]
                .split('_')
                .filter(|lane| !lane.is_empty())
                .map(String::from)
                .collect();
        }
        search = at + KEYWORD.len();
    }
    Vec::new()
}

/// The lanes a downstream message's data names (strings, or numbers as
/// text), in [`LANE_FIELDS`] order.
pub(crate) fn lanes_named(data: &serde_json::Value) -> Vec<String> {
    LANE_FIELDS
        .iter()
        .filter_map(|field| match data.get(field)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// A live instance of the park, as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Its `local_id` (empty when it logged in without one).
    pub local_id: String,
    /// The lanes its `local_id` binds.
    pub lanes: Vec<String>,
    /// Its login's place in the order of all logins (higher: more recent).
    pub seq: u64,
}

/// Picks the instance for a message naming `lanes` (see the module docs),
/// or says why there is none.
pub(crate) fn choose<'a>(
    park_id: &str,
    candidates: &'a [Candidate],
    lanes: &[String],
) -> Result<&'a Candidate, String> {
    let newest = |filter: &dyn Fn(&Candidate) -> bool| {
        candidates
            .iter()
            .filter(|c| filter(c))
            .max_by_key(|c| c.seq)
    };
    let none_live = || format!("park {park_id} has no live session");
    if lanes.is_empty() {
        return newest(&|_| true).ok_or_else(none_live);
    }
    if candidates.is_empty() {
        return Err(none_live());
    }
    for lane in lanes {
        if let Some(manager) = newest(&|c| c.lanes.contains(lane)) {
            return Ok(manager);
        }
    }
    newest(&|c| c.lanes.is_empty()).ok_or_else(|| {
        format!(
            "no live instance of park {park_id} manages lane {}, and none is without lane binding",
            lanes.join(" or ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(local_id: &str, seq: u64) -> Candidate {
        Candidate {
            local_id: local_id.into(),
            lanes: lanes_of(local_id),
            seq,
        }
    }

    #[test]
    fn a_local_id_binds_the_lanes_after_the_keyword() {
        assert_eq!(lanes_of("aaa001_channels_A1_A2_A3"), ["A1", "A2", "A3"]);
        assert_eq!(lanes_of("channels_B1"), ["B1"]);
        assert_eq!(lanes_of("lot_channels_入口1_"), ["入口1"]);
        assert!(lanes_of("mac001").is_empty());
        // The keyword only counts as a word of its own.
        assert!(lanes_of("mychannels_A1").is_empty());
        assert_eq!(lanes_of("mychannels_x_channels_C3"), ["C3"]);
        assert!(lanes_of("").is_empty());
    }

    #[test]
    fn messages_name_lanes_in_the_channel_fields() {
        let data =
            serde_json::json!({"channel_id": "A1", "out_channel_id": 7, "in_channel_id": ""});
        assert_eq!(lanes_named(&data), ["A1", "7"]);
        assert!(lanes_named(&serde_json::json!({"park_id": "1"})).is_empty());
    }

    #[test]
    fn a_lane_goes_to_its_manager_else_to_an_unbound_instance() {
        let a = candidate("lotA_channels_A1", 1);
        let b = candidate("lotB_channels_B1", 2);
        let plain = candidate("desk", 0);
        let both = [a.clone(), b.clone()];
        assert_eq!(choose("p", &both, &["B1".into()]).unwrap(), &b);
        assert_eq!(choose("p", &both, &["A1".into()]).unwrap(), &a);
        let why = choose("p", &both, &["C9".into()]).unwrap_err();
        assert!(why.contains("lane C9") && why.contains("park p"), "{why}");
        let three = [a.clone(), b.clone(), plain.clone()];
        assert_eq!(choose("p", &three, &["C9".into()]).unwrap(), &plain);
        // No lane named: the most recent login.
        assert_eq!(choose("p", &three, &[]).unwrap(), &b);
        assert!(choose("p", &[], &[])
            .unwrap_err()
            .contains("no live session"));
        // The first named lane that has a manager decides.
        assert_eq!(
            choose("p", &three, &["C9".into(), "A1".into()]).unwrap(),
            &a
        );
    }
}
