/** Batches stdout writes: one write per alert would dominate a replay that alerts a lot. */
export class OutBuffer {
  private parts: string[] = [];
  private bytes = 0;
  private readonly out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream) {
    this.out = out;
  }

  write(text: string): void {
    this.parts.push(text);
    this.bytes += text.length;
    if (this.bytes >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.out.write(this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
  }
}
