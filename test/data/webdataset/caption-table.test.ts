import { describe, expect, it } from "vitest";
import { parseTable, TableError, tableFormat } from "../../../src/data/webdataset/caption-table";

describe("caption tables", () => {
  it("parses CSV with quotes, doubled quotes, line breaks in fields, CRLF, BOM and blank lines", () => {
    const text = '\ufefffilename,caption\r\na.png,"one, two"\r\n\r\nb.png,"say ""hi""\nnext line"\nc.png,\n';
    const t = parseTable(text, "csv");
    expect(t.columns).toEqual(["filename", "caption"]);
    expect(t.rows).toEqual([
      { line: 2, values: { filename: "a.png", caption: "one, two" } },
      { line: 4, values: { filename: "b.png", caption: 'say "hi"\nnext line' } },
      { line: 6, values: { filename: "c.png", caption: "" } },
    ]);
    expect(parseTable("a,b\n1", "csv").rows).toEqual([{ line: 2, values: { a: "1" } }]);
    expect(parseTable("a\tb\nx, y\tz\n", "tsv").rows[0].values).toEqual({ a: "x, y", b: "z" });
    expect(parseTable("", "csv")).toEqual({ columns: [], rows: [] });
  });

  it("parses JSONL, writing non-string values as JSON and dropping nulls", () => {
    const t = parseTable('{"p":"a.png","c":"x"}\n\n{"p":"b.png","n":3,"t":["u"],"c":null}\n', "jsonl");
    expect(t.columns).toEqual(["p", "c", "n", "t"]);
    expect(t.rows).toEqual([
      { line: 1, values: { p: "a.png", c: "x" } },
      { line: 3, values: { p: "b.png", n: "3", t: '["u"]' } },
    ]);
  });

  it("names the line of malformed input", () => {
    expect(() => parseTable('a,b\n1,"2\n', "csv")).toThrow(
      new TableError("line 2: a quoted field is not closed"),
    );
    expect(() => parseTable("a,b\n1,2,3\n", "csv")).toThrow("line 2: 3 fields, but the header has 2");
    expect(() => parseTable("a,a\n", "csv")).toThrow('column "a" appears twice');
    expect(() => parseTable('{"a":1}\n[1]\n', "jsonl")).toThrow("line 2: expected a JSON object");
    expect(() => parseTable("{oops\n", "jsonl")).toThrow(/^line 1: not JSON/);
  });

  it("tells the format from the extension", () => {
    expect(["x.csv", "X.TSV", "a.jsonl", "a.ndjson", "a.json", "csv"].map(tableFormat)).toEqual([
      "csv",
      "tsv",
      "jsonl",
      "jsonl",
      null,
      null,
    ]);
  });
});
