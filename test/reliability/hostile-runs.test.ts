/**
 * `bnrun compare` on run directories a hostile user or a crash prepared:
 * escape sequences in names and directory names never reach the terminal,
 * CSV cells cannot run as spreadsheet formulas, impossible values and NUL
 * bytes are called corrupt, a FIFO is not waited on, and none of it stops the
 * other runs from being compared and drawn. Through the real CLI.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bnrun, ROOT } from '../cli';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'results');
const ESC = '\u001b';
/** A name that would clear the screen, retitle the terminal (OSC) and hide itself with a bidi override. */
const HOSTILE = `=HYPERLINK("x")${ESC}[2J${ESC}]0;owned\u0007\u202ehidden\u009b31m`;

let tmp: string;
let runs: string;

function addRun(dirName: string, from: string, patch: (dir: string) => void = () => {}): string {
  const dir = path.join(runs, dirName);
  fs.cpSync(path.join(FIXTURES, from), dir, { recursive: true });
  patch(dir);
  return dir;
}

function setName(dir: string, name: string): void {
  const file = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(file, JSON.stringify({ ...cfg, name }));
}

/** No control character other than newline and tab, anywhere. */
function assertClean(text: string, what: string): void {
  const bad = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.exec(text);
  assert.equal(bad, null, `${what} holds control character ${JSON.stringify(bad?.[0])}: ${JSON.stringify(text.slice(0, 400))}`);
}

describe('compare on hostile and corrupt run directories', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-hostile-'));
    runs = path.join(tmp, 'results');
    fs.mkdirSync(runs);
    addRun('baseline', 'mnist-baseline');
    addRun('bn', 'mnist-bn-s1');
    addRun('hostile-name', 'mnist-bn-s2', (d) => setName(d, HOSTILE));
    // Without a name in config.json, a run is named after its directory: a hostile directory name then.
    addRun(`dir-${ESC}]0;title\u0007-${ESC}[31m`, 'mnist-bn-lr5', (d) => {
      const file = path.join(d, 'config.json');
      const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      delete cfg.name;
      fs.writeFileSync(file, JSON.stringify(cfg));
    });
    addRun('acc-above-one', 'mnist-bn-s2', (d) => {
      setName(d, 'acc-above-one');
      fs.appendFileSync(path.join(d, 'metrics.csv'), '900,0.5,0.1,0.1,1.7,9,100,\n');
    });
    addRun('negative-step', 'mnist-bn-s2', (d) => {
      setName(d, 'negative-step');
      fs.appendFileSync(path.join(d, 'metrics.csv'), '-100,0.5,0.1,0.1,0.5,9,100,\n');
    });
    addRun('nul-bytes', 'mnist-bn-s2', (d) => {
      setName(d, 'nul-bytes');
      fs.writeFileSync(path.join(d, 'metrics.csv'), Buffer.alloc(4096));
    });
    addRun('fifo', 'mnist-bn-s2', (d) => {
      setName(d, 'fifo');
      fs.rmSync(path.join(d, 'metrics.csv'));
      assert.equal(spawnSync('mkfifo', [path.join(d, 'metrics.csv')]).status, 0, 'mkfifo');
    });
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('prints the table and figures with every name escaped, and says which runs are corrupt', () => {
    const figures = path.join(tmp, 'figures');
    const r = bnrun(['compare', runs, '--plots', figures]);
    assert.equal(r.status, 0, r.stderr);
    assertClean(r.stdout, 'stdout');
    assertClean(r.stderr, 'stderr');
    // The hostile run is compared, its name shown with visible escapes.
    assert.ok(r.stdout.includes('\\x1b[2J'), r.stdout);
    assert.ok(r.stdout.includes('\\u202e'), r.stdout);
    assert.match(r.stderr, /acc-above-one: skipped: metrics\.csv is corrupt: test_accuracy 1\.7 at step 900 is not in \[0, 1\]/);
    assert.match(r.stderr, /negative-step: skipped: metrics\.csv is corrupt: step -100 is not a step count/);
    assert.match(r.stderr, /nul-bytes: skipped: metrics\.csv is corrupt: a NUL byte at offset 0/);
    assert.match(r.stderr, /fifo: skipped: metrics\.csv is a FIFO \(named pipe\), not a regular file/);
    assert.match(r.stderr, /dir-\\x1b\]0;title\\x07-\\x1b\[31m: config\.json has no name/);
    assert.ok(r.stdout.includes('dir-\\x1b]0;title\\x07-\\x1b[31m'), r.stdout);
    // The figures were drawn despite the names, and hold no control characters either.
    const svgs = fs.readdirSync(figures).filter((f) => f.endsWith('.svg'));
    assert.ok(svgs.length > 0 && fs.readdirSync(figures).some((f) => f.endsWith('.png')), fs.readdirSync(figures).join(' '));
    for (const f of svgs) assertClean(fs.readFileSync(path.join(figures, f), 'utf8'), f);
  });

  it('CSV output quotes cells a spreadsheet would run as formulas', () => {
    const r = bnrun(['compare', runs, '--format', 'csv', '--no-plots']);
    assert.equal(r.status, 0, r.stderr);
    assertClean(r.stdout, 'csv');
    const cells = r.stdout.split('\n').flatMap((line) => line.split(','));
    for (const cell of cells) assert.doesNotMatch(cell.replace(/^"/, ''), /^[=+@]|^-[^0-9]/, `formula cell ${cell}`);
    assert.ok(r.stdout.includes(`'=HYPERLINK`), r.stdout);
  });
});
