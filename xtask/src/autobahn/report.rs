//! Reading a run's report: kosoku's `index.json` summed up in one line, and the
//! verdict on it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::json::{self, Json};

/// Behaviours that pass; kosoku itself also passes NON-STRICT, which wsd must not need.
const ACCEPTED: [&str; 2] = ["OK", "INFORMATIONAL"];

/// What one run's `index.json` says.
#[derive(Debug)]
pub(super) struct Summary {
    agents: Vec<String>,
    cases: usize,
    expected: Option<usize>,
    behaviour: BTreeMap<(usize, String), usize>,
    closing: BTreeMap<(usize, String), usize>,
    not_ok: Vec<String>,
}

impl Summary {
    pub(super) fn passed(&self) -> bool {
        self.cases > 0 && self.not_ok.is_empty() && self.expected.is_none_or(|n| n == self.cases)
    }

    pub(super) fn line(&self) -> String {
        let counts = |map: &BTreeMap<(usize, String), usize>| {
            map.iter()
                .map(|((_, label), n)| format!("{label} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut line = format!("agent {}: {} cases", self.agents.join("+"), self.cases);
        if let Some(expected) = self.expected.filter(|&n| n != self.cases) {
            line.push_str(&format!(" of {expected} offered"));
        }
        line.push_str(&format!(
            ": {}; close: {}",
            counts(&self.behaviour),
            counts(&self.closing)
        ));
        if !self.not_ok.is_empty() {
            line.push_str(&format!("; not OK: {}", self.not_ok.join(" ")));
        }
        line
    }
}

/// Reads a report's `index.json`: `{agent: {case id: {behavior, behaviorClose, ...}}}`.
pub(super) fn summarise(index: &Path, expected: Option<usize>) -> Result<Summary, String> {
    let text = std::fs::read_to_string(index)
        .map_err(|e| format!("no report ({}: {e})", index.display()))?;
    summarise_text(&text, expected)
}

fn summarise_text(text: &str, expected: Option<usize>) -> Result<Summary, String> {
    let index = json::parse(text)?;
    let agents = index.as_object().ok_or("index.json is not an object")?;
    let mut summary = Summary {
        agents: Vec::new(),
        cases: 0,
        expected,
        behaviour: BTreeMap::new(),
        closing: BTreeMap::new(),
        not_ok: Vec::new(),
    };
    let mut not_ok = Vec::new();
    for (agent, cases) in agents {
        summary.agents.push(agent.clone());
        let cases = cases
            .as_object()
            .ok_or_else(|| format!("index.json: agent {agent} has no cases"))?;
        for (id, case) in cases {
            summary.cases += 1;
            let behaviour = label(case, "behavior");
            // Older reports may lack behaviorClose; then only the behaviour counts.
            let closing = case
                .get("behaviorClose")
                .map(|_| label(case, "behaviorClose"));
            let bad = !ACCEPTED.contains(&behaviour.as_str())
                || closing.as_deref().is_some_and(|c| !ACCEPTED.contains(&c));
            if bad {
                not_ok.push(id.clone());
            }
            *summary
                .behaviour
                .entry((rank(&behaviour), behaviour))
                .or_default() += 1;
            if let Some(closing) = closing {
                *summary
                    .closing
                    .entry((rank(&closing), closing))
                    .or_default() += 1;
            }
        }
    }
    not_ok.sort_by_key(|id| case_sort_key(id));
    not_ok.dedup();
    summary.not_ok = not_ok;
    Ok(summary)
}

fn label(case: &Json, key: &str) -> String {
    case.get(key)
        .and_then(Json::as_str)
        .unwrap_or("MISSING")
        .to_string()
}

/// Orders verdicts from best to worst in the summary line.
fn rank(label: &str) -> usize {
    const ORDER: [&str; 9] = [
        "OK",
        "INFORMATIONAL",
        "NON-STRICT",
        "WRONG CODE",
        "UNCLEAN",
        "FAILED BY CLIENT",
        "FAILED",
        "UNIMPLEMENTED",
        "ERROR",
    ];
    ORDER
        .iter()
        .position(|&known| known == label)
        .unwrap_or(ORDER.len())
}

/// `9.10.1` sorts after `9.2.1`.
fn case_sort_key(id: &str) -> Vec<u32> {
    id.split('.')
        .map(|part| part.parse().unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::summarise_text;

    #[test]
    fn summary_fails_non_strict_and_bad_closes_and_lists_them_in_order() {
        let index = r#"{"agent": {
            "9.10.1": {"behavior": "OK", "behaviorClose": "OK"},
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK"},
            "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK"},
            "7.1.5": {"behavior": "OK", "behaviorClose": "WRONG CODE"},
            "9.2.1": {"behavior": "INFORMATIONAL", "behaviorClose": "INFORMATIONAL"}
        }}"#;
        let summary = summarise_text(index, None).unwrap();
        assert!(!summary.passed());
        assert_eq!(summary.not_ok, ["6.4.1", "7.1.5"]);
        assert_eq!(
            summary.line(),
            "agent agent: 5 cases: OK 3, INFORMATIONAL 1, NON-STRICT 1; \
             close: OK 3, INFORMATIONAL 1, WRONG CODE 1; not OK: 6.4.1 7.1.5"
        );
    }

    #[test]
    fn summary_passes_only_a_complete_clean_report() {
        let index = r#"{"wsd": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK"},
                                 "1.1.2": {"behavior": "INFORMATIONAL", "behaviorClose": "OK"}}}"#;
        assert!(summarise_text(index, None).unwrap().passed());
        assert!(summarise_text(index, Some(2)).unwrap().passed());
        let short = summarise_text(index, Some(3)).unwrap();
        assert!(!short.passed());
        assert!(short.line().contains("2 cases of 3 offered"));
        assert!(!summarise_text("{}", None).unwrap().passed());
    }
}
