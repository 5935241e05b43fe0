//! A step's config checked against its plugin's JSON Schema, each problem
//! said the way a person fixes it: the field it is at, every valid value
//! (not "or 2 other candidates"), the closest known name for a misspelled
//! one, the branch of a `oneOf` the config meant rather than "not valid
//! under any of the schemas", and the condition a field does not go with.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

/// One thing wrong with a config.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// Where in the config: object keys and array indices, outermost first.
    pub path: Vec<String>,
    /// What is wrong and what would be right.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "config")?;
        for key in &self.path {
            match key.parse::<usize>() {
                Ok(i) => write!(f, "[{i}]")?,
                Err(_) => write!(f, ".{key}")?,
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem of `config` under `schema` (whose source is `document`).
pub fn problems(schema: &Validator, document: &Value, config: &Value) -> Vec<ConfigProblem> {
    let mut found: Vec<ConfigProblem> = schema
        .iter_errors(config)
        .flat_map(|e| explain(document, &e))
        .collect();
    // The most specific first: a misspelled field before the required one
    // it was meant to be.
    found.sort_by_key(|p| std::cmp::Reverse(p.path.len()));
    found
}

fn explain(document: &Value, error: &ValidationError<'_>) -> Vec<ConfigProblem> {
    let path: Vec<String> = error
        .instance_path()
        .into_iter()
        .map(|s| match s {
            jsonschema::paths::LocationSegment::Property(p) => p.to_string(),
            jsonschema::paths::LocationSegment::Index(i) => i.to_string(),
        })
        .collect();
    let at = |path: Vec<String>, message: String| vec![ConfigProblem { path, message }];
    let schema_path = error.schema_path().as_str();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = keys_beside(document, schema_path, "additionalProperties");
            unexpected
                .iter()
                .map(|name| ConfigProblem {
                    path: [path.clone(), vec![name.clone()]].concat(),
                    message: format!("unknown field{}", suggestion(name, &known, "fields")),
                })
                .collect()
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options.as_array().into_iter().flatten().map(show).collect();
            at(path, not_one_of(error.instance(), &options))
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let consts: Option<Vec<String>> = context
                .iter()
                .map(|branch| match branch.as_slice() {
                    [e] => match e.kind() {
                        ValidationErrorKind::Constant { expected_value } => {
                            Some(show(expected_value))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            match consts {
                Some(options) => at(path, not_one_of(error.instance(), &options)),
                None => closest_branch(document, context),
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let given: Vec<String> = error
                .instance()
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .collect();
            let typo = nearest(name, &given)
                .map(|k| format!("; is {k} a misspelling of it?"))
                .unwrap_or_default();
            at(
                path,
                format!("missing field {name:?}, which is required{typo}"),
            )
        }
        ValidationErrorKind::FalseSchema => {
            let condition = condition_of(document, schema_path);
            at(path, format!("this field does not apply{condition}"))
        }
        _ => at(path, error.to_string()),
    }
}

/// The branch of a failed `oneOf`/`anyOf` the config most likely meant:
/// the one with the fewest problems, those at a tag (a `const`) counting
/// as many, since a config that gives a tag means that branch.
fn closest_branch(
    document: &Value,
    branches: &[Vec<ValidationError<'static>>],
) -> Vec<ConfigProblem> {
    let cost = |branch: &Vec<ValidationError<'static>>| {
        branch
            .iter()
            .map(|e| match e.kind() {
                ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. } => 100,
                _ => 1,
            })
            .sum::<usize>()
    };
    branches
        .iter()
        .min_by_key(|b| cost(b))
        .map(|b| b.iter().flat_map(|e| explain(document, e)).collect())
        .unwrap_or_default()
}

/// "`x` is not one of a, b, c", with the closest one suggested.
fn not_one_of(value: &Value, options: &[String]) -> String {
    let given = show(value);
    let near = suggestion(&given, options, "");
    if near.is_empty() {
        format!("{given} is not one of {}", options.join(", "))
    } else {
        format!("{given} is not one of {}{near}", options.join(", "))
    }
}

/// "; did you mean `x`?" when one of `known` is close to `name`, then the
/// list of `known` under `what` (when `what` is not empty).
fn suggestion(name: &str, known: &[String], what: &str) -> String {
    let mut text = nearest(name, known)
        .map(|k| format!("; did you mean {k}?"))
        .unwrap_or_default();
    if !what.is_empty() && !known.is_empty() {
        text.push_str(&format!(" ({what}: {})", known.join(", ")));
    }
    text
}

/// The one of `known` within a few edits of `name`, if any.
fn nearest<'k>(name: &str, known: &'k [String]) -> Option<&'k String> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, k)| *d > 0 && *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A value as a config would spell it: strings bare, others as JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The property names of the schema object holding `keyword` at `path`.
fn keys_beside(document: &Value, path: &str, keyword: &str) -> Vec<String> {
    let parent = path
        .strip_suffix(keyword)
        .unwrap_or(path)
        .trim_end_matches('/');
    document
        .pointer(&format!("{parent}/properties"))
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// " with method standard" for a field refused under an `if`/`then` whose
/// `if` names constant properties; empty otherwise.
fn condition_of(document: &Value, path: &str) -> String {
    let Some((branch, _)) = path.rsplit_once("/then/") else {
        return String::new();
    };
    let Some(props) = document
        .pointer(&format!("{branch}/if/properties"))
        .and_then(Value::as_object)
    else {
        return String::new();
    };
    let parts: Vec<String> = props
        .iter()
        .filter_map(|(k, v)| v.get("const").map(|c| format!("{k} {}", show(c))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" with {}", parts.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, config: Value) -> Vec<String> {
        let validator = jsonschema::validator_for(&schema).unwrap();
        problems(&validator, &schema, &config)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_valid_value_is_listed_and_the_closest_suggested() {
        let schema = json!({"properties": {"strategy": {"enum": ["mean", "median", "most_frequent", "constant"]}}});
        assert_eq!(
            check(schema, json!({"strategy": "meen"})),
            ["config.strategy: meen is not one of mean, median, most_frequent, constant; did you mean mean?"]
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_the_known_ones() {
        let schema =
            json!({"properties": {"method": {}, "columns": {}}, "additionalProperties": false});
        assert_eq!(
            check(schema, json!({"methd": 1, "columns": []})),
            ["config.methd: unknown field; did you mean method? (fields: method, columns)"]
        );
    }

    #[test]
    fn a_oneof_of_constants_reads_as_an_enum() {
        let schema =
            json!({"properties": {"s": {"oneOf": [{"const": "uniform"}, {"const": "quantile"}]}}});
        assert_eq!(
            check(schema, json!({"s": "kmeans"})),
            ["config.s: kmeans is not one of uniform, quantile"]
        );
    }

    #[test]
    fn a_tagged_oneof_reports_the_branch_its_tag_names() {
        let branch = |tag: &str, field: &str| json!({"properties": {"kind": {"const": tag}, field: {"type": "number"}}, "required": ["kind", field]});
        let schema = json!({"oneOf": [branch("a", "x"), branch("b", "y")]});
        assert_eq!(
            check(schema, json!({"kind": "b", "y": "two"})),
            ["config.y: \"two\" is not of type \"number\""]
        );
    }

    #[test]
    fn a_field_refused_by_a_condition_names_it() {
        let schema = json!({"allOf": [{"if": {"properties": {"method": {"const": "standard"}}},
                                        "then": {"properties": {"clip": false}}}]});
        assert_eq!(
            check(schema, json!({"method": "standard", "clip": true})),
            ["config.clip: this field does not apply with method standard"]
        );
    }

    #[test]
    fn a_missing_field_points_at_its_misspelling() {
        let schema = json!({"required": ["attack"]});
        assert_eq!(
            check(schema, json!({"atack": "none"})),
            ["config: missing field \"attack\", which is required; is atack a misspelling of it?"]
        );
    }

    #[test]
    fn indices_and_missing_fields_are_placed() {
        let schema = json!({"properties": {"columns": {"items": {"type": "string"}}}, "required": ["method"]});
        assert_eq!(
            check(schema, json!({"columns": ["a", 3]})),
            [
                "config.columns[1]: 3 is not of type \"string\"",
                "config: missing field \"method\", which is required"
            ]
        );
    }
}
