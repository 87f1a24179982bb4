//! Reading the platform's answer to an upload, and classifying it before
//! acting on it: only an acknowledgement or a final refusal settles a
//! record.
//!
//! What the answers look like comes from the platform's public server code
//! (`reference/sdk/_protocol.json`, `tcp_sdk_wire_from_public_code`):
//! `{"state":1,...}` when taken (`state` is the number of rows the server
//! wrote, normally 1), `{"state":0,"errmsg":...}` otherwise, where the
//! errmsg tells a final refusal ("error:签名错误", a missing field) from a
//! temporary one (`request_over_times` past the per-token limit), from a
//! refused token ("error:token无效", "error:车场没有登录") and from a
//! re-sent upload the platform already has ("数据已处理过...", or the
//! cloud's "该订单已经存在" for an entry whose order exists).

/// How answers are classified by their `errmsg` (plain data: extend the
/// lists for a deployment's own messages). Each entry matches as a
/// substring, case-insensitively for ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnswerPolicy {
    /// Temporary refusals: the record stays queued and is retried later,
    /// and the pass stops (the next record would meet the same).
    pub transient: Vec<String>,
    /// Refusals of the session's token: log in once, send again.
    pub token: Vec<String>,
    /// The platform already has this upload: it counts as delivered.
    pub duplicate: Vec<String>,
    /// Of the transient ones, those that mean "too many requests": the
    /// engine also pauses its pacing for a window.
    pub rate_limited: Vec<String>,
    /// Of the duplicate ones, those that come from the platform's cache of
    /// signs it has seen rather than from its books ("数据已处理过..."):
    /// the cache also holds signs of sends it refused, so the engine
    /// confirms such an answer under a fresh sign before it believes it.
    pub resend_cache: Vec<String>,
}

impl Default for AnswerPolicy {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        AnswerPolicy {
            transient: list(&[
                "request_over_times",
                "繁忙",
                "稍后",
                "超时",
                "系统异常",
                "服务器异常",
                "网络异常",
                "busy",
                "timeout",
                "timed out",
                "too many",
                "try again",
            ]),
            token: list(&[
                "token无效",
                "token过期",
                "token失效",
                "token已过期",
                "没有登录",
                "未登录",
                "未识别到token",
                "invalid token",
                "token invalid",
                "token expired",
            ]),
            duplicate: list(&["数据已处理过", "已经存在", "已上传过", "已处理"]),
            rate_limited: list(&["request_over_times", "too many"]),
            resend_cache: list(&["数据已处理过"]),
        }
    }
}

/// What an answer means for the record it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Taken (`state` 1 or more).
    Accepted,
    /// The platform already had it: delivered.
    Duplicate(String),
    /// Refused for good, with the platform's errmsg.
    Refused(String),
    /// Refused for now; retry later.
    Transient {
        /// The errmsg.
        errmsg: String,
        /// Whether it means the per-token rate limit.
        rate_limited: bool,
    },
    /// The token was refused: log in again and resend.
    TokenRefused(String),
    /// Not an answer the engine can read (not JSON, no `state`, a bad sign
    /// on a signed answer): the record stays queued.
    Unreadable(String),
}

impl Verdict {
    /// Whether the record leaves the outbox.
    pub fn settles(&self) -> bool {
        matches!(
            self,
            Verdict::Accepted | Verdict::Duplicate(_) | Verdict::Refused(_)
        )
    }
}

/// The two parts of an answer the engine acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Status {
    /// `state`, read from a number, an integral decimal or a numeric string.
    pub state: Option<i64>,
    /// `errmsg` (or `error`, which upload_price's answers use instead).
    pub errmsg: Option<String>,
    /// The `service_name` the answer names, when it names one.
    pub service_name: Option<String>,
    /// The `order_id` the answer names, when it names one (the public
    /// server code copies it from the data it answers).
    pub order_id: Option<String>,
}

