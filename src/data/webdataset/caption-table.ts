// Tables of image paths and captions, in the text formats img2dataset reads: CSV or TSV with a
// header row (RFC 4180 quoting: fields in double quotes may hold the delimiter, line breaks and
// doubled quotes), or JSONL (one JSON object per line). Values come out as strings; a JSON value
// that is not a string is written as JSON text, and null or a missing field is absent.

export type TableFormat = "csv" | "tsv" | "jsonl";

export interface CaptionTable {
  /** Column names: the CSV header, or every field name seen in the JSONL objects (first-seen order). */
  columns: string[];
  rows: TableRow[];
}

export interface TableRow {
  /** Line in the file where the row starts (1-based; the CSV header is line 1). */
  line: number;
  values: Record<string, string>;
}

export class TableError extends Error {
  override name = "TableError";
}

/** The format named by a file's extension, or null. */
export function tableFormat(fileName: string): TableFormat | null {
  const ext = /\.([a-z]+)$/i.exec(fileName)?.[1].toLowerCase();
  if (ext === "csv" || ext === "tsv" || ext === "jsonl") return ext;
  if (ext === "ndjson") return "jsonl";
  return null;
}

/** Parses a table; throws a TableError that names the line for malformed input. */
export function parseTable(text: string, format: TableFormat): CaptionTable {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // byte order mark
  return format === "jsonl" ? parseJsonl(body) : parseDelimited(body, format === "csv" ? "," : "\t");
}

function parseJsonl(text: string): CaptionTable {
  const columns = new Set<string>();
  const rows: TableRow[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new TableError(`line ${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new TableError(`line ${i + 1}: expected a JSON object`);
    const values: Record<string, string> = {};
    for (const [name, v] of Object.entries(value)) {
      columns.add(name);
      if (v === null || v === undefined) continue;
      values[name] = typeof v === "string" ? v : JSON.stringify(v);
    }
    rows.push({ line: i + 1, values });
  });
  return { columns: [...columns], rows };
}

function parseDelimited(text: string, delimiter: string): CaptionTable {
  const records = splitRecords(text, delimiter);
  if (records.length === 0) return { columns: [], rows: [] };
  const [header, ...rest] = records;
  const columns = header.fields.map((c) => c.trim());
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new TableError(`line 1: column "${c}" appears twice in the header`);
    seen.add(c);
  }
  const rows = rest.map(({ line, fields }) => {
    if (fields.length > columns.length)
      throw new TableError(`line ${line}: ${fields.length} fields, but the header has ${columns.length}`);
    const values: Record<string, string> = {};
    fields.forEach((f, i) => {
      values[columns[i]] = f;
    });
    return { line, values };
  });
  return { columns, rows };
}

/** Records with their fields, skipping blank lines. */
function splitRecords(text: string, delimiter: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false; // inside a quoted field
  let line = 1;
  let start = 1;
  let blank = true; // the record so far is empty
  const endField = () => {
    fields.push(field);
    field = "";
  };
  const endRecord = () => {
    endField();
    if (!(blank && fields.length === 1)) records.push({ line: start, fields });
    fields = [];
    blank = true;
    start = line;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.length === 0) {
      quoted = true;
      blank = false;
    } else if (c === delimiter) {
      endField();
      blank = false;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      line++;
      endRecord();
    } else {
      field += c;
      blank = false;
    }
  }
  if (quoted) throw new TableError(`line ${start}: a quoted field is not closed`);
  if (!blank || field.length > 0) endRecord();
  return records;
}
