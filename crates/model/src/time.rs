//! Instants as milliseconds since the Unix epoch: one integer that both
//! stores keep natively and the wire formats (seed 000's `updated_at`,
//! seed 002's `expiration`) already use.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = i64, example = 1_767_225_600_000_i64))]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (JWT `exp`/`iat`).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant moved forward by `d`, saturating instead of overflowing.
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant moved back by `d`, saturating instead of overflowing.
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(ms))
    }

    /// Time from `self` until `later`; zero when `later` is not after `self`.
    pub fn until(self, later: Timestamp) -> Duration {
        let ms = later.0.saturating_sub(self.0);
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_never_goes_negative() {
        let t = Timestamp(1_000);
        assert_eq!(t.plus(Duration::from_secs(2)), Timestamp(3_000));
        assert_eq!(t.minus(Duration::from_secs(2)), Timestamp(-1_000));
        assert_eq!(t.until(Timestamp(500)), Duration::ZERO);
        assert_eq!(t.until(Timestamp(1_250)), Duration::from_millis(250));
        assert_eq!(
            Timestamp(i64::MAX - 1).plus(Duration::from_secs(5)),
            Timestamp(i64::MAX)
        );
        assert_eq!(Timestamp(1_999).secs(), 1);
    }
}
