/** What EC2 refuses, with EC2's code; the fake answers it as the port's Ec2CallError with EC2's HTTP status. */
export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "Refusal";
  }
}

/** HTTP status EC2 answers with, per code (400 for the codes not listed). */
export function statusOf(code: string): number {
  if (code === "UnauthorizedOperation") return 403;
  if (code === "InternalError" || code === "InternalFailure") return 500;
  if (code === "RequestLimitExceeded" || code === "ServiceUnavailable" || code === "Unavailable") return 503;
  return 400;
}
