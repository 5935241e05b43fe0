//! Editing a batch's named columns, whatever a column is: the one
//! implementation behind `batch.with-columns` and `batch.replace` on the
//! host and in the SDK's native backend.

use std::collections::HashSet;

/// Set `added` in `names`/`columns`: a name already there has its column
/// replaced in place, a new name is appended.
pub fn with_columns<C>(
    names: &mut Vec<String>,
    columns: &mut Vec<C>,
    added: impl IntoIterator<Item = (String, C)>,
) {
    for (name, column) in added {
        match names.iter().position(|n| *n == name) {
            Some(i) => columns[i] = column,
            None => {
                names.push(name);
                columns.push(column);
            }
        }
    }
}

/// Put `by` in the place of column `name`; an error names the missing
/// column.
pub fn replace<C>(
    names: &mut Vec<String>,
    columns: &mut Vec<C>,
    name: &str,
    by: impl IntoIterator<Item = (String, C)>,
) -> Result<(), String> {
    let at = names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| format!("replace: no column {name:?} in the batch"))?;
    let (new_names, new_columns): (Vec<String>, Vec<C>) = by.into_iter().unzip();
    names.splice(at..=at, new_names);
    columns.splice(at..=at, new_columns);
    Ok(())
}

/// Whether columns of `lengths` named `names` make a batch of `rows`
/// rows: one name per column, names unique, every column `rows` long.
pub fn check<'a>(
    names: impl IntoIterator<Item = &'a str>,
    lengths: &[usize],
    rows: usize,
) -> Result<(), String> {
    let names: Vec<&str> = names.into_iter().collect();
    if names.len() != lengths.len() {
        return Err(format!(
            "{} names for {} columns",
            names.len(),
            lengths.len()
        ));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(**n)) {
        return Err(format!("column {dup:?} appears twice in the batch"));
    }
    match names.iter().zip(lengths).find(|(_, &len)| len != rows) {
        Some((name, len)) => Err(format!("column {name:?} has {len} rows, the batch {rows}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn with_columns_replaces_in_place_and_appends() {
        let (mut n, mut c) = (names(&["a", "b"]), vec![1, 2]);
        with_columns(&mut n, &mut c, [("b".into(), 20), ("z".into(), 9)]);
        assert_eq!((n, c), (names(&["a", "b", "z"]), vec![1, 20, 9]));
    }

    #[test]
    fn replace_splices_at_the_column_or_names_it() {
        let (mut n, mut c) = (names(&["a", "b", "c"]), vec![1, 2, 3]);
        replace(&mut n, &mut c, "b", [("b0".into(), 20), ("b1".into(), 21)]).unwrap();
        assert_eq!(
            (n.clone(), c.clone()),
            (names(&["a", "b0", "b1", "c"]), vec![1, 20, 21, 3])
        );
        let e = replace(&mut n, &mut c, "q", []).unwrap_err();
        assert!(e.contains("no column \"q\""), "{e}");
    }

    #[test]
    fn check_names_each_fault() {
        assert!(check(["a", "b"], &[3, 3], 3).is_ok());
        assert!(check(["a", "a"], &[3, 3], 3)
            .unwrap_err()
            .contains("\"a\" appears twice"));
        assert!(check(["a", "b"], &[3, 2], 3)
            .unwrap_err()
            .contains("\"b\" has 2 rows, the batch 3"));
        assert!(check(["a"], &[3, 3], 3)
            .unwrap_err()
            .contains("1 names for 2 columns"));
    }
}
