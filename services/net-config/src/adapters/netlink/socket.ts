/**
 * An rtnetlink socket bound to one network namespace (a netlink socket keeps the namespace
 * it was created in). Requests are synchronous: rtnetlink handles a request inside send(),
 * so its answer is queued before send returns; dumps are filled on each recv.
 */
import { NetConfigError } from "../../core/errors.ts";
import type { NetnsHandle } from "../netns.ts";
import * as libc from "./libc.ts";
import {
  decodeError, decodeMessages, encodeMessage, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
  NLMSG_DONE, NLMSG_ERROR, type Attr, type Message,
} from "./codec.ts";

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 13: "EACCES", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV",
  22: "EINVAL", 34: "ERANGE", 95: "EOPNOTSUPP", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH", 105: "ENOBUFS",
};

export class NetlinkError extends NetConfigError {
  constructor(
    readonly errno: number,
    readonly op: string,
    detail?: string,
  ) {
    const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super("NETLINK_" + (ERRNO_NAMES[errno] ?? "ERROR"), `${op}: ${name}${detail ? ` (${detail})` : ""}`);
  }
}

const RECV_BUFFER = 1 << 18;
const DUMP_ATTEMPTS = 8;
/**
 * One receive buffer for every socket of the process: recv is synchronous and receive()
 * copies the answer out, so no two sockets ever use it at once. One per socket (a pod's
 * wiring opens one) left freed 256 KiB blocks resident in Bun's allocator: net-config sat
 * at 15–16 MiB instead of 12.3–12.5 MiB after a burst of pods in half the memory runs.
 */
const RECV = new Uint8Array(RECV_BUFFER);

export class NetlinkSocket {
  private seq = Math.floor(Math.random() * 1e6);
  private readonly buf = RECV;
  private fd: number | undefined;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** A socket in `ns` (created there, usable from anywhere afterwards). */
  static open(ns: NetnsHandle): NetlinkSocket {
    const fd = ns.within(() => libc.socket(libc.AF_NETLINK, libc.SOCK_RAW | libc.SOCK_CLOEXEC, libc.NETLINK_ROUTE));
    try {
      libc.bindNetlink(fd);
      libc.setsockoptInt(fd, libc.SOL_SOCKET, libc.SO_RCVBUF, 1 << 20);
      libc.setsockoptInt(fd, libc.SOL_NETLINK, libc.NETLINK_CAP_ACK, 1);
      libc.setsockoptInt(fd, libc.SOL_NETLINK, libc.NETLINK_EXT_ACK, 1);
      libc.setRecvTimeout(fd, 5000);
    } catch (err) {
      libc.close(fd);
      throw err;
    }
    return new NetlinkSocket(fd);
  }

  private get handle(): number {
    if (this.fd === undefined) throw new NetConfigError("NETLINK_CLOSED", "netlink socket is closed");
    return this.fd;
  }

  /** Send a request and wait for its ACK; throws NetlinkError on a kernel error. */
  request(op: string, type: number, flags: number, header: Uint8Array, attrs: Attr[]): void {
    const seq = ++this.seq;
    libc.send(this.handle, encodeMessage(type, flags | NLM_F_REQUEST | NLM_F_ACK, seq, header, attrs));
    for (;;) {
      for (const m of this.receive()) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetlinkError(e.errno, op, e.message);
          return;
        }
      }
    }
  }

  /** A GET of one object: its reply, or undefined when the kernel answers ENODEV/ENOENT. */
  get(op: string, type: number, header: Uint8Array, attrs: Attr[]): Message | undefined {
    const seq = ++this.seq;
    libc.send(this.handle, encodeMessage(type, NLM_F_REQUEST, seq, header, attrs));
    for (;;) {
      for (const m of this.receive()) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const e = decodeError(m);
          if (e.errno === 19 || e.errno === 2) return undefined;
          if (e.errno !== 0) throw new NetlinkError(e.errno, op, e.message);
          continue;
        }
        return m;
      }
    }
  }

  /** A dump, retried from scratch while the kernel flags it interrupted (NLM_F_DUMP_INTR). */
  dump(op: string, type: number, header: Uint8Array, attrs: Attr[] = []): Message[] {
    for (let attempt = 1; ; attempt++) {
      const { messages, interrupted } = this.dumpOnce(op, type, header, attrs);
      if (!interrupted) return messages;
      if (attempt >= DUMP_ATTEMPTS) throw new NetConfigError("DUMP_INTERRUPTED", `${op}: dump was interrupted ${attempt} times`);
    }
  }

  private dumpOnce(op: string, type: number, header: Uint8Array, attrs: Attr[]) {
    const seq = ++this.seq;
    libc.send(this.handle, encodeMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq, header, attrs));
    const messages: Message[] = [];
    let interrupted = false;
    for (;;) {
      for (const m of this.receive()) {
        if (m.seq !== seq) continue;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type === NLMSG_DONE) return { messages, interrupted };
        if (m.type === NLMSG_ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetlinkError(e.errno, op, e.message);
          return { messages, interrupted };
        }
        messages.push(m);
      }
    }
  }

  private receive(): Message[] {
    const n = libc.recv(this.handle, this.buf);
    if (n > this.buf.length) throw new NetConfigError("NETLINK_TRUNCATED", `netlink answer of ${n} bytes truncated`);
    // Copy: the buffer is reused by the next recv.
    return decodeMessages(this.buf.slice(0, n), n);
  }

  close(): void {
    if (this.fd !== undefined) libc.close(this.fd);
    this.fd = undefined;
  }
}
