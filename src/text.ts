/**
 * Text that came from a file (a run's name, a directory name, a path inside
 * a config) is printed to terminals and drawn into figures. Control
 * characters in it could move the cursor, retitle the window or hide text
 * (ESC/CSI/OSC sequences, C1 controls, bidirectional overrides), so they are
 * shown as visible escapes instead; and a CSV cell that a spreadsheet would
 * run as a formula is quoted as text.
 */

/** C0 controls, DEL, C1 controls, and the Unicode bidirectional and zero-width formatting characters. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line of text safe for a terminal or a figure: every unsafe character written as \xNN or \uNNNN. */
export function sanitize(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Like sanitize, but keeps line breaks and tabs (for multi-line output such as a table). */
export function sanitizeLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(UNSAFE, (c) => (c === '\t' ? c : escape(c))))
    .join('\n');
}

/** A cell a spreadsheet would evaluate (=, +, -, @, tab or CR first) gets a leading apostrophe, the usual guard. */
export function csvSafe(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}
