//! Message ids: UUIDv7, strictly increasing in commit order.
//!
//! Clients resume with "everything after the last id I saw", which is only complete if a
//! message committed later never has a smaller id. Every group commit therefore moves the
//! one-row `message_id_floor` forward in the statement that inserts its messages, and only
//! when its ids are above the committed floor; the row lock makes concurrent commits take
//! turns, so commit order and id order are the same across every chat replica.

use uuid::Uuid;

const COUNTER_BITS: u32 = 74; // rand_a (12) + rand_b (62)
const RAND_B_BITS: u32 = 62;

/// A fresh UUIDv7 that is greater than `floor`.
pub fn next_after(floor: Option<Uuid>) -> Uuid {
    let fresh = Uuid::now_v7();
    match floor {
        Some(floor) if fresh <= floor => successor(floor),
        _ => fresh,
    }
}

/// The smallest UUIDv7 above `id` (`id` is assumed to be a v7).
fn successor(id: Uuid) -> Uuid {
    let v = id.as_u128();
    let ts = (v >> 80) as u64;
    let rand_a = (v >> 64) & 0xfff;
    let rand_b = v & ((1u128 << RAND_B_BITS) - 1);
    let mut counter = (rand_a << RAND_B_BITS) | rand_b;
    let mut ts = ts;
    counter += 1;
    if counter >> COUNTER_BITS != 0 {
        counter = 0;
        ts += 1;
    }
    let rand_a = counter >> RAND_B_BITS;
    let rand_b = counter & ((1u128 << RAND_B_BITS) - 1);
    let v = ((ts as u128) << 80) | (0x7u128 << 76) | (rand_a << 64) | (0b10u128 << 62) | rand_b;
    Uuid::from_u128(v)
}

/// The millisecond timestamp inside a UUIDv7.
pub fn timestamp_millis(id: Uuid) -> i64 {
    (id.as_u128() >> 80) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_above_the_floor_stay_valid_v7() {
        let far_future = successor(Uuid::from_u128(
            (u128::from(u64::MAX >> 16) << 80) | (0x7u128 << 76) | (0b10u128 << 62),
        ));
        let mut prev = Some(far_future);
        for _ in 0..1000 {
            let id = next_after(prev);
            assert!(Some(id) > prev);
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            prev = Some(id);
        }
    }

    #[test]
    fn counter_overflow_moves_to_the_next_millisecond() {
        let max_counter = (1000u128 << 80)
            | (0x7u128 << 76)
            | (0xfffu128 << 64)
            | (0b10u128 << 62)
            | ((1u128 << 62) - 1);
        let next = successor(Uuid::from_u128(max_counter));
        assert_eq!(timestamp_millis(next), 1001);
        assert!(next > Uuid::from_u128(max_counter));
    }

    #[test]
    fn fresh_ids_are_used_when_ahead_of_the_floor() {
        let id = next_after(None);
        assert_eq!(id.get_version_num(), 7);
        let older = successor(Uuid::from_u128(
            (1u128 << 80) | (0x7u128 << 76) | (0b10u128 << 62),
        ));
        assert!(next_after(Some(older)) > older);
    }
}