impl Status {
    /// Reads `state` and `errmsg` from a JSON object as the platform's Java
    /// counterparts would (fastjson's `getInteger` takes `1`, `1.0` and
    /// `"1"`); `None` when the bytes are not a JSON object.
    pub fn read(json: &[u8]) -> Option<Status> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(json).ok()?;
        Some(Status::of(&object))
    }

    /// The status of an already parsed object.
    pub fn of(object: &serde_json::Map<String, serde_json::Value>) -> Status {
        let state = object.get("state").and_then(lenient_integer);
        let errmsg = ["errmsg", "error"]
            .iter()
            .find_map(|key| match object.get(*key) {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Null) | None => None,
                Some(other) => Some(other.to_string()),
            });
        let text = |key: &str| match object.get(key) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        Status {
            state,
            errmsg,
            service_name: text("service_name"),
            order_id: text("order_id"),
        }
    }

    /// Why this answer is not one to the upload with `order_id`: it names
    /// another order. `None` when it names none, or the same.
    ///
    /// Why: the public server code copies the order_id of the data it
    /// answers (`reference/sdk/_protocol.json`, "a per-interface id echo").
    /// An acknowledgement that names another order (a proxy or cache
    /// answering with another exchange's body, a server mixing up its
    /// connections) says nothing about this one: settling on it could lose
    /// the upload, while keeping it costs one resend, which the platform
    /// recognises by its order. The service_name is not compared: the
    /// cloud does not always echo it as sent (it answers 2.16
    /// upload_car_type as `car_type_upload`, DoUploadImpl.java 1161-1165).
    pub fn names_another_order(&self, order_id: Option<&str>) -> Option<String> {
        match (self.order_id.as_deref(), order_id) {
            (Some(named), Some(sent)) if named != sent => Some(format!(
                "the answer names order_id {named:?}, the upload was {sent:?}"
            )),
            _ => None,
        }
    }
}

pub(crate) fn lenient_integer(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)
        }),
        serde_json::Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                let f: f64 = s.parse().ok()?;
                (f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)
            })
        }
        serde_json::Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

impl AnswerPolicy {
    /// Classifies an answer's status.
    pub fn classify(&self, status: &Status) -> Verdict {
        let errmsg = status.errmsg.clone().unwrap_or_default();
        match status.state {
            None => Verdict::Unreadable(format!(
                "no state in the answer{}",
                if errmsg.is_empty() {
                    String::new()
                } else {
                    format!(" (errmsg {errmsg:?})")
                }
            )),
            Some(state) if state >= 1 => Verdict::Accepted,
            Some(_) => {
                // A duplicate first: "数据已处理过" must never be retried,
                // whatever else its text contains.
                if matches_any(&self.duplicate, &errmsg) {
                    Verdict::Duplicate(errmsg)
                } else if matches_any(&self.token, &errmsg) {
                    Verdict::TokenRefused(errmsg)
                } else if matches_any(&self.transient, &errmsg) {
                    Verdict::Transient {
                        rate_limited: matches_any(&self.rate_limited, &errmsg),
                        errmsg,
                    }
                } else {
                    Verdict::Refused(if errmsg.is_empty() {
                        "refused without an errmsg".into()
                    } else {
                        errmsg
                    })
                }
            }
        }
    }

    /// Whether a duplicate answer comes from the resend cache.
    pub fn is_resend_cache(&self, errmsg: &str) -> bool {
        matches_any(&self.resend_cache, errmsg)
    }

    /// Whether a `state` 0 errmsg refuses the token.
    pub fn is_token_refusal(&self, errmsg: &str) -> bool {
        matches_any(&self.token, errmsg)
    }
}

