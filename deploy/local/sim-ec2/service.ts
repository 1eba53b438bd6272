/**
 * The simulated EC2 service: the model behind the EC2 Query protocol, with per-account
 * throttling, injected faults and latency, call counters, and timers that settle
 * asynchronous attachments.
 */
import { Hono } from "hono";
import { HANDLERS, isFiltered } from "./actions.ts";
import { Ec2Error } from "./errors.ts";
import { ACTIONS, applyPatch, DEFAULT_FAULTS, seededRandom, type Action, type FaultPatch, type FaultSettings } from "./faults.ts";
import { QueryParams } from "./query.ts";
import type { Ec2Model } from "./state.ts";
import { awsBucketOf } from "../../../shared/aws-ec2-buckets.ts";
import { TokenBuckets } from "./throttle.ts";
import { errorXml, responseXml } from "./xml.ts";

export type CallCounters = Record<string, { ok: number; throttled: number; error: number }>;

const isAction = (a: string): a is Action => (ACTIONS as readonly string[]).includes(a);

export class SimEc2Service {
  faults: FaultSettings = structuredClone(DEFAULT_FAULTS);
  calls: CallCounters = {};
  readonly app = new Hono();
  private readonly buckets: TokenBuckets;
  private random: () => number;
  private timer: { at: number; handle: ReturnType<typeof setTimeout> } | null = null;

  constructor(
    readonly model: Ec2Model,
    faults: FaultPatch = {},
  ) {
    this.buckets = new TokenBuckets(model.now);
    this.random = seededRandom(this.faults.seed);
    this.setFaults({
      attachDelayMs: model.timing.attachDelayMs,
      imdsDelayMs: model.timing.imdsDelayMs,
      describeLagMs: model.timing.describeLagMs,
      deleteAfterDetachMs: model.timing.deleteAfterDetachMs,
      ...faults,
    });
    this.app.post("/", async (c) => {
      const body = await c.req.text();
      const { status, xml } = await this.handle(new URLSearchParams(body));
      return c.body(xml, status as 200, { "content-type": "text/xml;charset=UTF-8" });
    });
    this.app.all("*", (c) => c.body(errorXml("InvalidAction", "Only POST / is supported", crypto.randomUUID()), 400, { "content-type": "text/xml" }));
  }

  setFaults(patch: FaultPatch): void {
    const next = applyPatch(this.faults, patch);
    if (patch.seed !== undefined) this.random = seededRandom(next.seed);
    this.faults = next;
    this.buckets.setScale({ capacity: next.throttling.capacityScale, refill: next.throttling.refillScale });
    this.model.setTiming({
      attachDelayMs: next.attachDelayMs,
      imdsDelayMs: next.imdsDelayMs,
      describeLagMs: next.describeLagMs,
      deleteAfterDetachMs: next.deleteAfterDetachMs,
    });
  }

  resetCounters(): void {
    this.calls = {};
  }

  /** Handles one Query request; never throws. */
  async handle(params: URLSearchParams): Promise<{ status: number; xml: string }> {
    const requestId = crypto.randomUUID();
    const action = params.get("Action") ?? "";
    if (!isAction(action)) {
      const e = action ? new Ec2Error("InvalidAction", `The action ${action} is not valid for this web service.`) : new Ec2Error("MissingParameter", "The request must contain the parameter Action");
      return { status: e.status, xml: errorXml(e.code, e.message, requestId) };
    }
    const counter = (this.calls[action] ??= { ok: 0, throttled: 0, error: 0 });
    const q = new QueryParams(params);
    const fail = (e: Ec2Error) => {
      if (e.code === "RequestLimitExceeded") counter.throttled++;
      else counter.error++;
      return { status: e.status, xml: errorXml(e.code, e.message, requestId) };
    };
    const latency = this.faults.latencyMs[action] ?? 0;
    if (latency > 0) await Bun.sleep(latency);
    try {
      this.model.settle();
      if (this.faults.unauthorized.includes(action))
        throw new Ec2Error("UnauthorizedOperation", `You are not authorized to perform this operation. (${action})`);
      if (this.faults.throttling.enabled && !this.buckets.take(awsBucketOf(action, isFiltered(q))))
        throw new Ec2Error("RequestLimitExceeded", "Request limit exceeded.");
      const injected = this.faults.errors[action];
      if (injected && injected.rate > 0 && this.random() < injected.rate)
        throw new Ec2Error(injected.code, injected.code === "RequestLimitExceeded" ? "Request limit exceeded." : "An internal error has occurred (injected).");
      const payload = HANDLERS[action](this.model, q);
      counter.ok++;
      return { status: 200, xml: responseXml(action, requestId, payload) };
    } catch (e) {
      if (e instanceof Ec2Error) return fail(e);
      return fail(new Ec2Error("InternalError", `An internal error has occurred: ${(e as Error).message}`));
    } finally {
      this.scheduleSettle();
    }
  }

  /** Arms a timer for the next due attachment so it turns "attached" without a request. */
  scheduleSettle(): void {
    const due = this.model.nextDueAt();
    if (due === null) return;
    if (this.timer && this.timer.at <= due) return;
    if (this.timer) clearTimeout(this.timer.handle);
    const handle = setTimeout(() => {
      this.timer = null;
      this.model.settle();
      this.scheduleSettle();
    }, Math.max(0, due - this.model.now()));
    this.timer = { at: due, handle };
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer.handle);
    this.timer = null;
  }
}
