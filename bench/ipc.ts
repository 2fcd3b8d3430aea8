import { type ChildProcess, fork } from 'node:child_process';

/** A command a child process answers over IPC. */
export type Handler = (args: unknown) => unknown;

interface CallMessage {
  id: number;
  cmd: string;
  args: unknown;
}

interface ReplyMessage {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/**
 * In a child process: answers the parent's calls with `handlers` and tells it `ready` with `info`.
 * The child exits when the parent disconnects, so a crashed parent never leaves servers behind.
 */
export function serve(handlers: Record<string, Handler>, info: unknown): void {
  const send = (message: unknown) => process.send?.(message);
  process.on('message', (message: CallMessage) => {
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message.args);
      })
      .then(
        (value) => send({ id: message.id, ok: true, value } satisfies ReplyMessage),
        (err: unknown) => send({ id: message.id, ok: false, error: String((err as Error)?.stack ?? err) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready: info });
}

/** The parent's handle on a child started with {@link Remote.start}. */
export class Remote<Info> {
  readonly child: ChildProcess;
  readonly info: Info;
  #next = 1;
  #waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();

  private constructor(child: ChildProcess, info: Info) {
    this.child = child;
    this.info = info;
    child.on('message', (message: ReplyMessage) => {
      const waiter = this.#waiting.get(message.id);
      if (!waiter) return;
      this.#waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(message.error));
    });
    child.on('exit', (code) => {
      for (const waiter of this.#waiting.values()) waiter.reject(new Error(`child exited with ${code}`));
      this.#waiting.clear();
    });
  }

  /** Forks `file` (TypeScript, through tsx) and waits for its `ready` message. */
  static start<Info>(file: string, args: string[], execArgv: string[] = []): Promise<Remote<Info>> {
    const child = fork(file, args, { execArgv: ['--import', 'tsx', ...execArgv], stdio: 'inherit' });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`${file} did not start within 30 s`));
      }, 30_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${file} exited with ${code} before it was ready`));
      });
      child.once('message', (message: { ready?: Info }) => {
        clearTimeout(timer);
        resolve(new Remote(child, message.ready as Info));
      });
    });
  }

  call<T>(cmd: string, args?: unknown): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, cmd, args } satisfies CallMessage);
    });
  }

  /** Disconnects and waits for the child to exit (kills it after 5 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    this.child.disconnect();
    await exited;
    clearTimeout(timer);
  }
}
