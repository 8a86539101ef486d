import { createInterface } from 'node:readline';

type MutableInterface = { _writeToOutput: (s: string) => void };

/**
 * Asks questions on the terminal, one shared reader for all of them so that answers piped in
 * on several lines reach the right question. `hidden` keeps typed characters off the screen.
 */
export function createPrompter() {
  const tty = Boolean(process.stdin.isTTY);
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty });
  const internal = rl as unknown as MutableInterface;
  const write = internal._writeToOutput.bind(rl);
  let hiding = false;
  internal._writeToOutput = (s: string) => (hiding ? undefined : write(s));
  const lines = rl[Symbol.asyncIterator]();

  return {
    async ask(question: string, options: { hidden?: boolean } = {}): Promise<string> {
      process.stdout.write(question);
      hiding = Boolean(options.hidden && tty);
      const next = await lines.next();
      if (hiding) process.stdout.write('\n');
      hiding = false;
      if (next.done) throw new Error(`no answer given to "${question.trim()}"`);
      return String(next.value).trim();
    },
    close: () => rl.close(),
  };
}
