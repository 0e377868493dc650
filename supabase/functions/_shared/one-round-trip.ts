// Statements sent in one round trip.
//
// The hosted pooler's transaction mode keeps no prepared statements, so the functions run
// postgres.js with `prepare: false`. postgres.js then sends every statement that has parameters
// in two round trips: Parse + Describe first (to learn the parameters' types), and Bind + Execute
// only when the description has come back. Both the function and Postgres pay for the second
// exchange (a write, a read and a wake-up on each side): on the read routes that is about a
// third of each side's CPU. A statement without parameters goes in one: so the statements a
// request sends on its hot path carry their values as literals, written here so that no value
// can end its literal early.
//
// Every value becomes what a parameter of unknown type is to Postgres: a string constant whose
// type the context decides (`'20'` for 20, a dollar-quoted string for text), `NULL`, or a bool
// (postgres.js sends JS booleans as bool too).

/** SQL text put into a statement as it is (a column list): never a value from a request. */
export class SqlFragment {
  constructor(readonly text: string) {}
}

export type SqlValue = string | number | boolean | null | undefined | SqlFragment;

/** `value` as a dollar-quoted string constant whose delimiter occurs nowhere in it, nor across its end. */
function dollarQuoted(value: string): string {
  if (value.includes("\u0000")) throw new TypeError("a SQL text value cannot contain NUL");
  for (let n = 0;; n++) {
    const tag = `$v${n || ""}$`;
    // The constant ends at the first delimiter after the opening one: that must be the closing
    // one (a value ending in "$v" would otherwise close it early with its own characters).
    if ((value + tag).indexOf(tag) === value.length) return `${tag}${value}${tag}`;
  }
}

/** One value as a SQL literal of the type a parameter would have had. */
export function sqlLiteral(value: SqlValue): string {
  if (value instanceof SqlFragment) return value.text;
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`a SQL number must be finite, not ${value}`);
    return `'${value}'`;
  }
  if (typeof value === "string") return dollarQuoted(value);
  throw new TypeError(`no SQL literal for a value of type ${typeof value}`);
}

/** The text of a tagged template's statement with its values written in as literals. */
export function inlineStatement(strings: TemplateStringsArray, ...values: SqlValue[]): string {
  let text = strings[0];
  // A space before each literal: after an identifier, `$v$` would be read as part of its name.
  for (let i = 0; i < values.length; i++) text += " " + sqlLiteral(values[i]) + strings[i + 1];
  return text;
}
