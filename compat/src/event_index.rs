//! The index Consul derives from a user event's ID (`uuidToUint64`), shared by the agent's
//! `/v1/event/list` and the CLI's `watch -type=event`, which must agree on it.

/// The XOR of the UUID's two 64-bit halves; IDs that are not UUIDs give 0.
pub fn uuid_to_index(id: &str) -> u64 {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return 0;
    }
    match (
        u64::from_str_radix(&hex[..16], 16),
        u64::from_str_radix(&hex[16..], 16),
    ) {
        (Ok(high), Ok(low)) => high ^ low,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_xor_of_the_uuid_halves() {
        // Consul: lower = uuid[0:8]+uuid[9:13]+uuid[14:18], upper = uuid[19:23]+uuid[24:36].
        assert_eq!(uuid_to_index("00000000-0000-0001-0000-000000000002"), 1 ^ 2);
        assert_eq!(
            uuid_to_index("b54fe110-7af5-cafc-d1fb-afc8ba432b1c"),
            0xb54fe1107af5cafc ^ 0xd1fbafc8ba432b1c
        );
        // Recorded from Consul 1.10.3 (golden/session-txn-event.md).
        assert_eq!(
            uuid_to_index("faf0ef20-4df0-403f-0e23-a07e6087dd29"),
            17641531431248698646
        );
        assert_eq!(uuid_to_index("not-a-uuid"), 0);
        assert_eq!(uuid_to_index("zzzzzzzz-0000-0001-0000-000000000002"), 0);
    }
}
