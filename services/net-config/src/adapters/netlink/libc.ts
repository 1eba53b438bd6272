/**
 * The handful of libc calls the netlink adapter needs, through bun:ffi. Only this file
 * touches FFI; everything above it speaks Uint8Array and numbers.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const lib = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

const c = lib.symbols;

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const SO_RCVBUF = 8;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const CLONE_NEWNET = 0x40000000;
export const MSG_TRUNC = 0x20;

export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: errno ${errno}`);
    this.name = "SysError";
  }
}

function errno(): number {
  const p = c.__errno_location();
  return p ? read.i32(p, 0) : 0;
}

function check(call: string, rc: number | bigint): number {
  const n = Number(rc);
  if (n < 0) throw new SysError(call, errno());
  return n;
}

export function socket(domain: number, type: number, protocol: number): number {
  return check("socket", c.socket(domain, type, protocol));
}

export function bindNetlink(fd: number): void {
  const sa = new Uint8Array(12);
  new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
  check("bind", c.bind(fd, ptr(sa), sa.length));
}

export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const v = new Int32Array([value]);
  check("setsockopt", c.setsockopt(fd, level, name, ptr(v), 4));
}

export function setRecvTimeout(fd: number, ms: number): void {
  const tv = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1000)]);
  check("setsockopt", c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, ptr(tv), 16));
}

export function send(fd: number, buf: Uint8Array): void {
  const n = check("send", c.send(fd, ptr(buf), buf.length, 0));
  if (n !== buf.length) throw new SysError("send (short)", 0);
}

/** Returns the datagram's real length (may exceed buf.length when truncated). */
export function recv(fd: number, buf: Uint8Array): number {
  return check("recv", c.recv(fd, ptr(buf), buf.length, MSG_TRUNC));
}

export function setns(fd: number): void {
  check("setns", c.setns(fd, CLONE_NEWNET));
}

export function close(fd: number): void {
  c.close(fd);
}
