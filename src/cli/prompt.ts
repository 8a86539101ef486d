import { createInterface } from 'node:readline';

type MutableInterface = { _writeToOutput: (s: string) => void };

/** Reads one line from the terminal; `hidden` keeps typed characters off the screen (for passwords). */
export function prompt(question: string, options: { hidden?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const tty = Boolean(process.stdin.isTTY);
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty });
    if (options.hidden && tty) {
      const internal = rl as unknown as MutableInterface;
      const write = internal._writeToOutput.bind(rl);
      internal._writeToOutput = (s: string) => write(s.startsWith(question) ? question : '');
    }
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      if (options.hidden && tty) process.stdout.write('\n');
      resolve(answer.trim());
    });
    rl.on('close', () => {
      if (!answered) reject(new Error(`no answer given to "${question.trim()}"`));
    });
  });
}
