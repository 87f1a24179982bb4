//! Unix timestamps as the documents write them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

macro_rules! timestamp {
    ($(#[$doc:meta])* $name:ident, $unit:literal, $per_second:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl $name {
            #[doc = concat!("The current time, in ", $unit, ".")]
            pub fn now() -> $name {
                let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
                $name((since.as_millis() as i64) / (1000 / $per_second))
            }

            #[doc = concat!("The number of ", $unit, " since 1970-01-01T00:00:00Z.")]
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(value: i64) -> $name {
                $name(value)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

timestamp!(
    /// A unix timestamp in seconds (`Number(unix时间戳格式,精确到秒)`).
    ///
    /// ```
    /// let t = bolink_types::UnixSeconds(1490875218);
    /// assert_eq!(t.to_string(), "1490875218");
    /// ```
    UnixSeconds, "seconds", 1
);

timestamp!(
    /// A unix timestamp in milliseconds (13 digits, as one page writes them).
    UnixMillis, "milliseconds", 1000
);
