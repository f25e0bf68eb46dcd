//! The Autobahn TestSuite client protocol's URLs, shared by every runtime.
//!
//! The fuzzing server is driven through three endpoints: `/getCaseCount` answers
//! with one text message, `/runCase?case=N&agent=A` plays case N (1-based), and
//! `/updateReports?agent=A` writes the report.

/// `{base}/getCaseCount`.
pub(crate) fn case_count_url(base: &str) -> String {
    format!("{}/getCaseCount", trim(base))
}

/// `{base}/runCase?case={case}&agent={agent}`.
pub(crate) fn case_url(base: &str, case: u32, agent: &str) -> String {
    format!(
        "{}/runCase?case={case}&agent={}",
        trim(base),
        encode_component(agent)
    )
}

/// `{base}/updateReports?agent={agent}`.
pub(crate) fn update_reports_url(base: &str, agent: &str) -> String {
    format!(
        "{}/updateReports?agent={}",
        trim(base),
        encode_component(agent)
    )
}

/// Reads the case count out of `/getCaseCount`'s text message.
pub(crate) fn parse_case_count(text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("getCaseCount answered {text:?}, not a number"))
}

/// The base URL without a trailing slash, so `ws://host:9001/` works too.
fn trim(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so an agent
/// name with spaces or `&` stays one query parameter.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_suite_protocol() {
        let base = "ws://127.0.0.1:9001";
        assert_eq!(case_count_url(base), "ws://127.0.0.1:9001/getCaseCount");
        assert_eq!(
            case_url(base, 7, "wsd"),
            "ws://127.0.0.1:9001/runCase?case=7&agent=wsd"
        );
        assert_eq!(
            update_reports_url("ws://127.0.0.1:9001/", "wsd"),
            "ws://127.0.0.1:9001/updateReports?agent=wsd"
        );
    }

    #[test]
    fn agent_names_are_encoded() {
        assert_eq!(
            case_url("ws://h", 1, "wsd 0.1&x=é"),
            "ws://h/runCase?case=1&agent=wsd%200.1%26x%3D%C3%A9"
        );
    }

    #[test]
    fn case_count_is_a_number() {
        assert_eq!(parse_case_count("301"), Ok(301));
        assert_eq!(parse_case_count(" 5\n"), Ok(5));
        assert!(parse_case_count("many").is_err());
        assert!(parse_case_count("-1").is_err());
    }
}