fn matches_any(needles: &[String], errmsg: &str) -> bool {
    let lower = errmsg.to_ascii_lowercase();
    needles
        .iter()
        .any(|needle| !needle.is_empty() && lower.contains(&needle.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(json: &str) -> Verdict {
        AnswerPolicy::default().classify(&Status::read(json.as_bytes()).unwrap())
    }

    #[test]
    fn answers_of_the_public_server_code_are_classified() {
        assert_eq!(verdict(r#"{"state":1}"#), Verdict::Accepted);
        assert_eq!(verdict(r#"{"state":"1"}"#), Verdict::Accepted);
        assert_eq!(verdict(r#"{"state":1.0}"#), Verdict::Accepted);
        // state = rows written by the cloud server.
        assert_eq!(verdict(r#"{"state":2}"#), Verdict::Accepted);
        assert_eq!(
            verdict(r#"{"state":0,"errmsg":"error:token无效"}"#),
            Verdict::TokenRefused("error:token无效".into())
        );
        assert_eq!(
            verdict(r#"{"state":0,"errmsg":"error:车场没有登录"}"#),
            Verdict::TokenRefused("error:车场没有登录".into())
        );
        assert_eq!(
            verdict(r#"{"state":0,"errmsg":"request_over_times"}"#),
            Verdict::Transient {
                errmsg: "request_over_times".into(),
                rate_limited: true
            }
        );
        assert_eq!(
            verdict(r#"{"state":"0","errmsg":"系统繁忙,请稍后再试"}"#),
            Verdict::Transient {
                errmsg: "系统繁忙,请稍后再试".into(),
                rate_limited: false
            }
        );
        assert_eq!(
            verdict(
                r#"{"state":0,"errmsg":"数据已处理过...","service_name":"in_park","order_id":"o-1"}"#
            ),
            Verdict::Duplicate("数据已处理过...".into())
        );
        assert_eq!(
            verdict(
                r#"{"service_name":"in_park","state":0,"errmsg":"该订单已经存在","order_id":"o-1"}"#
            ),
            Verdict::Duplicate("该订单已经存在".into())
        );
        assert_eq!(
            verdict(r#"{"state":0,"errmsg":"error:签名错误"}"#),
            Verdict::Refused("error:签名错误".into())
        );
        // upload_price answers errors under `error`.
        assert_eq!(
            verdict(r#"{"state":0,"error":"价格不能为空"}"#),
            Verdict::Refused("价格不能为空".into())
        );
    }

    #[test]
    fn what_cannot_be_read_never_settles() {
        assert!(matches!(
            verdict(r#"{"errmsg":"ok"}"#),
            Verdict::Unreadable(_)
        ));
        assert!(matches!(
            verdict(r#"{"state":"yes"}"#),
            Verdict::Unreadable(_)
        ));
        assert!(matches!(
            verdict(r#"{"state":0.5}"#),
            Verdict::Unreadable(_)
        ));
        assert!(Status::read(b"500").is_none());
        assert!(Status::read(b"").is_none());
        assert!(Status::read(b"[1]").is_none());
        assert!(!Verdict::Unreadable(String::new()).settles());
        assert!(!Verdict::TokenRefused(String::new()).settles());
        assert!(Verdict::Duplicate(String::new()).settles());
    }

    #[test]
    fn an_answer_naming_another_upload_is_told_apart() {
        let status =
            Status::read(br#"{"state":1,"service_name":"in_park","order_id":"o-1"}"#).unwrap();
        assert_eq!(status.names_another_order(Some("o-1")), None);
        assert!(status.names_another_order(Some("o-2")).is_some());
        // An upload without an order, an answer without one: nothing to compare.
        assert_eq!(status.names_another_order(None), None);
        let bare = Status::read(br#"{"state":1,"order_id":""}"#).unwrap();
        assert_eq!(bare.names_another_order(Some("o-1")), None);
        // The 2018 cloud's answer to 2.16 names the service its own way.
        let cloud = Status::read(
            r#"{"service_name":"car_type_upload","state":1,"cartype_id":"测试2a","errmsg":""}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(cloud.names_another_order(None), None);
    }

    #[test]
    fn a_refusal_without_errmsg_is_still_named() {
        assert_eq!(
            verdict(r#"{"state":0}"#),
            Verdict::Refused("refused without an errmsg".into())
        );
    }
}
