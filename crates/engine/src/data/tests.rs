//! Unit tests of reading and writing data files.

use super::*;

/// Write `contents` as `name` in `dir`; its path.
fn file(dir: &tempfile::TempDir, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Every batch of `path`, or the first error.
fn read_all(path: &Path, batch_rows: usize) -> Result<Vec<RecordBatch>, DataError> {
    Reader::open(path, batch_rows)?.collect()
}

fn roundtrip(ext: &str) {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(&dir, "in.csv", "a,b\n1,x\n2,\n3,z\n");
    let batches = read_all(&csv, 2).unwrap();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let out = dir.path().join(format!("out.{ext}"));
    let mut w = Writer::create(&out).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    assert!(!out.exists(), "nothing appears before finish");
    assert_eq!(w.finish(batches[0].schema()).unwrap().rows, 3);
    let back = read_all(&out, 10).unwrap();
    assert_eq!(back[0].num_rows(), 3);
    assert_eq!(back[0].column(1).null_count(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary files left"
    );
}

#[test]
fn csv_parquet_jsonl_roundtrip() {
    roundtrip("parquet");
    roundtrip("csv");
    roundtrip("jsonl");
}

#[test]
fn dropped_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.parquet");
    let input = file(&dir, "i.csv", "a\n1\n");
    let batch = Reader::open(&input, 10).unwrap().next().unwrap().unwrap();
    let mut w = Writer::create(&out).unwrap();
    w.write(&batch).unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// The error reading `contents` as `name`, checked to name the file.
fn error_of(name: &str, contents: impl AsRef<[u8]>, batch_rows: usize) -> DataError {
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, name, contents);
    let err = read_all(&path, batch_rows).expect_err("the file is refused");
    assert!(err.to_string().contains(name), "{err}");
    err
}

/// The line a [`DataError::Line`] names.
fn line_of(err: &DataError) -> u64 {
    match err {
        DataError::Line { line, .. } => *line,
        other => panic!("expected an error naming a line, got: {other}"),
    }
}

/// `rows` lines of `good(i)` (i counted from 1) with `bad` at line `at`.
fn lines(header: &str, rows: usize, at: usize, good: fn(usize) -> String, bad: &str) -> String {
    let mut text = String::from(header);
    let first = if header.is_empty() { 1 } else { 2 };
    for line in first..first + rows {
        text.push_str(&if line == at {
            bad.to_owned()
        } else {
            good(line)
        });
        text.push('\n');
    }
    text
}

/// The error of a file whose record `bad` comes past the rows types are
/// inferred from, in a later batch; checked to name its line.
fn late_error(name: &str, header: &str, good: fn(usize) -> String, bad: &str) -> DataError {
    let late = INFER_ROWS + 190;
    let err = error_of(name, lines(header, INFER_ROWS + 300, late, good, bad), 4096);
    assert_eq!(line_of(&err), late as u64, "{err}");
    err
}

#[test]
fn csv_errors_name_the_file_line_across_batches() {
    let ragged = lines("a,b\n", 300, 250, |i| format!("{i},{i}"), "7");
    assert_eq!(line_of(&error_of("ragged.csv", &ragged, 64)), 250);
    let err = late_error("typed.csv", "a,b\n", |i| format!("{i},{i}"), "7,x");
    assert!(err.to_string().contains("'b'"), "names the column: {err}");
    // A quoted field spanning lines shifts every later line by one.
    let quoted = format!(
        "a,b\n1,\"two\nlines\"\n{}",
        lines("", 100, 80, |i| format!("{i},{i}"), "1,2,3")
    );
    assert_eq!(line_of(&error_of("quoted.csv", &quoted, 16)), 80 + 3);
    let utf8: Vec<u8> = lines("a,b\n", 50, 41, |i| format!("{i},x{i}"), "1,@")
        .bytes()
        .map(|b| if b == b'@' { 0xff } else { b })
        .collect();
    assert_eq!(line_of(&error_of("utf8.csv", utf8, 8)), 41);
}

#[test]
fn jsonl_errors_name_the_file_line_across_batches() {
    let good = |i: usize| format!("{{\"a\": {i}, \"b\": \"s{i}\"}}");
    let syntax = lines("", 400, 333, good, "{\"a\": oops}");
    assert_eq!(line_of(&error_of("syntax.jsonl", &syntax, 100)), 333);
    late_error("typed.jsonl", "", good, "{\"a\": [1], \"b\": \"s\"}");
    // Nesting past the inferred rows is held on the heap, not the stack.
    let deep = format!("{{\"a\": {}", "[".repeat(1 << 20));
    late_error("deep.jsonl", "", good, &deep);
    let err = late_error("unknown.jsonl", "", good, "{\"a\": 1, \"c\": 2}");
    assert!(err.to_string().contains("'c'"), "names the field: {err}");
    let inferred = lines("", 10, 7, good, "[1, 2]");
    assert_eq!(line_of(&error_of("first.jsonl", &inferred, 100)), 7);
    let truncated = format!("{}{{\"a\": 1,", lines("", 10, 0, good, ""));
    assert_eq!(line_of(&error_of("truncated.jsonl", &truncated, 4)), 11);
}

#[test]
fn empty_files_are_refused_and_header_only_csv_has_columns() {
    let err = error_of("empty.csv", "", 10);
    assert!(err.to_string().contains("empty: no header row"), "{err}");
    let err = error_of("empty.jsonl", "\n \n", 10);
    assert!(err.to_string().contains("empty: no JSON object"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let header = file(&dir, "header.csv", "a,b\n");
    let reader = Reader::open(&header, 10).unwrap();
    assert_eq!(describe(&reader.schema()), "a: Utf8, b: Utf8");
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 0);
    let out = dir.path().join("out.csv");
    Writer::create(&out)
        .unwrap()
        .finish(Reader::open(&header, 10).unwrap().schema())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "a,b\n",
        "the header survives"
    );
}

#[test]
fn values_past_the_inferred_sample_are_not_lost() {
    let mut text = String::from("a,b\n");
    (0..INFER_ROWS).for_each(|i| text.push_str(&format!("{i},\n")));
    text.push_str("1,late\n");
    let dir = tempfile::tempdir().unwrap();
    let batches = read_all(&file(&dir, "late.csv", text), 1 << 20).unwrap();
    let b = batches.last().unwrap().column(1);
    assert_eq!(b.len() - b.null_count(), 1, "the late value is kept");
}

#[test]
fn batches_stay_under_the_byte_budget_however_wide() {
    assert_eq!(read::rows_per_batch(65536, 3, 20), 65536);
    let wide = read::rows_per_batch(65536, 20_000, 40_000);
    assert!(
        wide >= 1 && wide * 20_000 * 16 <= BATCH_BYTES as usize,
        "{wide}"
    );
    assert_eq!(read::rows_per_batch(65536, MAX_COLUMNS, u64::MAX), 1);
    let columns = 2_000;
    let header: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    let row = vec!["1"; columns].join(",");
    let text = format!("{}\n{}", header.join(","), format!("{row}\n").repeat(3000));
    let dir = tempfile::tempdir().unwrap();
    let batches = read_all(&file(&dir, "wide.csv", text), 65536).unwrap();
    let rows: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows.iter().sum::<usize>(), 3000);
    assert!(
        rows[0] < 3000 && rows[0] * columns * 16 <= BATCH_BYTES as usize,
        "{rows:?}"
    );
}

#[test]
fn too_many_columns_is_a_clear_error() {
    let header: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect();
    let text = format!(
        "{}\n{}\n",
        header.join(","),
        vec!["1"; MAX_COLUMNS + 1].join(",")
    );
    let err = error_of("wide.csv", text, 65536);
    let expected = format!("{} columns, more than the {MAX_COLUMNS}", MAX_COLUMNS + 1);
    assert!(err.to_string().contains(&expected), "{err}");
    let fields: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("\"c{i}\": 1")).collect();
    let err = error_of("wide.jsonl", format!("{{{}}}\n", fields.join(",")), 65536);
    assert!(err.to_string().contains(&expected), "{err}");
}
